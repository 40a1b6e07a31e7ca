package mutant

import (
	"cmp"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
)

func TestEveryMutantIsInTheCatalog(t *testing.T) {
	var names []string
	for _, m := range append(All(), Dialect()...) {
		names = append(names, m.Name)
		require.NotEmpty(t, m.Bug, m.Name)
		require.NotEmpty(t, m.CaughtBy, m.Name)
	}
	var keys []string
	for k, s := range sabotages() {
		keys = append(keys, k)
		seams := 0
		for _, set := range []bool{s.payer != nil, s.transport != nil, len(s.options) > 0, s.scratchJournal, s.startOverAfter5xx} {
			if set {
				seams++
			}
		}
		require.NotZero(t, seams, "%s sabotages nothing", k)
	}
	slices.Sort(names)
	slices.Sort(keys)
	require.Equal(t, names, keys)
}

// On a healthy server every mutant buys like the reference client: one
// payment, delivered, every request through the Rig's transport. The
// bugs only show when their fault comes.
func TestMutantsBuyNormallyWhenNothingGoesWrong(t *testing.T) {
	for _, name := range names() {
		t.Run(cmp.Or(name, "reference"), func(t *testing.T) {
			w := newWorld(t)
			out, err := w.buy(context.Background(), name, w.env(http.MethodPost, "/svc/a", "k1"))
			require.NoError(t, err)
			require.Equal(t, client.Delivered, out.Result)
			require.Equal(t, []byte("content"), out.Body)
			require.Equal(t, 1, out.Payments)
			require.Equal(t, 1, w.registered())
			require.Equal(t, 2, out.Requests, "a challenge, then the paid request")
			require.Len(t, w.requests(), out.Requests)
			require.Equal(t, out.Requests, w.roundTrips(), "every request went through Rig.Transport")
		})
	}
}

// names is the reference client's name, "", then every mutant's.
func names() []string {
	ns := []string{reference}
	for _, m := range All() {
		ns = append(ns, m.Name)
	}
	return ns
}

func TestPayAfter5xx(t *testing.T) {
	// Every paid request runs and answers 500: the answer is lost.
	fail := func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "boom", http.StatusInternalServerError) }
	t.Run("reference", func(t *testing.T) {
		w := newWorld(t)
		w.serve(w.paywall(price, fail))
		out, err := w.buy(context.Background(), reference, w.env(http.MethodPost, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.PaidNotDelivered, out.Result)
		require.Equal(t, http.StatusInternalServerError, out.Status)
		require.Equal(t, 1, w.registered(), "paid once, kept the preimage")
	})
	t.Run("mutant", func(t *testing.T) {
		w := newWorld(t)
		w.serve(w.paywall(price, fail))
		out, err := w.buy(context.Background(), PayAfter5xx, w.env(http.MethodPost, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.PaidNotDelivered, out.Result)
		require.Equal(t, 2, out.Payments)
		require.Equal(t, 2, w.registered(), "paid a second challenge for the same purchase")
		require.Len(t, w.payer.Succeeded(), 2)
		entries, err := os.ReadDir(w.state)
		require.NoError(t, err)
		for _, e := range entries {
			require.NotContains(t, e.Name(), "mutant-journal-", "the scratch journal is removed at exit")
		}
	})
}

func TestMemoryJournal(t *testing.T) {
	// The first attempt's payment hangs (a held HTLC) until its deadline;
	// the harness then runs the purchase again, as after a crash.
	again := func(t *testing.T, name string) *world {
		w := newWorld(t)
		w.payer.SetDefault(clienttest.Behavior{Hang: true})
		env := w.env(http.MethodGet, "/svc/a", "k1")
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			out, err := w.buy(ctx, name, env)
			cancel()
			require.Error(t, err)
			require.Equal(t, client.ReportUnknown, client.ReportFor(out, err).Outcome, "the payment is in flight")
		}
		return w
	}
	t.Run("reference", func(t *testing.T) {
		w := again(t, reference)
		require.Equal(t, 1, w.registered(), "the second attempt tracks the first payment")
	})
	t.Run("mutant", func(t *testing.T) {
		w := again(t, MemoryJournal)
		calls := w.payer.Calls()
		require.Equal(t, 2, w.registered())
		require.Equal(t, []lntypes.Hash{calls[0].Hash}, calls[1].InFlight, "the second payment started while the first was in flight")
		entries, err := os.ReadDir(w.state)
		require.NoError(t, err)
		require.Empty(t, entries, "nothing is left in the state directory")
	})
}

func TestFailOnTimeout(t *testing.T) {
	t.Run("payer", func(t *testing.T) {
		fake := clienttest.NewPayer()
		fake.SetDefault(clienttest.Behavior{Hang: true})
		bolt11, hash, _ := fake.AddInvoice(price, epoch.Add(time.Hour))
		p := failOnTimeout{Payer: fake, after: 50 * time.Millisecond}
		st, err := p.SendPayment(context.Background(), bolt11, client.SendOptions{})
		require.NoError(t, err, "the timeout is hidden")
		require.Equal(t, client.PayFailed, st.State, "and called a definitive failure")
		require.Equal(t, client.PayInFlight, fake.State(hash), "while the payment is still in flight")
		require.NoError(t, fake.Settle(hash))
		require.Equal(t, client.PaySucceeded, fake.State(hash))

		got, ok := sabotageOf(t, FailOnTimeout).payer(fake).(failOnTimeout)
		require.True(t, ok)
		require.Equal(t, giveUpAfter, got.after)
	})
	t.Run("reference", func(t *testing.T) {
		w := newWorld(t)
		w.payer.SetDefault(clienttest.Behavior{Hang: true})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		out, err := w.buy(ctx, reference, w.env(http.MethodGet, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.ReportUnknown, client.ReportFor(out, err).Outcome)
	})
	t.Run("mutant", func(t *testing.T) {
		w := newWorld(t)
		w.payer.SetDefault(clienttest.Behavior{Hang: true})
		m := sabotageOf(t, FailOnTimeout)
		m.payer = func(p client.Payer) client.Payer { return failOnTimeout{Payer: p, after: 50 * time.Millisecond} }
		out, err := w.buyWith(context.Background(), m, w.env(http.MethodGet, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.ReportFailed, client.ReportFor(out, err).Outcome)
		require.Equal(t, 1, w.registered(), "one payment, then it gives up")
		calls := w.payer.Calls()
		require.NoError(t, w.payer.Settle(calls[0].Hash), "the payment reported failed settles")
	})
}

func TestStripRetryAfter(t *testing.T) {
	t.Run("round-trip", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Retry-After", "7")
			rw.WriteHeader(http.StatusServiceUnavailable)
		}))
		t.Cleanup(srv.Close)
		resp := roundTrip(t, stripRetryAfter{http.DefaultTransport}, srv.URL)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Empty(t, resp.Header.Values("Retry-After"))
	})
	// Two 503s asking for 5s, then the content.
	busy := func(w *world) {
		n := 0
		w.serve(func(rw http.ResponseWriter, r *http.Request) {
			if n++; n <= 2 {
				rw.Header().Set("Retry-After", "5")
				rw.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			ok(rw, r)
		})
	}
	sleeps := func(t *testing.T, name string) []time.Duration {
		w := newWorld(t)
		busy(w)
		out, err := w.buy(context.Background(), name, w.env(http.MethodGet, "/free", "k1"))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Equal(t, 3, out.Requests)
		require.Len(t, w.clock.Sleeps(), 2)
		return w.clock.Sleeps()
	}
	t.Run("reference", func(t *testing.T) {
		for _, d := range sleeps(t, reference) {
			require.GreaterOrEqual(t, d, 5*time.Second)
		}
	})
	t.Run("mutant", func(t *testing.T) {
		for _, d := range sleeps(t, IgnoreRetryAfter) {
			require.Less(t, d, time.Second, "retried on its own backoff")
		}
	})
}

func TestRetry400(t *testing.T) {
	t.Run("round-trip", func(t *testing.T) {
		code := http.StatusBadRequest
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			rw.Header().Set("Retry-After", "1")
			rw.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		resp := roundTrip(t, retry400{http.DefaultTransport}, srv.URL)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "503 Service Unavailable", resp.Status)
		require.Empty(t, resp.Header.Values("Retry-After"))
		code = http.StatusNotFound
		resp = roundTrip(t, retry400{http.DefaultTransport}, srv.URL)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "other statuses pass")
	})
	requests := func(t *testing.T, name string) int {
		w := newWorld(t)
		w.serve(func(rw http.ResponseWriter, _ *http.Request) { http.Error(rw, "bad", http.StatusBadRequest) })
		out, err := w.buy(context.Background(), name, w.env(http.MethodGet, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.Failed, out.Result)
		require.Len(t, w.requests(), out.Requests)
		return out.Requests
	}
	t.Run("reference", func(t *testing.T) {
		require.Equal(t, 1, requests(t, reference), "a 400 is never retried")
	})
	t.Run("mutant", func(t *testing.T) {
		require.Equal(t, client.DefaultRetryPolicy().Attempts, requests(t, Retry400))
	})
}

func TestPayAnyAmount(t *testing.T) {
	const overpriced = 5_000_000 // msat: 5,000 sat against a 1,000 sat cap
	t.Run("reference", func(t *testing.T) {
		w := newWorld(t)
		w.serve(w.paywall(overpriced, ok))
		out, err := w.buy(context.Background(), reference, w.env(http.MethodGet, "/svc/a", "k1"))
		require.Error(t, err)
		require.Equal(t, client.Failed, out.Result)
		require.Equal(t, client.Refused, out.Kind)
		require.Zero(t, w.registered())
	})
	t.Run("mutant", func(t *testing.T) {
		w := newWorld(t)
		w.serve(w.paywall(overpriced, ok))
		out, err := w.buy(context.Background(), PayAnyAmount, w.env(http.MethodGet, "/svc/a", "k1"))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Equal(t, int64(overpriced), out.PaidMsat)
	})
}

func TestStripIdempotencyKey(t *testing.T) {
	t.Run("round-trip", func(t *testing.T) {
		var got []string
		srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got = r.Header.Values("Idempotency-Key")
		}))
		t.Cleanup(srv.Close)
		req, err := http.NewRequest(http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "k1")
		resp, err := stripIdempotencyKey{http.DefaultTransport}.RoundTrip(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Empty(t, got)
		require.Equal(t, "k1", req.Header.Get("Idempotency-Key"), "the caller's request is untouched")
	})
	keys := func(t *testing.T, name string) []string {
		w := newWorld(t)
		out, err := w.buy(context.Background(), name, w.env(http.MethodPost, "/svc/order", "order-1"))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		var ks []string
		for _, r := range w.requests() {
			ks = append(ks, r.IdemKey)
		}
		return ks
	}
	t.Run("reference", func(t *testing.T) {
		require.Equal(t, []string{"order-1", "order-1"}, keys(t, reference))
	})
	t.Run("mutant", func(t *testing.T) {
		require.Equal(t, []string{"", ""}, keys(t, NoIdempotencyKey))
	})
}

func TestNoTokenReuse(t *testing.T) {
	// Two purchases of one per-token service.
	buyTwo := func(t *testing.T, name string) (*world, *client.Outcome) {
		w := newWorld(t)
		out, err := w.buy(context.Background(), name, w.env(http.MethodGet, "/svc/a", "k1"))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		out, err = w.buy(context.Background(), name, w.env(http.MethodGet, "/svc/b", "k2"))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		return w, out
	}
	t.Run("reference", func(t *testing.T) {
		w, second := buyTwo(t, reference)
		require.True(t, second.Reused)
		require.Equal(t, 1, w.registered())
	})
	t.Run("mutant", func(t *testing.T) {
		w, second := buyTwo(t, NoTokenReuse)
		require.False(t, second.Reused)
		require.Equal(t, 2, w.registered(), "paid again for a service it held a token for")
	})
}

func roundTrip(t *testing.T, rt http.RoundTripper, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp
}
