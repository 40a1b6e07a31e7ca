package check

import (
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// PriceCap: the client pays only invoices it should. No payment, in any
// state (dispatching is paying), for an amountless invoice, for an invoice
// whose macaroon commits to another hash, or above the purchase's price
// cap; and the succeeded payments, fees included, stay within the plan's
// budget. Where a recorder on the client-lnd link saw the client's
// payment requests (Truth.PayRequests), a request LND refused before any
// payment existed is judged the same way, an expired invoice included:
// asking is paying, whether or not the node went along.
type PriceCap struct{}

func (PriceCap) Name() string { return "price-cap" }

func (c PriceCap) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	n := 0
	for _, k := range x.keys {
	payments:
		for _, p := range x.payments[k] {
			n++
			ch := x.owner[norm(p.Hash)]
			why := unpayable(ch, ch.AmountMsat, p.ValueMsat, x.plan[k].MaxCostMsat)
			if why == "" {
				continue payments
			}
			vs = append(vs, violation{
				purchase: k,
				hashes:   []string{p.Hash},
				events:   x.events(k, x.paymentSpan(p)),
				msg:      fmt.Sprintf("purchase %s dispatched payment %s (%s) for %s", k, history.Short(p.Hash), p.Status, why),
			})
		}
	}
	vs = append(vs, x.refusedRequests()...)
	if v, ok := x.overBudget(); ok {
		vs = append(vs, v)
	}
	summary := fmt.Sprintf("%s within the caps", plural(n, "payment", "payments"))
	if t.Plan.BudgetMsat > 0 {
		summary += " and the budget of " + msat(t.Plan.BudgetMsat)
	}
	return verdict(c.Name(), vs, summary)
}

// unpayable says why the invoice of challenge ch must not be paid: it is
// amountless (invoiceMsat 0), its macaroon commits to another hash, or
// the amount asked is over the purchase's cap; "" when it may be paid.
func unpayable(ch history.Request, invoiceMsat, askedMsat, maxCost int64) string {
	switch {
	case invoiceMsat == 0:
		return "an amountless invoice"
	case ch.MacaroonHash != "" && !sameHash(ch.MacaroonHash, ch.InvoiceHash):
		return fmt.Sprintf("an invoice whose macaroon commits to %s", history.Short(ch.MacaroonHash))
	case maxCost > 0 && askedMsat > maxCost:
		return fmt.Sprintf("%s, above its cap of %s", msat(askedMsat), msat(maxCost))
	}
	return ""
}

// refusedRequests judges the recorded payment requests that left no
// payment at the node (it refused them): each answers a purchase's
// challenge, whose invoice it must not have asked to pay.
func (x *index) refusedRequests() []violation {
	paid := map[string]bool{}
	for _, p := range x.t.Payments {
		paid[norm(p.Hash)] = true
	}
	var vs []violation
	for _, pr := range x.t.PayRequests {
		if !pr.Decoded || paid[norm(pr.Hash)] {
			continue
		}
		chs := x.challenges[norm(pr.Hash)]
		if len(chs) == 0 {
			continue // no challenge of the provider's: not a purchase's invoice
		}
		ch := chs[len(chs)-1]
		k := ch.Purchase
		why := unpayable(ch, pr.AmountMsat, pr.AmountMsat, x.plan[k].MaxCostMsat)
		if why == "" && !pr.Expiry.IsZero() && !pr.Time.Before(pr.Expiry) {
			why = fmt.Sprintf("an invoice expired %s before", pr.Time.Sub(pr.Expiry).Round(time.Millisecond))
		}
		if why == "" {
			continue
		}
		at := x.at(pr.Time)
		vs = append(vs, violation{
			purchase: k,
			hashes:   []string{pr.Hash},
			events:   x.events(k, span{at, at}),
			msg:      fmt.Sprintf("purchase %s asked its node to pay %s (%s; no payment, the call ended %s)", k, why, history.Short(pr.Hash), pr.Status),
		})
	}
	return vs
}

// overBudget finds the succeeded payment, in creation order, that took
// the total spent past the plan's budget.
func (x *index) overBudget() (violation, bool) {
	budget := x.t.Plan.BudgetMsat
	if budget <= 0 {
		return violation{}, false
	}
	var ps []history.Payment
	for _, k := range x.keys {
		ps = append(ps, x.payments[k]...)
	}
	sortPayments(ps)
	var total int64
	var cross *history.Payment
	for i, p := range ps {
		if !succeeded(p) {
			continue
		}
		total += p.ValueMsat + p.FeeMsat
		if total > budget && cross == nil {
			cross = &ps[i]
		}
	}
	if cross == nil {
		return violation{}, false
	}
	k := x.owner[norm(cross.Hash)].Purchase
	return violation{
		purchase: k,
		hashes:   []string{cross.Hash},
		events:   x.events(k, x.paymentSpan(*cross)),
		msg: fmt.Sprintf("payment %s of purchase %s took spending past the budget of %s (%s spent in all)",
			history.Short(cross.Hash), k, msat(budget), msat(total)),
	}, true
}
