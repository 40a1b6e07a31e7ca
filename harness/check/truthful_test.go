package check_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// deliveredWithout: k1 pays, is refused, and claims delivery anyway.
func deliveredWithout() (scene, want) {
	s := paidRefused(deliveredRes("k1", hx(1)))
	return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
}

func TestTruthfulOutcome(t *testing.T) {
	runCases(t, check.TruthfulOutcome{}, []checkCase{
		{"delivered", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			return s, want{validity: check.Valid}
		}},
		{"failed without paying", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(300))
			s.h.report(1, "k1", ms(500), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"failed after a settled payment", func() (scene, want) {
			s, w := lostAfterFailed()
			return s, w
		}},
		{"failed, then paid by a later run", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.h.report(1, "k1", ms(200), failedRes())
			s.h.invoke(2, "k1", ms(300))
			s.t.challenge("k1", ms(400), hx(2))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(500), ms(600))
			s.t.deliver("k1", ms(700), hx(2))
			s.h.report(2, "k1", ms(800), deliveredRes("k1", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"failed on an invoice another purchase paid", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k2", ms(1000))
			s.t.challenge("k2", ms(1100), hx(1)) // reused-invoice: lnd refuses to pay it again
			s.h.report(2, "k2", ms(1200), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"unknown is always truthful", func() (scene, want) {
			return paidRefused(unknownRes()), want{validity: check.Valid}
		}},
		{"delivered without a delivery", deliveredWithout},
		{"delivery recorded a moment after the report", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(300))
			s.h.report(1, "k1", ms(400), deliveredRes("k1", hx(1)))
			s.t.deliver("k1", ms(900), hx(1))
			return s, want{validity: check.Valid}
		}},
		{"delivered long before the delivery", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(300))
			s.h.report(1, "k1", ms(400), deliveredRes("k1", hx(1)))
			s.h.invoke(2, "k1", ms(5000))
			s.t.deliver("k1", ms(5100), hx(1))
			s.h.report(2, "k1", ms(5200), deliveredRes("k1", hx(1)))
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"another body", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.h[1].Value.BodySHA256 = bodyOf("something else")
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"a hash never challenged", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.h[1].Value.PaymentHash = hx(7)
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(7)), events: evs(0, 1)}
		}},
		{"the hash of a token bought by another purchase", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k2", ms(1000))
			s.t.deliver("k2", ms(1100), hx(1))
			s.h.report(2, "k2", ms(1200), deliveredRes("k2", hx(1)))
			return s, want{validity: check.Valid}
		}},
		{"truth incomplete", withErrors(deliveredWithout)},
		{"ledger missing", func() (scene, want) {
			s, _ := deliveredWithout()
			s.t.t.Requests = nil
			return s, want{validity: check.Unknown}
		}},
	})
}
