package check_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

func (b *tb) sideEffect(key, purchase string, at time.Duration, hash string) {
	b.t.SideEffects = append(b.t.SideEffects, history.SideEffect{
		Seq: b.next(), RequestSeq: b.seq - 1, Time: t0.Add(at), Path: "/ops/p/" + purchase, Key: key, Purchase: purchase, PaymentHash: hash,
	})
}

// postedTwice: k1's POST runs twice, once per run, each paid.
func postedTwice() (scene, want) {
	s := newScene("k1")
	s.t.t.Plan.Purchases[0].Service, s.t.t.Plan.Purchases[0].Method = "ops", http.MethodPost
	happy(s.h, s.t, 1, "k1", hx(1), 0)
	s.t.sideEffect("k1", "k1", ms(400), hx(1))
	happy(s.h, s.t, 2, "k1", hx(2), ms(1000))
	s.t.sideEffect("k1", "k1", ms(1400), hx(2))
	return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1), hx(2)), events: evs(0, 1, 2, 3)}
}

func TestIdempotentSideEffects(t *testing.T) {
	runCases(t, check.IdempotentSideEffects{}, []checkCase{
		{"once", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.t.sideEffect("k1", "k1", ms(400), hx(1))
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			s.t.sideEffect("k2", "k2", ms(1400), hx(2))
			return s, want{validity: check.Valid}
		}},
		{"twice for one purchase", postedTwice},
		{"twice for one Idempotency-Key", func() (scene, want) {
			s := newScene("k1", "k2")
			happy(s.h, s.t, 1, "k1", hx(1), 0)
			s.t.sideEffect("k1", "k1", ms(400), hx(1))
			happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
			s.t.sideEffect("k1", "k2", ms(1400), hx(2)) // k2 sent k1's key
			return s, want{validity: check.Invalid, purchase: "k1", hashes: hs(hx(1), hx(2)), events: evs(0, 1)}
		}},
		{"truth incomplete", withErrors(postedTwice)},
	})
}
