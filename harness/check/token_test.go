package check_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// boughtAgain: k1 buys a token of the per-token service and is delivered;
// k2, of the same instance and service, is challenged a second later and
// pays again. mod adjusts the scene before k2 runs.
func boughtAgain(mod func(s scene)) func() (scene, want) {
	return func() (scene, want) {
		s := newScene("k1", "k2")
		happy(s.h, s.t, 1, "k1", hx(1), 0)
		if mod != nil {
			mod(s)
		}
		happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
		return s, want{validity: check.Invalid, purchase: "k2", hashes: hs(hx(2), hx(1)), events: evs(2, 3)}
	}
}

var reboughtToken = boughtAgain(nil)

func TestTokenReuse(t *testing.T) {
	runCases(t, check.TokenReuse{}, []checkCase{
		{"the token served the second purchase", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.h.invoke(2, "k2", ms(1000))
			s.t.deliver("k2", ms(1100), hx(1))
			s.h.report(2, "k2", ms(1200), deliveredRes("k2", hx(1)))
			return s, want{validity: check.Valid}
		}},
		{"paid again while the token was held", reboughtToken},
		{"paid again just before the token expired", func() (scene, want) {
			// Minted at 100ms, lives 3s (less the slack: 2.1s); k2 pays at
			// 1.2s.
			s, w := boughtAgain(func(s scene) { s.t.t.Plan.Services[0].TokenTTL = 3 * time.Second })()
			return s, w
		}},
		{"paid again after the token was refused", func() (scene, want) {
			s, _ := boughtAgain(func(s scene) {
				s.t.request("k2", ms(1050), http.StatusPaymentRequired, func(r *history.Request) {
					r.CredentialToken, r.CredentialValid, r.CredentialError = "tok-"+hx(1)[:8], false, "root key rotated"
				})
			})()
			return s, want{validity: check.Valid}
		}},
		{"a newer token superseded the one never presented, and was refused", func() (scene, want) {
			// k1 and k2 each bought a token; the client keeps k2's, the
			// newer. k3 presents it, is refused, and pays: k1's token,
			// never presented, is not held.
			s := newScene("k1", "k2", "k3")
			// k2 was challenged before k1's delivery, and is delivered
			// after it.
			s.h.invoke(2, "k2", 0)
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.t.challenge("k2", ms(50), hx(2))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(60), ms(600))
			s.t.deliver("k2", ms(700), hx(2))
			s.h.report(2, "k2", ms(800), deliveredRes("k2", hx(2)))
			s.t.request("k3", ms(1250), http.StatusPaymentRequired, func(r *history.Request) {
				r.CredentialToken, r.CredentialValid, r.CredentialError = "tok-"+hx(2)[:8], false, "revoked"
			})
			happy(s.h, s.t, 3, "k3", hx(3), ms(1200))
			return s, want{validity: check.Valid}
		}},
		{"presented another token it held, refused, then paid", func() (scene, want) {
			// k2 presents a token k1's delivery never carried (one it paid
			// for and was never delivered with): refused, it pays.
			s, _ := boughtAgain(func(s scene) {
				s.t.request("k2", ms(1050), http.StatusPaymentRequired, func(r *history.Request) {
					r.CredentialToken, r.CredentialValid, r.CredentialError = "tok-99999999", false, "revoked"
				})
			})()
			return s, want{validity: check.Valid}
		}},
		{"paid again after the token expired", func() (scene, want) {
			// k1's token was minted at 100ms and lives 2s; k2 pays at 2.2s.
			s := newScene("k1", "k2")
			s.t.t.Plan.Services[0].TokenTTL = 2 * time.Second
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			happy(s.h, s.t, 2, "k2", hx(2), 2*time.Second)
			return s, want{validity: check.Valid}
		}},
		{"the provider revoked the token before the payment, never presented", func() (scene, want) {
			s, _ := boughtAgain(func(s scene) {
				s.h.add(history.Event{Time: ms(900), Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "revoke tokens after delivered"})
			})()
			return s, want{validity: check.Valid}
		}},
		{"the provider lost its keys before the payment", func() (scene, want) {
			s, _ := boughtAgain(func(s scene) {
				s.h.add(history.Event{Time: ms(900), Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "restart provider, keys lost"})
			})()
			return s, want{validity: check.Valid}
		}},
		{"a revocation before the token was issued voids nothing", func() (scene, want) {
			s := newScene("k1", "k2")
			s.h.add(history.Event{Time: 0, Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "revoke tokens"})
			happy(s.h, s.t, 1, "k1", hx(1), ms(1))
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			return s, want{validity: check.Invalid, purchase: "k2", hashes: hs(hx(2), hx(1)), events: evs(3, 4)}
		}},
		{"another instance has its own tokens", func() (scene, want) {
			s, _ := boughtAgain(func(s scene) { s.t.t.Plan.Purchases[1].Instance = 1 })()
			return s, want{validity: check.Valid}
		}},
		{"per-request services buy every time", func() (scene, want) {
			s, _ := boughtAgain(func(s scene) {
				for i := range s.t.t.Plan.Purchases {
					s.t.t.Plan.Purchases[i].Service = "ops"
				}
			})()
			return s, want{validity: check.Valid}
		}},
		{"bought at once", func() (scene, want) {
			s := newScene("k1", "k2")
			s.h.invoke(1, "k1", 0)
			s.h.invoke(2, "k2", 0)
			s.t.challenge("k1", ms(100), hx(1))
			s.t.challenge("k2", ms(100), hx(2))
			s.t.pay(hx(1), history.PaymentSucceeded, ms(200), ms(300))
			s.t.pay(hx(2), history.PaymentSucceeded, ms(200), ms(300))
			s.t.deliver("k1", ms(400), hx(1))
			s.t.deliver("k2", ms(400), hx(2))
			s.h.report(1, "k1", ms(500), deliveredRes("k1", hx(1)))
			s.h.report(2, "k2", ms(500), deliveredRes("k2", hx(2)))
			return s, want{validity: check.Valid}
		}},
		{"plan without the service", func() (scene, want) {
			s, _ := reboughtToken()
			s.t.t.Plan.Services = nil
			return s, want{validity: check.Unknown}
		}},
		{"truth incomplete", withErrors(reboughtToken)},
	})
}
