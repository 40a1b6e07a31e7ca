package check

import (
	"fmt"

	"github.com/l402chaos/l402chaos/harness/history"
)

// NoConcurrentPayment: a purchase never dispatches a payment while an
// earlier one of its own is unresolved (in flight, or resolved only after
// the later one was created). Two payments in flight at once can both
// succeed.
type NoConcurrentPayment struct{}

func (NoConcurrentPayment) Name() string { return "no-concurrent-payment" }

func (c NoConcurrentPayment) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	for _, k := range x.keys {
		ps := x.payments[k]
		for j := 1; j < len(ps); j++ {
			later := ps[j]
			for i := 0; i < j; i++ {
				earlier := ps[i]
				r, ok := resolvedAt(earlier)
				if ok && !r.After(later.Created) {
					continue
				}
				state := "still " + earlier.Status
				if ok {
					state = fmt.Sprintf("%s, resolved %s after", earlier.Status, r.Sub(later.Created))
				}
				vs = append(vs, violation{
					purchase: k,
					hashes:   []string{earlier.Hash, later.Hash},
					events:   x.events(k, x.paymentSpan(earlier), x.paymentSpan(later)),
					msg: fmt.Sprintf("purchase %s created payment %s while %s was unresolved (%s)",
						k, history.Short(later.Hash), history.Short(earlier.Hash), state),
				})
				break
			}
		}
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s checked, none while another was unresolved", plural(len(t.Payments)-len(x.unowned), "payment", "payments")))
}
