package check_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// stuck: k1's payment is still in flight after the run.
func stuck() (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.challenge("k1", ms(100), hx(1))
	s.t.pay(hx(1), history.PaymentInFlight, ms(200), 0)
	s.h.report(1, "k1", ms(500), keptRes(hx(1)))
	return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
}

func TestEventualResolution(t *testing.T) {
	runCases(t, check.EventualResolution{}, []checkCase{
		{"delivered and failed", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k2", ms(1000))
			s.h.report(2, "k2", ms(1100), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"paid, not delivered, preimage kept", func() (scene, want) {
			return paidRefused(keptRes(hx(1))), want{validity: check.Valid}
		}},
		{"protocol v1: unknown naming the settled payment", func() (scene, want) {
			return paidRefused(&history.Result{Outcome: history.Unknown, PaymentHash: hx(1), ExitCode: 2}), want{validity: check.Valid}
		}},
		{"protocol v1: unknown naming a payment that did not settle", func() (scene, want) {
			s := paidRefused(&history.Result{Outcome: history.Unknown, PaymentHash: hx(7), ExitCode: 2})
			return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
		}},
		{"payment in flight", stuck},
		{"invoice accepted", func() (scene, want) {
			s := paidRefused(keptRes(hx(1)))
			s.t.t.Invoices[0].State = history.InvoiceAccepted
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"last run unknown", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k1", ms(1000))
			s.h.report(2, "k1", ms(1100), unknownRes())
			return s, want{validity: check.Invalid, purchase: "k1", events: evs(2, 3)}
		}},
		{"last run crashed", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.h.complete(1, "k1", ms(100), history.Info, &history.Result{ExitCode: -1, Killed: true})
			return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
		}},
		{"last run never completed", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			return s, want{validity: check.Invalid, purchase: "k1", events: evs(0)}
		}},
		{"a planned purchase that never ran is not judged", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			return s, want{validity: check.Valid}
		}},
		{"truth incomplete", withErrors(stuck)},
	})
}
