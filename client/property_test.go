package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/lightningnetwork/lnd/lntypes"
	"pgregory.net/rapid"
)

// Server faults the property world can play, one per request.
const (
	srvNormal      = iota
	srvUnavailable // 503
	srvRejectPaid  // 401 to a valid credential
	srvDrop        // close the connection without answering
	srvRechallenge // 402 with a fresh challenge to a valid credential
	srvModes
)

// Crash points: after each journal step, right after SendPayment, and
// (through the fake node's callbacks) while a payment is in flight.
var crashPoints = []string{"intent", "challenge", "dispatched", "sent", "settled", "unpaid", "token", "delivered", "failed", "undelivered"}

// propWorld is an env plus what the property needs to judge it.
type propWorld struct {
	*env
	rt *rapid.T

	smu      sync.Mutex
	srvPlan  []int
	payPlan  []clienttest.Behavior
	calm     bool
	owner    map[lntypes.Hash]string // minted hash -> purchase key
	cancelDo context.CancelFunc
}

func (w *propWorld) nextMode() int {
	w.smu.Lock()
	defer w.smu.Unlock()
	if w.calm || len(w.srvPlan) == 0 {
		return srvNormal
	}
	m := w.srvPlan[0]
	w.srvPlan = w.srvPlan[1:]
	return m
}

func (w *propWorld) challenge(rw http.ResponseWriter, key string) {
	m, err := w.iss.Mint(price)
	if err != nil {
		http.Error(rw, err.Error(), 500)
		return
	}
	w.smu.Lock()
	w.owner[m.Hash] = key
	if !w.calm && len(w.payPlan) > 0 {
		w.payer.Script(m.Hash, w.payPlan[0])
		w.payPlan = w.payPlan[1:]
	}
	w.smu.Unlock()
	for _, h := range clienttest.Headers(m, clienttest.FormatL402) {
		rw.Header().Add("WWW-Authenticate", h)
	}
	rw.WriteHeader(http.StatusPaymentRequired)
}

func (w *propWorld) serve(rw http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	switch w.nextMode() {
	case srvUnavailable:
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	case srvDrop:
		if conn, _, err := rw.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	case srvRejectPaid:
		if r.Header.Get("Authorization") != "" {
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
	case srvRechallenge:
		if r.Header.Get("Authorization") != "" {
			w.challenge(rw, key)
			return
		}
	}
	if _, err := w.iss.Verify(r); err == nil {
		_, _ = io.WriteString(rw, "ok")
		return
	}
	w.challenge(rw, key)
}

func drawBehavior(t *rapid.T, label string) clienttest.Behavior {
	reset := errors.New("connection reset after dispatch")
	switch rapid.IntRange(0, 7).Draw(t, label) {
	case 1:
		return clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_NO_ROUTE"}
	case 2:
		return clienttest.Behavior{Hang: true}
	case 3:
		return clienttest.Behavior{ErrAfterDispatch: reset}
	case 4:
		return clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_TIMEOUT", ErrAfterDispatch: reset}
	case 5:
		return clienttest.Behavior{ErrBeforeDispatch: errors.New("unavailable")}
	case 6:
		return clienttest.Behavior{Hang: true, ErrAfterDispatch: reset}
	default:
		return clienttest.Behavior{}
	}
}

// TestPropertyAtMostOnce runs random purchases against a faulty server
// and node, kills the client at random journal steps and in-flight
// moments, restarts it on the same journal, and recovers. It checks:
// at most one settled payment per key; no payment sent while another of
// the same key was in flight or settled; no purchase reported Failed
// while its key had a settled payment; every settled payment's preimage
// in the journal; the budget accounting exact; and, once the world is
// calm, every key delivered (nothing wedges).
func TestPropertyAtMostOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp("", "client-prop-")
		if err != nil {
			rt.Fatal(err)
		}
		rt.Cleanup(func() { _ = os.RemoveAll(dir) })

		opts := []client.Option{
			client.WithMaxPayments(rapid.IntRange(1, 3).Draw(rt, "maxPayments")),
			client.WithPaidRejectWindow(time.Duration(rapid.IntRange(0, 5).Draw(rt, "rejectWindowSecs")) * time.Second),
			client.WithMaxFee(0),
		}
		w := &propWorld{env: newEnvIn(rt, dir, false, opts...), rt: rt, owner: map[lntypes.Hash]string{}}
		w.setHandler(w.serve)
		w.srvPlan = rapid.SliceOfN(rapid.IntRange(0, srvModes-1), 0, 12).Draw(rt, "server")
		nPay := rapid.IntRange(0, 6).Draw(rt, "nPay")
		for i := 0; i < nPay; i++ {
			w.payPlan = append(w.payPlan, drawBehavior(rt, fmt.Sprintf("pay%d", i)))
		}

		// While a payment hangs, the world decides: settle, fail, give
		// up (the caller's context ends) or die.
		inFlight := func(where string, h lntypes.Hash) {
			switch rapid.IntRange(0, 3).Draw(rt, where) {
			case 0:
				_ = w.payer.Settle(h)
			case 1:
				_ = w.payer.FailPayment(h, "FAILURE_REASON_TIMEOUT")
			case 2:
				w.cancelDo()
			case 3:
				panic(crash{where})
			}
		}
		w.payer.OnSend(func(c clienttest.Call) {
			if w.payer.State(c.Hash) == client.PayInFlight {
				inFlight("onSend", c.Hash)
			} else if rapid.IntRange(0, 9).Draw(rt, "crashOnSend") == 0 {
				panic(crash{"onSend"})
			}
		})
		w.payer.OnWait(func(h lntypes.Hash) { inFlight("onWait", h) })

		nKeys := rapid.IntRange(1, 3).Draw(rt, "keys")
		keyPath := func(k int) string { return fmt.Sprintf("/s%d/item", k%2) }
		// failedWhilePaid is checked after every outcome.
		check := func(out *client.Outcome) {
			if out == nil || out.Result != client.Failed {
				return
			}
			for _, h := range w.payer.Succeeded() {
				if w.ownerOf(h) == out.Key {
					rt.Fatalf("purchase %s reported Failed (%s) while its payment %s had settled", out.Key, out.Reason, h)
				}
			}
		}
		// run does one operation; a crash restarts the client on the
		// same journal, as a new process would.
		run := func(label string, f func(ctx context.Context)) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.cancelDo = cancel
			point := rapid.SampledFrom(append([]string{"", "", "", ""}, crashPoints...)).Draw(rt, label+"Crash")
			w.mu.Lock()
			w.crashAt = point
			w.mu.Unlock()
			crashed := func() (crashed bool) {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(crash); !ok {
							panic(r)
						}
						crashed = true
					}
				}()
				f(ctx)
				return false
			}()
			w.mu.Lock()
			w.crashAt = ""
			w.mu.Unlock()
			if crashed {
				w.restart()
			}
		}

		nOps := rapid.IntRange(1, 10).Draw(rt, "ops")
		for i := 0; i < nOps; i++ {
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case op < 7:
				k := rapid.IntRange(0, nKeys-1).Draw(rt, "key")
				run("do", func(ctx context.Context) {
					out, _ := w.c.Do(ctx, w.post(keyPath(k), fmt.Sprintf("body-%d", k)), fmt.Sprintf("key-%d", k))
					check(out)
				})
			case op == 7:
				run("recover", func(ctx context.Context) {
					outs, _ := w.c.Recover(ctx)
					for _, o := range outs {
						check(o)
					}
				})
			case op == 8:
				w.restart()
			default:
				for _, c := range w.payer.Calls() {
					if w.payer.State(c.Hash) == client.PayInFlight {
						if rapid.Bool().Draw(rt, "resolveSettle") {
							_ = w.payer.Settle(c.Hash)
						} else {
							_ = w.payer.FailPayment(c.Hash, "FAILURE_REASON_TIMEOUT")
						}
					}
				}
			}
		}

		// Calm: settle what hangs, stop faults, restart, recover, and
		// buy every key once more.
		w.smu.Lock()
		w.calm = true
		w.smu.Unlock()
		for _, c := range w.payer.Calls() {
			if w.payer.State(c.Hash) == client.PayInFlight {
				_ = w.payer.Settle(c.Hash)
			}
		}
		w.payer.OnSend(nil)
		w.payer.OnWait(nil)
		w.payer.SetDefault(clienttest.Behavior{})
		w.restart()
		outs, err := w.c.Recover(context.Background())
		if err != nil {
			rt.Fatalf("recover: %v", err)
		}
		for _, o := range outs {
			check(o)
		}
		for k := 0; k < nKeys; k++ {
			key := fmt.Sprintf("key-%d", k)
			out, err := w.c.Do(context.Background(), w.post(keyPath(k), fmt.Sprintf("body-%d", k)), key)
			check(out)
			// A key that was served by another purchase's token and
			// never paid stays unpaid: a completed purchase never pays.
			neverPaid := out != nil && out.Replayed && out.Kind == client.Refused && len(w.settledFor(key)) == 0
			if (err != nil || out.Result != client.Delivered) && !neverPaid {
				rt.Fatalf("calm world: %s not delivered: %v (events %v)\nlogs:\n%s", key, err, w.states(key), w.logs.String())
			}
		}

		w.judge()
	})
}

func (w *propWorld) ownerOf(h lntypes.Hash) string {
	w.smu.Lock()
	defer w.smu.Unlock()
	return w.owner[h]
}

func (w *propWorld) settledFor(key string) []lntypes.Hash {
	var out []lntypes.Hash
	for _, h := range w.payer.Succeeded() {
		if w.ownerOf(h) == key {
			out = append(out, h)
		}
	}
	return out
}

// judge checks the fake node's record and the journal.
func (w *propWorld) judge() {
	rt := w.rt
	settled := map[string][]lntypes.Hash{}
	for _, h := range w.payer.Succeeded() {
		k := w.ownerOf(h)
		settled[k] = append(settled[k], h)
	}
	for k, hs := range settled {
		if len(hs) > 1 {
			rt.Fatalf("key %s paid %d times: %v", k, len(hs), hs)
		}
	}
	for _, c := range w.payer.Calls() {
		k := w.ownerOf(c.Hash)
		if c.Duplicate {
			rt.Fatalf("call %d for %s resent hash %s while %s at the node", c.Seq, k, c.Hash, c.Prior)
		}
		for _, h := range append(append([]lntypes.Hash{}, c.InFlight...), c.Succeeded...) {
			if w.ownerOf(h) == k {
				rt.Fatalf("call %d for %s sent while %s of the same key was in flight or settled", c.Seq, k, h)
			}
		}
	}
	// Every settled payment's preimage is in its purchase's journal.
	for k, hs := range settled {
		evs, err := w.store.Events(k)
		if err != nil {
			rt.Fatal(err)
		}
		found := false
		for _, ev := range evs {
			if ev.State == client.StateSettled && ev.PaymentHash == hs[0].String() && ev.Preimage.Matches(hs[0]) {
				found = true
			}
		}
		if !found {
			rt.Fatalf("key %s: settled payment %s has no preimage in the journal", k, hs[0])
		}
	}
	spent, err := w.store.Spent()
	if err != nil {
		rt.Fatal(err)
	}
	if want := int64(len(w.payer.Succeeded())) * price; spent != want {
		rt.Fatalf("budget says %d msat spent, the node settled %d msat", spent, want)
	}
}
