package check

import (
	"fmt"

	"github.com/l402chaos/l402chaos/harness/history"
)

// NoLostPayment: money that moved bought something, or the client kept
// the proof. Every succeeded payment of a purchase is delivered (the
// provider delivered to the purchase) or the purchase's last report is
// outcome unknown with that payment's hash: the client knows it paid
// and what. That is all the adapter protocol v1 asks
// (docs/adapter-protocol.md); the reference client's paid_not_delivered
// says more, and is not required. A settled payment whose purchase last
// reported "failed", "unknown" without its hash, or nothing usable, is
// lost.
type NoLostPayment struct{}

func (NoLostPayment) Name() string { return "no-lost-payment" }

// Final: a settled payment may yet be delivered once the run heals and
// the purchase is rerun.
func (NoLostPayment) Final() bool { return true }

func (c NoLostPayment) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	settled := 0
	for _, k := range x.keys {
		delivered := len(x.deliveries[k]) > 0
		last, hasLast := x.lastOp(k)
		for _, p := range x.payments[k] {
			if !succeeded(p) {
				continue
			}
			settled++
			if delivered {
				continue
			}
			if hasLast && kept(last, p.Hash) {
				continue
			}
			ev := x.events(k, x.paymentSpan(p))
			if hasLast {
				ev = merge(ev, opEvents(last))
			}
			vs = append(vs, violation{
				purchase: k,
				hashes:   []string{p.Hash},
				events:   ev,
				msg:      fmt.Sprintf("purchase %s: payment %s settled, nothing delivered, and %s", k, history.Short(p.Hash), lastReport(last, hasLast)),
			})
		}
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s delivered or kept", plural(settled, "settled payment", "settled payments")))
}

// kept reports whether op's report says money may have moved and names
// hash: outcome unknown with the payment's hash, paid_not_delivered or
// not.
func kept(op history.Op, hash string) bool {
	if op.Complete == nil || op.Complete.Value == nil {
		return false
	}
	v := op.Complete.Value
	return v.Outcome == history.Unknown && sameHash(v.PaymentHash, hash)
}

// lastReport describes a purchase's last report, for messages.
func lastReport(op history.Op, ok bool) string {
	switch {
	case !ok:
		return "the purchase never ran"
	case op.Complete == nil:
		return fmt.Sprintf("its last run (#%d) never completed", op.Invoke.Index)
	case op.Complete.Value == nil || op.Complete.Value.Outcome == "":
		return fmt.Sprintf("its last report (#%d, %s) says nothing usable", op.Complete.Index, op.Complete.Type)
	}
	v := op.Complete.Value
	s := fmt.Sprintf("its last report (#%d) is outcome %s", op.Complete.Index, v.Outcome)
	if v.PaidNotDelivered {
		s += " paid_not_delivered with hash " + orNone(v.PaymentHash)
	}
	return s
}

func orNone(hash string) string {
	if hash == "" {
		return "(none)"
	}
	return history.Short(hash)
}

// merge unions two sorted index lists.
func merge(a, b []int64) []int64 {
	set := map[int64]bool{}
	for _, i := range a {
		set[i] = true
	}
	for _, i := range b {
		set[i] = true
	}
	return history.Sorted(set)
}
