package client_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
)

func TestDeliversEveryChallengeGeneration(t *testing.T) {
	for name, f := range map[string]clienttest.Format{
		"l402": clienttest.FormatL402, "l402-legacy": clienttest.FormatL402Legacy,
		"lsat": clienttest.FormatLSAT, "aperture": clienttest.FormatAperture,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.iss.SetFormat(f)
			out, err := e.do(e.get("/svc/thing"), "k1")
			require.NoError(t, err)
			require.Equal(t, client.Delivered, out.Result)
			require.Equal(t, 200, out.Status)
			require.Equal(t, "paid content", string(out.Body))
			require.EqualValues(t, price, out.PaidMsat)
			require.True(t, out.Preimage.Matches(out.PaymentHash))
			require.Equal(t, 1, out.Payments)
			require.Equal(t, 1, e.registered())
			require.Equal(t, []string{"intent", "challenge", "dispatched", "settled", "delivered"}, e.states("k1"))
			open, _ := e.store.Unfinished()
			require.Empty(t, open)
			spent, _ := e.store.Spent()
			require.EqualValues(t, price, spent)
		})
	}
}

func TestDoAgainAfterDeliveryNeverPays(t *testing.T) {
	e := newEnv(t)
	first, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.True(t, out.Replayed)
	require.Equal(t, "paid content", string(out.Body))
	require.Equal(t, 1, e.registered())

	// A key served by another purchase's token never pays either.
	_, err = e.do(e.get("/svc/b"), "k2")
	require.NoError(t, err)
	require.NoError(t, e.store.DropToken(e.srv.URL+"/svc", first.PaymentHash.String()))
	out, err = e.do(e.get("/svc/b"), "k2")
	require.Equal(t, client.Failed, out.Result)
	require.Equal(t, client.Refused, client.KindOf(err))
	require.Equal(t, 1, e.registered())

	// Once its own credential is refused, a paid key is spent: no second
	// payment, and it is never reported Failed.
	e.iss.Revoke(first.PaymentHash)
	out, err = e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.PaidNotDelivered, out.Result)
	require.Equal(t, client.CredentialRejected, client.KindOf(err))
	require.True(t, out.Preimage.Matches(first.PaymentHash))
	require.Equal(t, 1, e.registered())
}

func TestKeyReusedForAnotherRequestIsRefused(t *testing.T) {
	e := newEnv(t)
	_, err := e.do(e.post("/svc/a", "one"), "k")
	require.NoError(t, err)
	out, err := e.do(e.post("/svc/a", "two"), "k")
	require.Error(t, err)
	require.Equal(t, client.Permanent, out.Kind)
	require.Equal(t, 1, e.registered())
}

func TestTokenReusedPerService(t *testing.T) {
	e := newEnv(t)
	first, err := e.do(e.get("/svc/a"), "k1")
	require.NoError(t, err)
	out, err := e.do(e.get("/svc/b"), "k2")
	require.NoError(t, err)
	require.True(t, out.Reused)
	require.Equal(t, first.PaymentHash, out.PaymentHash)
	require.Zero(t, out.Payments)
	require.Equal(t, []string{"intent", "token", "delivered"}, e.states("k2"))
	// Another service pays for itself.
	_, err = e.do(e.get("/other/a"), "k3")
	require.NoError(t, err)
	require.Equal(t, 2, e.registered())
}

func TestTokenTTLExpiryRechallenges(t *testing.T) {
	e := newEnv(t, client.WithTokenTTL(time.Minute))
	_, err := e.do(e.get("/svc/a"), "k1")
	require.NoError(t, err)
	e.clock.Advance(2 * time.Minute)
	out, err := e.do(e.get("/svc/a"), "k2")
	require.NoError(t, err)
	require.False(t, out.Reused)
	require.Equal(t, 2, e.registered())
}

// A macaroon that expires (aperture's *_valid_until caveat) is dropped
// when the server rejects it, and the fresh challenge is paid.
func TestExpiredMacaroonRechallenged(t *testing.T) {
	e := newEnv(t, client.WithTokenTTL(24*time.Hour))
	e.iss.SetCaveats("svc_valid_until=" + strconv.FormatInt(epoch.Add(10*time.Minute).Unix(), 10))
	_, err := e.do(e.get("/svc/a"), "k1")
	require.NoError(t, err)
	tok, ok, err := e.store.Token(e.srv.URL + "/svc")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, epoch.Add(10*time.Minute).Unix(), tok.Expiry.Unix(), "token expiry follows the caveat")

	// Past the caveat the cached token is not even tried.
	e.clock.Advance(11 * time.Minute)
	e.iss.SetCaveats()
	out, err := e.do(e.get("/svc/a"), "k2")
	require.NoError(t, err)
	require.False(t, out.Reused)
	require.Equal(t, 2, e.registered())
}

func TestRejectedCachedTokenIsDroppedAndChallengePaid(t *testing.T) {
	e := newEnv(t)
	first, err := e.do(e.get("/svc/a"), "k1")
	require.NoError(t, err)
	e.iss.Revoke(first.PaymentHash)
	out, err := e.do(e.get("/svc/a"), "k2")
	require.NoError(t, err)
	require.NotEqual(t, first.PaymentHash, out.PaymentHash)
	require.Equal(t, []string{"intent", "token", "challenge", "dispatched", "settled", "delivered"}, e.states("k2"))
	require.Equal(t, 2, e.registered())
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		opts   []client.Option
		mint   func(e *env) clienttest.Minted
		reason string
	}{
		{"hash mismatch", nil, func(e *env) clienttest.Minted {
			bolt11, _, _ := e.payer.AddInvoice(price, epoch.Add(time.Hour))
			other := lntypes.Preimage{7}
			m, err := e.iss.MintFor(bolt11, other.Hash(), other)
			require.NoError(e.t, err)
			return m
		}, "does not match"},
		{"amountless", nil, func(e *env) clienttest.Minted {
			bolt11, hash, pre := e.payer.AddInvoice(0, epoch.Add(time.Hour))
			m, err := e.iss.MintFor(bolt11, hash, pre)
			require.NoError(e.t, err)
			return m
		}, "amountless"},
		{"overpriced", []client.Option{client.WithMaxCost(price - 1)}, func(e *env) clienttest.Minted {
			m, err := e.iss.Mint(price)
			require.NoError(e.t, err)
			return m
		}, "exceeds"},
		{"expired", nil, func(e *env) clienttest.Minted {
			bolt11, hash, pre := e.payer.AddInvoice(price, epoch.Add(-time.Second))
			m, err := e.iss.MintFor(bolt11, hash, pre)
			require.NoError(e.t, err)
			return m
		}, "expires"},
		{"inside expiry margin", []client.Option{client.WithExpiryMargin(time.Minute)}, func(e *env) clienttest.Minted {
			bolt11, hash, pre := e.payer.AddInvoice(price, epoch.Add(59*time.Second))
			m, err := e.iss.MintFor(bolt11, hash, pre)
			require.NoError(e.t, err)
			return m
		}, "margin"},
		{"over budget", []client.Option{client.WithBudget(price), client.WithMaxFee(1)}, func(e *env) clienttest.Minted {
			m, err := e.iss.Mint(price)
			require.NoError(e.t, err)
			return m
		}, "budget"},
		{"unknown invoice", nil, func(e *env) clienttest.Minted {
			other := lntypes.Preimage{8}
			m, err := e.iss.MintFor("lnnotinthetable", other.Hash(), other)
			require.NoError(e.t, err)
			return m
		}, "decode invoice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			e.setHandler(func(w http.ResponseWriter, r *http.Request) {
				for _, h := range clienttest.Headers(tc.mint(e), clienttest.FormatL402) {
					w.Header().Add("WWW-Authenticate", h)
				}
				w.WriteHeader(http.StatusPaymentRequired)
			})
			out, err := e.do(e.get("/svc/a"), "k")
			require.Error(t, err)
			require.Equal(t, client.Failed, out.Result)
			require.Equal(t, client.Refused, out.Kind)
			require.Equal(t, client.Refused, client.KindOf(err))
			require.Contains(t, out.Reason, tc.reason)
			require.Empty(t, e.payer.Calls(), "nothing was sent")
			evs, err := e.store.Events("k")
			require.NoError(t, err)
			last := evs[len(evs)-1]
			require.Equal(t, client.StateFailed, last.State)
			require.Equal(t, client.Refused, last.Kind)
			require.Contains(t, last.Reason, tc.reason)
			spent, _ := e.store.Spent()
			require.Zero(t, spent)
			dl, _ := e.store.DeadLetters()
			require.Len(t, dl, 1)
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	for name, ra := range map[string]string{
		"seconds": "7",
		"date":    epoch.Add(7 * time.Second).Format(http.TimeFormat),
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			n := 0
			paywall := e.paywall(price, "ok")
			e.setHandler(func(w http.ResponseWriter, r *http.Request) {
				n++
				if n == 1 {
					w.Header().Set("Retry-After", ra)
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				paywall(w, r)
			})
			out, err := e.do(e.get("/svc/a"), "k")
			require.NoError(t, err)
			require.Equal(t, client.Delivered, out.Result)
			sleeps := e.clock.Sleeps()
			require.NotEmpty(t, sleeps)
			require.GreaterOrEqual(t, sleeps[0], 7*time.Second)
		})
	}
}

func TestRetryAfterBeyondLimitGivesUp(t *testing.T) {
	e := newEnv(t)
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.Transient, client.KindOf(err))
	require.Equal(t, client.Failed, out.Result)
	require.Equal(t, 429, out.Status)
	require.Len(t, e.requests(), 1)
	require.Empty(t, e.clock.Sleeps())
}

func TestTransientRetriedWithBackoffThenGivesUp(t *testing.T) {
	e := newEnv(t)
	e.setHandler(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	out, err := e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.Transient, client.KindOf(err))
	require.Equal(t, client.Failed, out.Result)
	require.Len(t, e.requests(), 4, "bounded by the policy's attempts")
	for i, d := range e.clock.Sleeps() {
		ceil := 100 * time.Millisecond << i
		require.LessOrEqual(t, d, min(ceil, time.Second), "full jitter stays under the exponential ceiling")
	}
}

// TestGiveUpCarriesTheServersReason: a purchase that gives up on a 5xx
// says what the server said (the start of its body, one line), so that a
// report shows why, not only the status.
func TestGiveUpCarriesTheServersReason(t *testing.T) {
	e := newEnv(t)
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("{\"error\":\"challenge failure\"}\n" + strings.Repeat("x", 500)))
	})
	_, err := e.do(e.get("/svc/a"), "k")
	require.Error(t, err)
	require.Contains(t, err.Error(), `status 500 after 4 attempts: {"error":"challenge failure"} xxx`)
	require.Contains(t, err.Error(), "x...", "a long body is cut")
	require.NotContains(t, err.Error(), "\n")
}

func TestPermanentErrorsNotRetried(t *testing.T) {
	for _, code := range []int{400, 403, 404, 409, 422} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			e := newEnv(t)
			e.setHandler(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
			out, err := e.do(e.post("/svc/a", "x"), "k")
			require.Equal(t, client.Permanent, client.KindOf(err))
			require.Equal(t, code, out.Status)
			require.Len(t, e.requests(), 1)
			require.Empty(t, e.payer.Calls())
		})
	}
}

func TestConnectionErrorsAreTransient(t *testing.T) {
	e := newEnv(t)
	n := 0
	paywall := e.paywall(price, "ok")
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n <= 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			_ = conn.Close()
			return
		}
		paywall(w, r)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
}

// The bug this project exists to catch: a 5xx after paying must be retried
// with the same credential, never by paying again.
func TestServerErrorsAfterPaymentNeverPayAgain(t *testing.T) {
	e := newEnv(t)
	credentialed := 0
	paywall := e.paywall(price, "finally")
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			credentialed++
			if credentialed <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		paywall(w, r)
	})
	out, err := e.do(e.post("/svc/a", "payload"), "k")
	require.NoError(t, err)
	require.Equal(t, "finally", string(out.Body))
	require.Equal(t, 1, e.registered())

	// Every request of the purchase carried the same key and body.
	for _, s := range e.requests() {
		require.Equal(t, "k", s.IdemKey)
		require.Equal(t, "payload", s.Body)
	}
}

func TestServerErrorsForeverAfterPaymentEndPaidNotDelivered(t *testing.T) {
	e := newEnv(t)
	paywall := e.paywall(price, "x")
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		paywall(w, r)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.Error(t, err)
	require.Equal(t, client.PaidNotDelivered, out.Result)
	require.True(t, out.Preimage.Matches(out.PaymentHash))
	require.Equal(t, 1, e.registered())
	require.NotEqual(t, client.Failed, out.Result)
}

func TestPaidRejectedThenAccepted(t *testing.T) {
	e := newEnv(t)
	rejections := 0
	paywall := e.paywall(price, "ok")
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" && rejections < 2 {
			rejections++
			// A server that has not seen the settlement yet challenges
			// again: the client must not pay this one.
			_, _ = e.iss.Challenge(w, price)
			return
		}
		paywall(w, r)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 1, e.registered())
}

func TestPaidNotDelivered(t *testing.T) {
	e := newEnv(t, client.WithPaidRejectWindow(10*time.Second))
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = e.iss.Challenge(w, price)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.CredentialRejected, client.KindOf(err))
	require.Equal(t, client.PaidNotDelivered, out.Result)
	require.True(t, out.Preimage.Matches(out.PaymentHash))
	require.Equal(t, 1, e.registered())
	var total time.Duration
	for _, d := range e.clock.Sleeps() {
		total += d
	}
	require.LessOrEqual(t, total, 10*time.Second+time.Second, "bounded by the window")
	require.Greater(t, len(e.requests()), 2, "the paid credential was retried")

	evs, _ := e.store.Events("k")
	require.Equal(t, client.StateUndelivered, evs[len(evs)-1].State)
	var settled client.Event
	for _, ev := range evs {
		if ev.State == client.StateSettled {
			settled = ev
		}
	}
	require.Equal(t, out.Preimage, settled.Preimage, "the preimage is kept")
	dl, _ := e.store.DeadLetters()
	require.Len(t, dl, 1)
	require.Equal(t, client.PaidNotDelivered, dl[0].Result)

	// Trying again delivers with the same credential and pays nothing.
	e.setHandler(e.paywall(price, "at last"))
	out, err = e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, "at last", string(out.Body))
	require.Equal(t, 1, e.registered())
	dl, _ = e.store.DeadLetters()
	require.Empty(t, dl, "delivery clears the dead letter")
	require.NoError(t, e.store.Resolve("k"))
}

func TestPaymentFailedThenNewChallenge(t *testing.T) {
	e := newEnv(t, client.WithMaxPayments(2))
	// The first challenge's payment fails with no route; the second
	// challenge's succeeds.
	first := true
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		m, err := e.iss.Mint(price)
		require.NoError(t, err)
		if first {
			first = false
			e.payer.Script(m.Hash, clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_NO_ROUTE"})
		}
		if _, err := e.iss.Verify(r); err == nil {
			_, _ = io.WriteString(w, "ok")
			return
		}
		for _, h := range clienttest.Headers(m, clienttest.FormatL402) {
			w.Header().Add("WWW-Authenticate", h)
		}
		w.WriteHeader(http.StatusPaymentRequired)
	})
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 2, e.registered())
	require.Len(t, e.payer.Succeeded(), 1)
	require.Equal(t, []string{"intent", "challenge", "dispatched", "unpaid", "challenge", "dispatched", "settled", "delivered"}, e.states("k"))
}

func TestPaymentFailedGivesUpAtMaxPayments(t *testing.T) {
	e := newEnv(t, client.WithMaxPayments(1))
	e.payer.SetDefault(clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_INSUFFICIENT_BALANCE"})
	out, err := e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.PaymentFailed, client.KindOf(err))
	require.Equal(t, client.Failed, out.Result)
	require.Contains(t, out.Reason, "INSUFFICIENT_BALANCE")
	spent, _ := e.store.Spent()
	require.Zero(t, spent, "a failed payment gives its budget back")

	// A failed purchase may start again under the same key.
	e.payer.SetDefault(clienttest.Behavior{})
	out, err = e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
}

func TestDuplicateIsTrackedNotFailed(t *testing.T) {
	for _, st := range []client.PayState{client.PaySucceeded, client.PayInFlight} {
		t.Run(st.String(), func(t *testing.T) {
			e := newEnv(t)
			e.setHandler(func(w http.ResponseWriter, r *http.Request) {
				if _, err := e.iss.Verify(r); err == nil {
					_, _ = io.WriteString(w, "ok")
					return
				}
				m, err := e.iss.Challenge(w, price)
				require.NoError(t, err)
				// Someone (an earlier run) already sent this hash.
				e.payer.Preregister(m.Hash, st)
			})
			e.payer.OnWait(func(h lntypes.Hash) { require.NoError(t, e.payer.Settle(h)) })
			out, err := e.do(e.get("/svc/a"), "k")
			require.NoError(t, err)
			require.Equal(t, client.Delivered, out.Result)
			calls := e.payer.Calls()
			require.Len(t, calls, 1)
			require.True(t, calls[0].Duplicate)
		})
	}
}

func TestAmbiguousSendIsResolvedByTracking(t *testing.T) {
	t.Run("error after dispatch", func(t *testing.T) {
		e := newEnv(t)
		e.payer.SetDefault(clienttest.Behavior{ErrAfterDispatch: errors.New("connection reset")})
		out, err := e.do(e.get("/svc/a"), "k")
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Len(t, e.payer.Calls(), 1)
	})
	t.Run("error after dispatch then failed", func(t *testing.T) {
		e := newEnv(t, client.WithMaxPayments(1))
		e.payer.SetDefault(clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_TIMEOUT", ErrAfterDispatch: errors.New("reset")})
		out, err := e.do(e.get("/svc/a"), "k")
		require.Equal(t, client.PaymentFailed, client.KindOf(err))
		require.Equal(t, client.Failed, out.Result)
		require.Contains(t, out.Reason, "TIMEOUT")
	})
	t.Run("never reached the node", func(t *testing.T) {
		e := newEnv(t)
		var hash lntypes.Hash
		e.setHandler(func(w http.ResponseWriter, r *http.Request) {
			if _, err := e.iss.Verify(r); err == nil {
				_, _ = io.WriteString(w, "ok")
				return
			}
			m, err := e.iss.Challenge(w, price)
			require.NoError(t, err)
			if hash == (lntypes.Hash{}) {
				hash = m.Hash
				e.payer.Script(m.Hash, clienttest.Behavior{ErrBeforeDispatch: errors.New("unavailable")})
			}
		})
		out, err := e.do(e.get("/svc/a"), "k")
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		calls := e.payer.Calls()
		require.Len(t, calls, 2)
		require.Equal(t, hash, calls[1].Hash, "the invoice the node never saw is paid again, not a fresh one")
		require.Len(t, e.payer.Succeeded(), 1)
	})
}

// When the caller's context ends while the payment is in flight, the
// outcome is Unknown (never Failed) and the next Do resolves it by
// tracking.
func TestInFlightWhenContextEndsIsUnknown(t *testing.T) {
	e := newEnv(t)
	e.payer.SetDefault(clienttest.Behavior{Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var hash lntypes.Hash
	e.payer.OnSend(func(c clienttest.Call) { hash = c.Hash; cancel() })
	out, err := e.c.Do(ctx, e.get("/svc/a"), "k")
	require.Equal(t, client.Ambiguous, client.KindOf(err))
	require.Equal(t, client.Unknown, out.Result)
	require.Equal(t, client.PayInFlight, e.payer.State(hash))
	dl, _ := e.store.DeadLetters()
	require.Len(t, dl, 1)
	require.Equal(t, client.Unknown, dl[0].Result)
	open, _ := e.store.Unfinished()
	require.Equal(t, []string{"k"}, open)

	// Still in flight: the next Do waits instead of paying.
	e.payer.OnWait(func(h lntypes.Hash) { require.NoError(t, e.payer.FailPayment(h, "FAILURE_REASON_TIMEOUT")) })
	e.payer.SetDefault(clienttest.Behavior{})
	out, err = e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	calls := e.payer.Calls()
	require.Len(t, calls, 2)
	require.Empty(t, calls[1].InFlight, "the second payment waited for the first to fail")
}

func TestIdempotencyKeyOnlyOnUnsafeMethods(t *testing.T) {
	e := newEnv(t)
	_, err := e.do(e.get("/svc/a"), "g")
	require.NoError(t, err)
	for _, s := range e.requests() {
		require.Empty(t, s.IdemKey)
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch} {
		req, err := http.NewRequest(m, e.srv.URL+"/svc/b", strings.NewReader("b"))
		require.NoError(t, err)
		_, err = e.do(req, "key-"+m)
		require.NoError(t, err)
		reqs := e.requests()
		require.Equal(t, "key-"+m, reqs[len(reqs)-1].IdemKey)
	}
}

func TestDerivedKeys(t *testing.T) {
	e := newEnv(t)
	a, err := e.do(e.get("/svc/a"), "")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(a.Key, "auto-"))
	// The same request later is a new purchase (served by the token).
	b, err := e.do(e.get("/svc/a"), "")
	require.NoError(t, err)
	require.NotEqual(t, a.Key, b.Key)
	require.True(t, b.Reused)
	require.Equal(t, 1, e.registered())
	// A different body is a different key.
	c1, err := e.do(e.post("/svc/a", "1"), "")
	require.NoError(t, err)
	c2, err := e.do(e.post("/svc/a", "2"), "")
	require.NoError(t, err)
	require.NotEqual(t, c1.Key[:37], c2.Key[:37])
}

func TestRoundTripper(t *testing.T) {
	e := newEnv(t)
	hc := &http.Client{Transport: e.c.Transport()}
	req := e.post("/svc/a", "hello")
	req.Header.Set("Idempotency-Key", "rt-1")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "paid content", string(body))
	require.Equal(t, []string{"intent", "challenge", "dispatched", "settled", "delivered"}, e.states("rt-1"))

	e.setHandler(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	resp, err = hc.Get(e.srv.URL + "/svc/missing")
	require.NoError(t, err)
	require.Equal(t, 404, resp.StatusCode)
	require.NoError(t, resp.Body.Close())

	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = e.iss.Challenge(w, price)
	})
	_, err = hc.Get(e.srv.URL + "/paid/not-delivered")
	require.Error(t, err)
	require.Equal(t, client.Permanent, client.KindOf(err))
}

func TestLogsNeverShowSecrets(t *testing.T) {
	e := newEnv(t)
	e.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = e.iss.Challenge(w, price)
	})
	out, _ := e.do(e.get("/svc/a"), "k")
	require.Equal(t, client.PaidNotDelivered, out.Result)
	evs, _ := e.store.Events("k")
	var mac []byte
	for _, ev := range evs {
		if ev.Macaroon != nil {
			mac = ev.Macaroon
		}
	}
	require.NotEmpty(t, mac)
	logs := e.logs.String()
	require.Contains(t, logs, "paid but not delivered")
	require.NotContains(t, logs, out.Preimage.String())
	require.NotContains(t, logs, base64.StdEncoding.EncodeToString(mac)[:40])
	require.NotContains(t, logs, out.PaymentHash.String(), "only hash prefixes")
}

func TestInvalidArguments(t *testing.T) {
	e := newEnv(t, client.WithMaxBody(4))
	_, err := e.c.Do(context.Background(), nil, "k")
	require.Error(t, err)
	_, err = e.do(e.post("/svc/a", "too large"), "k")
	require.Equal(t, client.Permanent, client.KindOf(err))
	_, err = e.do(e.get("/svc/a"), strings.Repeat("k", client.MaxKeyLen+1))
	require.Error(t, err)

	_, err = client.New(nil, e.store)
	require.Error(t, err)
	for _, o := range []client.Option{
		client.WithMaxCost(0), client.WithBudget(-1), client.WithMaxFee(-1), client.WithPaymentTimeout(0),
		client.WithExpiryMargin(-1), client.WithPaidRejectWindow(-1), client.WithTokenTTL(-1),
		client.WithMaxPayments(0), client.WithPollInterval(0), client.WithMaxBody(0),
		client.WithRetryPolicy(client.RetryPolicy{}), client.WithLogger(nil), client.WithClock(nil),
		client.WithRand(nil), client.WithHTTPClient(nil), client.WithService(nil),
	} {
		_, err := client.New(e.payer, e.store, o)
		require.Error(t, err)
	}
}

// Goroutines (and clients sharing a store) buying under one key pay once.
func TestConcurrentSameKeyPaysOnce(t *testing.T) {
	e := newEnv(t)
	other, err := client.New(e.payer, e.store, e.opts...)
	require.NoError(t, err)
	const n = 8
	outs := make([]*client.Outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.c
			if i%2 == 1 {
				c = other
			}
			outs[i], errs[i] = c.Do(context.Background(), e.post("/svc/a", "same"), "shared")
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		require.NoError(t, errs[i])
		require.Equal(t, client.Delivered, outs[i].Result)
	}
	require.Equal(t, 1, e.registered())
}

// noWaiter hides the fake node's WaitPayment, so the client polls.
type noWaiter struct {
	*clienttest.Payer
	tracks int
}

func (n *noWaiter) TrackPayment(ctx context.Context, h lntypes.Hash) (client.PaymentStatus, error) {
	n.tracks++
	if n.tracks == 3 {
		if err := n.Payer.Settle(h); err != nil {
			return client.PaymentStatus{}, err
		}
	}
	return n.Payer.TrackPayment(ctx, h)
}

func TestInFlightPolledWithoutWaiter(t *testing.T) {
	e := newEnv(t)
	nw := &noWaiter{Payer: e.payer}
	c, err := client.New(struct{ client.Payer }{nw}, e.store, append(e.opts, client.WithPollInterval(2*time.Second))...)
	require.NoError(t, err)
	e.payer.SetDefault(clienttest.Behavior{Hang: true, ErrAfterDispatch: errors.New("reset")})
	out, err := c.Do(context.Background(), e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 3, nw.tracks)
	require.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second}, e.clock.Sleeps())
}
