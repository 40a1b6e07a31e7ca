package check_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// paidTwice: k1 is killed after paying hx(1) and its restart pays hx(2).
func paidTwice() (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.challenge("k1", ms(100), hx(1))
	s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(300))
	s.h.complete(1, "k1", ms(500), history.Info, &history.Result{ExitCode: -1, Killed: true})
	s.h.invoke(2, "k1", ms(600))
	s.t.challenge("k1", ms(700), hx(2))
	s.t.pay(hx(2), history.PaymentSucceeded, ms(800), ms(900))
	s.t.deliver("k1", ms(1000), hx(2))
	s.h.report(2, "k1", ms(1100), deliveredRes("k1", hx(2)))
	return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1), hx(2)), events: evs(0, 1, 2, 3)}
}

func TestAtMostOnce(t *testing.T) {
	runCases(t, check.AtMostOnce{}, []checkCase{
		{"paid once", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			return s, want{validity: check.Valid}
		}},
		{"failed payment then one success", func() (scene, want) {
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
		{"paid twice across a restart", paidTwice},
		{"a reused invoice belongs to the purchase that paid it", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k2", ms(1000))
			s.t.challenge("k2", ms(1100), hx(1)) // reused-invoice: already paid
			s.t.challenge("k2", ms(1200), hx(2))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(1300), ms(1400))
			s.t.deliver("k2", ms(1500), hx(2))
			s.h.report(2, "k2", ms(1600), deliveredRes("k2", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"first of several violations", func() (scene, want) {
			s, w := paidTwice()
			alsoPaidTwice(s)
			return s, w
		}},
		{"truth incomplete", withErrors(paidTwice)},
		{"payments missing", func() (scene, want) {
			s, _ := paidTwice()
			s.t.t.Payments = nil
			return s, want{validity: check.Unknown}
		}},
	})
}

// alsoPaidTwice adds k2, planned after k1, which pays twice in one run.
func alsoPaidTwice(s scene) {
	s.t.t.Plan.Purchases = append(s.t.t.Plan.Purchases, planned("k2"))
	s.h.invoke(3, "k2", ms(2000))
	s.t.challenge("k2", ms(2100), hx(3))
	s.t.pay(hx(3), history.PaymentSucceeded, ms(2200), ms(2300))
	s.t.challenge("k2", ms(2400), hx(4))
	s.t.pay(hx(4), history.PaymentSucceeded, ms(2500), ms(2600))
	s.h.report(3, "k2", ms(2700), unknownRes())
}

func TestAtMostOnceCountsTheRest(t *testing.T) {
	s, _ := paidTwice()
	alsoPaidTwice(s)
	r := check.AtMostOnce{}.Check(s.h.h, s.t.t)
	require.Equal(t, check.Invalid, r.Validity)
	require.Equal(t, "k1", r.Purchase)
	require.Equal(t, "purchase k1 paid 2 times: 01010101, 02020202; 1 more violation", r.Message)
}
