package check

import (
	"fmt"

	"github.com/l402chaos/l402chaos/harness/history"
)

// AtMostOnce: a purchase pays at most once. Of the payments made for the
// invoices a purchase was challenged with, at most one succeeded.
type AtMostOnce struct{}

func (AtMostOnce) Name() string { return "at-most-once" }

func (c AtMostOnce) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	paid := 0
	for _, k := range x.keys {
		var ok []history.Payment
		for _, p := range x.payments[k] {
			if succeeded(p) {
				ok = append(ok, p)
			}
		}
		if len(ok) > 0 {
			paid++
		}
		if len(ok) < 2 {
			continue
		}
		spans := make([]span, len(ok))
		for i, p := range ok {
			spans[i] = x.paymentSpan(p)
		}
		vs = append(vs, violation{
			purchase: k,
			hashes:   hashesOf(ok),
			events:   x.events(k, spans...),
			msg:      fmt.Sprintf("purchase %s paid %d times: %s", k, len(ok), shorts(hashesOf(ok))),
		})
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s paid once each", plural(paid, "purchase", "purchases")))
}
