package check_test

import (
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// badChallenge: k1 is challenged with hx(1) (changed by mod) and dispatches
// a payment for it that fails.
func badChallenge(mod func(*history.Request)) func() (scene, want) {
	return func() (scene, want) {
		s := newScene("k1")
		s.h.invoke(1, "k1", 0)
		s.t.challenge("k1", ms(100), hx(1), mod)
		s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(300))
		s.h.report(1, "k1", ms(500), failedRes())
		return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
	}
}

var amountless = badChallenge(func(r *history.Request) { r.AmountMsat, r.ChallengeKnob = 0, "amountless-invoice" })

func TestPriceCap(t *testing.T) {
	runCases(t, check.PriceCap{}, []checkCase{
		{"within the cap", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			s.t.t.Plan.BudgetMsat = 2 * price
			return s, want{validity: check.Valid}
		}},
		{"refused a bad challenge", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1), func(r *history.Request) { r.AmountMsat = 0 })
			s.h.report(1, "k1", ms(500), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"amountless", amountless},
		{"asked the node to pay an amountless invoice, refused", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1), func(r *history.Request) { r.AmountMsat = 0 })
			s.t.t.PayRequests = []history.PayRequest{{Time: t0.Add(ms(200)), Method: "/routerrpc.Router/SendPaymentV2", Hash: hx(1), Decoded: true, Status: "InvalidArgument"}}
			s.t.t.PayRequestsRecorded = true
			s.h.report(1, "k1", ms(500), failedRes())
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"asked the node to pay an expired invoice, refused", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.t.PayRequests = []history.PayRequest{{Time: t0.Add(ms(200)), Hash: hx(1), AmountMsat: price, Expiry: t0.Add(ms(150)), Decoded: true, Status: "OK"}}
			s.h.report(1, "k1", ms(500), failedRes())
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"a request the node turned into a payment is judged as the payment", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.t.t.PayRequests = []history.PayRequest{{Time: t0.Add(ms(200)), Hash: hx(1), AmountMsat: price, Expiry: t0.Add(time.Hour), Decoded: true, Status: "OK"}}
			return s, want{validity: check.Valid}
		}},
		{"hash mismatch", badChallenge(func(r *history.Request) { r.MacaroonHash = hx(8) })},
		{"over the cap", func() (scene, want) {
			s, w := badChallenge(func(r *history.Request) { r.AmountMsat = 10 * price })()
			s.t.t.Payments[0].ValueMsat = 10 * price
			s.t.t.Plan.Purchases[0].MaxCostMsat = 5 * price
			return s, w
		}},
		{"over the budget", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			s.t.t.Plan.BudgetMsat = price + price/2
			return s, want{validity: check.Invalid, purchase: "k2", hashes: hs(hx(2)), events: evs(2, 3)}
		}},
		{"fees count against the budget", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.t.t.Payments[0].FeeMsat = 1
			s.t.t.Plan.BudgetMsat = price
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"truth incomplete", withErrors(amountless)},
	})
}
