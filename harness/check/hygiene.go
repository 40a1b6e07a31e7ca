package check

import (
	"fmt"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Hygiene: the network is left clean and the money adds up. No HTLC is
// pending on any channel; the payer's local balance fell by exactly the
// value plus fee of its succeeded payments, and the payee's rose by
// exactly what its settled invoices were paid. Payments created and
// invoices settled before the history began (the network's own set-up)
// are not counted. A channel closed during the run (force-closed to time
// an HTLC out) makes the balances unusable: Unknown.
type Hygiene struct{}

func (Hygiene) Name() string { return "hygiene" }

// Final: HTLCs clear and balances add up only once the run has healed.
func (Hygiene) Final() bool { return true }

func (c Hygiene) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing); bad {
		return unknown(c.Name(), why)
	}
	if len(t.Closed) > 0 {
		// The balances moved on chain; the channels no longer say
		// what the client spent.
		return unknown(c.Name(), fmt.Sprintf("channel %s closed during the run: the money went on chain", t.Closed[0]))
	}
	x := newIndex(h, t)
	var vs []violation
	for _, p := range t.Pending {
		k := x.purchaseOf(p.Hash)
		dir := "outgoing"
		if p.Incoming {
			dir = "incoming"
		}
		vs = append(vs, violation{
			purchase: k, hashes: []string{p.Hash}, events: x.events(k),
			msg: fmt.Sprintf("%s HTLC %s (%s) still pending on node %s channel %s", dir, history.Short(p.Hash), msat(p.AmountMsat), p.Node, p.Channel),
		})
	}
	if len(vs) > 0 {
		return verdict(c.Name(), vs, "")
	}
	for _, node := range []string{t.Payer, t.Payee} {
		_, before := t.Before[node]
		_, after := t.After[node]
		if node == "" || !before || !after {
			return unknown(c.Name(), fmt.Sprintf("no balances before and after the run for node %q", node))
		}
	}

	var spent int64
	for _, p := range t.Payments {
		if succeeded(p) && inRun(t, p.Created) {
			spent += p.ValueMsat + p.FeeMsat
		}
	}
	if fell := t.Before[t.Payer].LocalMsat - t.After[t.Payer].LocalMsat; fell != spent {
		vs = append(vs, violation{msg: fmt.Sprintf("payer %s's local balance fell by %s, its succeeded payments sum to %s (%+d msat)",
			t.Payer, msat(fell), msat(spent), fell-spent)})
	}
	var earned int64
	for _, inv := range t.Invoices {
		if inv.State == history.InvoiceSettled && (inv.Settled.IsZero() || inRunSeconds(t, inv.Settled)) {
			earned += inv.AmtPaidMsat
		}
	}
	if rose := t.After[t.Payee].LocalMsat - t.Before[t.Payee].LocalMsat; rose != earned {
		vs = append(vs, violation{msg: fmt.Sprintf("payee %s's local balance rose by %s, its settled invoices sum to %s (%+d msat)",
			t.Payee, msat(rose), msat(earned), rose-earned)})
	}
	return verdict(c.Name(), vs, fmt.Sprintf("no HTLC pending; payer spent %s, payee earned %s", msat(spent), msat(earned)))
}
