package client_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/stretchr/testify/require"
)

const price = 10_000 // msat

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// seen is one request as the test server saw it.
type seen struct {
	Method, Path, IdemKey, Body string
	Auth                        bool
}

// env is a test world: a fake node, a fake clock, an L402 server on
// loopback, and a client journaling in a temporary directory.
type env struct {
	t     testingT
	clock *clienttest.Clock
	payer *clienttest.Payer
	iss   *clienttest.Issuer
	srv   *httptest.Server
	dir   string
	store *client.Store
	c     *client.Client
	logs  *syncBuffer
	opts  []client.Option

	storeOpts []client.StoreOption

	mu      sync.Mutex
	handler http.HandlerFunc
	reqs    []seen
	crashAt string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testingT is what env needs from *testing.T and *rapid.T.
type testingT interface {
	require.TestingT
	Helper()
	Cleanup(func())
}

// crash is what the hook panics with to stop a client as if its process
// had died at that point.
type crash struct{ point string }

func newEnv(t *testing.T, opts ...client.Option) *env {
	t.Helper()
	return newEnvIn(t, t.TempDir(), true, opts...)
}

// newEnvIn builds an env journaling in dir; fsync only when sync is set.
func newEnvIn(t testingT, dir string, sync bool, opts ...client.Option) *env {
	t.Helper()
	e := &env{t: t, clock: clienttest.NewClock(epoch), payer: clienttest.NewPayer(), dir: dir, logs: &syncBuffer{}}
	e.storeOpts = []client.StoreOption{client.WithOpenTimeout(time.Second)}
	if !sync {
		e.storeOpts = append(e.storeOpts, client.WithoutSync())
	}
	e.iss = clienttest.NewIssuer(e.payer, e.clock)
	e.handler = e.paywall(price, "paid content")
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.reqs = append(e.reqs, seen{Method: r.Method, Path: r.URL.Path, IdemKey: r.Header.Get("Idempotency-Key"), Body: string(body), Auth: r.Header.Get("Authorization") != ""})
		h := e.handler
		e.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.opts = append([]client.Option{
		client.WithClock(e.clock),
		client.WithRand(rand.New(rand.NewPCG(1, 2))),
		client.WithLogger(slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		client.WithHTTPClient(e.srv.Client()),
		client.WithRetryPolicy(client.RetryPolicy{Attempts: 4, Initial: 100 * time.Millisecond, Max: time.Second, MaxElapsed: time.Minute, MaxRetryAfter: 30 * time.Second}),
		client.WithHook(e.hook),
	}, opts...)
	e.open()
	return e
}

func (e *env) hook(point string) {
	e.mu.Lock()
	hit := e.crashAt == point
	if hit {
		e.crashAt = ""
	}
	e.mu.Unlock()
	if hit {
		panic(crash{point})
	}
}

// open opens the store and builds a client on it.
func (e *env) open() {
	e.t.Helper()
	s, err := client.OpenStore(e.dir, e.storeOpts...)
	if s != nil {
		e.t.Cleanup(func() { _ = s.Close() })
	}
	require.NoError(e.t, err)
	c, err := client.New(e.payer, s, e.opts...)
	require.NoError(e.t, err)
	e.store, e.c = s, c
}

// restart abandons the client, as a killed process would, and starts a
// new one on the same journal.
func (e *env) restart() {
	e.t.Helper()
	require.NoError(e.t, e.store.Close())
	e.open()
}

func (e *env) setHandler(h http.HandlerFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handler = h
}

func (e *env) requests() []seen {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]seen(nil), e.reqs...)
}

// paywall serves content to a valid credential and a challenge otherwise.
func (e *env) paywall(amount int64, content string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := e.iss.Verify(r); err == nil {
			_, _ = io.WriteString(w, content)
			return
		}
		_, _ = e.iss.Challenge(w, amount)
	}
}

func (e *env) get(path string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	require.NoError(e.t, err)
	return req
}

func (e *env) post(path, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewBufferString(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "text/plain")
	return req
}

func (e *env) do(req *http.Request, key string) (*client.Outcome, error) {
	return e.c.Do(context.Background(), req, key)
}

// doCrash runs Do and stops it at point as if the process died there. It
// reports whether the crash happened.
func (e *env) doCrash(req *http.Request, key, point string) (crashed bool) {
	e.mu.Lock()
	e.crashAt = point
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.crashAt = ""
		e.mu.Unlock()
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	_, _ = e.do(req, key)
	return false
}

// registered counts SendPayment calls that created a payment.
func (e *env) registered() int {
	n := 0
	for _, c := range e.payer.Calls() {
		if c.Registered {
			n++
		}
	}
	return n
}

func (e *env) states(key string) []string {
	e.t.Helper()
	evs, err := e.store.Events(key)
	require.NoError(e.t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.State.String())
	}
	return out
}
