package check_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// paidRefused: k1 pays hx(1), the provider refuses the credential, and the
// client reports v.
func paidRefused(v *history.Result) scene {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.challenge("k1", ms(100), hx(1))
	s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(300))
	s.t.request("k1", ms(400), 401, func(r *history.Request) {
		r.CredentialHash, r.CredentialToken, r.CredentialError = hx(1), "tok-"+hx(1)[:8], "root key rotated"
	})
	s.h.report(1, "k1", ms(500), v)
	return s
}

func lostAfterFailed() (scene, want) {
	return paidRefused(failedRes()), want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
}

func TestNoLostPayment(t *testing.T) {
	runCases(t, check.NoLostPayment{}, []checkCase{
		{"delivered", func() (scene, want) {
			s := newScene("k1")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			return s, want{validity: check.Valid}
		}},
		{"paid, not delivered, preimage kept", func() (scene, want) {
			return paidRefused(keptRes(hx(1))), want{validity: check.Valid}
		}},
		{"kept after an earlier crash", func() (scene, want) {
			s := paidRefused(&history.Result{ExitCode: -1, Killed: true})
			s.h.invoke(2, "k1", ms(600))
			s.h.report(2, "k1", ms(700), keptRes(hx(1)))
			return s, want{validity: check.Valid}
		}},
		{"settled but reported failed", lostAfterFailed},
		{"protocol v1: unknown with the hash, no paid_not_delivered", func() (scene, want) {
			return paidRefused(&history.Result{Outcome: history.Unknown, PaymentHash: hx(1), ExitCode: 2}), want{validity: check.Valid}
		}},
		{"kept with another hash", func() (scene, want) {
			return paidRefused(keptRes(hx(9))), want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"plain unknown", func() (scene, want) {
			return paidRefused(unknownRes()), want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1)}
		}},
		{"last run crashed", func() (scene, want) {
			s := paidRefused(keptRes(hx(1)))
			s.h.invoke(2, "k1", ms(600))
			s.h.complete(2, "k1", ms(700), history.Info, &history.Result{ExitCode: -1})
			// The payment spans only the first run; the last report is the
			// second's.
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1)), events: evs(0, 1, 2, 3)}
		}},
		{"failed payment lost nothing", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(300))
			s.h.report(1, "k1", ms(500), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"truth incomplete", withErrors(lostAfterFailed)},
	})
}
