package check

import (
	"fmt"

	"github.com/l402chaos/l402chaos/harness/history"
)

// EventualResolution: once every fault is healed, everything settles. No
// payment of the payer is still in flight, no invoice of the payee is
// still accepted (an HTLC held), and every purchase's last run ended OK or
// Fail, or with outcome unknown and paid_not_delivered: paid, preimage
// kept. A last run that is open, Info, or a plain "unknown" leaves its
// purchase unresolved. Purchases that never ran are not judged.
type EventualResolution struct{}

func (EventualResolution) Name() string { return "eventual-resolution" }

// Final: a purchase is due to be resolved only once the run has healed.
func (EventualResolution) Final() bool { return true }

func (c EventualResolution) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	accepted := map[string][]history.Invoice{}
	var acceptedNobody []history.Invoice
	for _, inv := range t.Invoices {
		if inv.State != history.InvoiceAccepted {
			continue
		}
		if k := x.purchaseOf(inv.Hash); k != "" {
			accepted[k] = append(accepted[k], inv)
		} else {
			acceptedNobody = append(acceptedNobody, inv)
		}
	}
	var vs []violation
	inFlight := func(k string, p history.Payment) {
		if p.Status != history.PaymentInFlight && p.Status != history.PaymentInitiated {
			return
		}
		vs = append(vs, violation{
			purchase: k, hashes: []string{p.Hash}, events: x.events(k, x.paymentSpan(p)),
			msg: fmt.Sprintf("payment %s%s is still %s after the run", history.Short(p.Hash), ofPurchase(k), p.Status),
		})
	}
	held := func(k string, inv history.Invoice) {
		at := x.at(inv.Created)
		vs = append(vs, violation{
			purchase: k, hashes: []string{inv.Hash}, events: x.events(k, span{at, forever}),
			msg: fmt.Sprintf("invoice %s%s is still ACCEPTED after the run: its HTLC is held", history.Short(inv.Hash), ofPurchase(k)),
		})
	}
	ran := 0
	for _, k := range x.keys {
		for _, p := range x.payments[k] {
			inFlight(k, p)
		}
		for _, inv := range accepted[k] {
			held(k, inv)
		}
		last, ok := x.lastOp(k)
		if !ok {
			continue
		}
		ran++
		if resolved(last) || knownPaid(last, x.payments[k]) {
			continue
		}
		vs = append(vs, violation{
			purchase: k, events: opEvents(last),
			msg: fmt.Sprintf("purchase %s is unresolved: %s", k, lastReport(last, true)),
		})
	}
	for _, p := range x.unowned {
		inFlight("", p)
	}
	for _, inv := range acceptedNobody {
		held("", inv)
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s resolved, no payment in flight, no HTLC held", plural(ran, "purchase", "purchases")))
}

// resolved reports whether a run's end settles its purchase.
func resolved(op history.Op) bool {
	e := op.Complete
	switch {
	case e == nil:
		return false
	case e.Type == history.OK || e.Type == history.Fail:
		return true
	}
	return e.Value != nil && e.Value.Outcome == history.Unknown && e.Value.PaidNotDelivered
}

// knownPaid reports whether a run ended unknown naming a payment of the
// purchase that settled: the client knows it paid and what, which is
// all the adapter protocol v1 asks of a report (the reference client's
// paid_not_delivered says it too, and resolved takes that alone).
func knownPaid(op history.Op, payments []history.Payment) bool {
	e := op.Complete
	if e == nil || e.Value == nil || e.Value.Outcome != history.Unknown {
		return false
	}
	for _, p := range payments {
		if succeeded(p) && sameHash(p.Hash, e.Value.PaymentHash) {
			return true
		}
	}
	return false
}

func ofPurchase(k string) string {
	if k == "" {
		return ""
	}
	return " of purchase " + k
}
