package check_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// overlapping: k1's first payment is still in flight when, after a
// restart, a second one is created.
func overlapping() (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.challenge("k1", ms(100), hx(1))
	s.h.complete(1, "k1", ms(300), history.Info, &history.Result{ExitCode: -1, Killed: true})
	s.h.invoke(2, "k1", ms(400))
	s.t.challenge("k1", ms(500), hx(2))
	s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(2000)) // resolved late
	s.t.pay(hx(2), history.PaymentSucceeded, ms(600), ms(700))
	s.t.deliver("k1", ms(800), hx(2))
	s.h.report(2, "k1", ms(900), deliveredRes("k1", hx(2)))
	return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1), hx(2)), events: evs(0, 1, 2, 3)}
}

func TestNoConcurrentPayment(t *testing.T) {
	runCases(t, check.NoConcurrentPayment{}, []checkCase{
		{"sequential", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(300))
			s.t.challenge("k1", ms(400), hx(2))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(500), ms(600))
			s.t.deliver("k1", ms(700), hx(2))
			s.h.report(1, "k1", ms(800), deliveredRes("k1", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"a failure without attempts resolves at once", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentFailed, ms(200), 0) // no route: no HTLC, no resolution time
			s.t.challenge("k1", ms(400), hx(2))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(500), ms(600))
			s.t.deliver("k1", ms(700), hx(2))
			s.h.report(1, "k1", ms(800), deliveredRes("k1", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"created while the first resolved later", overlapping},
		{"created while the first is still in flight", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.challenge("k1", ms(150), hx(2))
			s.t.pay(hx(1), history.PaymentInFlight, ms(200), 0)
			s.t.pay(hx(2), history.PaymentFailed, ms(250), ms(300))
			s.h.report(1, "k1", ms(800), unknownRes())
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1), hx(2)), events: evs(0, 1)}
		}},
		{"other purchases may pay at once", func() (scene, want) {
			s := newScene("k1", "k2")
			s.h.invoke(1, "k1", 0)
			s.h.invoke(2, "k2", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.challenge("k2", ms(100), hx(2))
			s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(400))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(210), ms(400))
			s.t.deliver("k1", ms(500), hx(1))
			s.t.deliver("k2", ms(500), hx(2))
			s.h.report(1, "k1", ms(600), deliveredRes("k1", hx(1)))
			s.h.report(2, "k2", ms(600), deliveredRes("k2", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"truth incomplete", withErrors(overlapping)},
	})
}
