package mutant

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/stretchr/testify/require"
)

// price is what the test paywall charges, in msat: 100 sat.
const price = 100_000

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// reference is the name of the reference client, unsabotaged.
const reference = ""

// seen is one request as the test server saw it.
type seen struct {
	Method, Path, IdemKey string
	Auth                  bool
}

// world is an L402 server on loopback over a fake node (clienttest), a
// fake clock, and a state directory: enough to run a purchase attempt
// through Buy exactly as the command does, without Lightning. Every
// request of the client goes through a transport that counts it.
type world struct {
	t     *testing.T
	clock *clienttest.Clock
	payer *clienttest.Payer
	iss   *clienttest.Issuer
	srv   *httptest.Server
	state string

	mu      sync.Mutex
	handler http.HandlerFunc
	reqs    []seen
	trips   int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clock: clienttest.NewClock(epoch), payer: clienttest.NewPayer(), state: t.TempDir()}
	w.iss = clienttest.NewIssuer(w.payer, w.clock)
	w.handler = w.paywall(price, ok)
	w.srv = httptest.NewServer(http.HandlerFunc(w.handle))
	t.Cleanup(w.srv.Close)
	return w
}

// handle records r and answers it with the current handler.
func (w *world) handle(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.reqs = append(w.reqs, seen{Method: r.Method, Path: r.URL.Path, IdemKey: r.Header.Get("Idempotency-Key"), Auth: r.Header.Get("Authorization") != ""})
	h := w.handler
	w.mu.Unlock()
	h(rw, r)
}

// ok answers 200 "content".
func ok(rw http.ResponseWriter, _ *http.Request) { _, _ = rw.Write([]byte("content")) }

// paywall serves paid with a valid credential and challenges for msat
// without one.
func (w *world) paywall(msat int64, paid http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if _, err := w.iss.Verify(r); err == nil {
			paid(rw, r)
			return
		}
		if _, err := w.iss.Challenge(rw, msat); err != nil {
			w.t.Errorf("challenge: %v", err)
		}
	}
}

func (w *world) serve(h http.HandlerFunc) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.handler = h
}

func (w *world) requests() []seen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]seen(nil), w.reqs...)
}

// roundTrips is how many requests went through the Rig's transport.
func (w *world) roundTrips() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trips
}

// RoundTrip counts req and sends it on over the network.
func (w *world) RoundTrip(req *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.trips++
	w.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// env is a purchase of path under key, capped at 1,000 sat.
func (w *world) env(method, path, key string) client.AdapterEnv {
	return client.AdapterEnv{
		URL: w.srv.URL + path, Method: method, Key: key, StateDir: w.state,
		MaxCostSat: 1000, Timeout: 10 * time.Second,
	}
}

// rig runs env on the world's fake node, clock and counting transport.
func (w *world) rig(env client.AdapterEnv) Rig {
	return Rig{
		Env: env, Payer: w.payer, Transport: w, Log: regtesttest.Logger(w.t),
		Options: []client.Option{client.WithClock(w.clock), client.WithRand(rand.New(rand.NewPCG(1, 2)))},
	}
}

// buy runs one purchase attempt of the named mutant ("" is the
// reference client) through Buy.
func (w *world) buy(ctx context.Context, name string, env client.AdapterEnv) (*client.Outcome, error) {
	return Buy(ctx, name, w.rig(env))
}

// buyWith runs one purchase attempt with m, a sabotage a test adjusted.
func (w *world) buyWith(ctx context.Context, s sabotage, env client.AdapterEnv) (*client.Outcome, error) {
	return s.buy(ctx, w.rig(env))
}

// registered is how many payments the fake node accepted.
func (w *world) registered() int {
	n := 0
	for _, c := range w.payer.Calls() {
		if c.Registered {
			n++
		}
	}
	return n
}

func sabotageOf(t *testing.T, name string) sabotage {
	t.Helper()
	s, ok := sabotages()[name]
	require.True(t, ok, "no sabotage for %s", name)
	return s
}
