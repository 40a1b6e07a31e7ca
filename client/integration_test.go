package client_test

// Integration tests of the reference client against a real regtest
// network and the real fake provider:
//
//	client (alice's LNDPayer) ──HTTP──▶ fakeprovider ──invoices──▶ bob
//	      │                                │
//	      └─ journal (t.TempDir)           └─ ledger: ground truth
//
// Every test asserts the client's Outcome and then the ground truth: the
// provider's ledger (invoices and their states, side effects, deliveries,
// requests) and alice's payments as lnd lists them.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
)

// The timeouts and retry schedule of the live tests, in one place.
const (
	// liveTestTimeout bounds one test's purchases and ground-truth reads.
	liveTestTimeout = 2 * time.Minute
	// liveHTTPTimeout bounds one HTTP exchange (an expired-invoice
	// challenge is held back until the invoice lapses, about 2s).
	liveHTTPTimeout = 30 * time.Second
	// livePayTimeout bounds route finding for one payment.
	livePayTimeout = 30 * time.Second
	// livePaidRejectWindow is how long a paid credential is retried while
	// the provider rejects it, unless a test says otherwise.
	livePaidRejectWindow = 15 * time.Second
	// liveMaxCost is the per-purchase cap: above the default services'
	// prices (data 100 sat, ops 250 sat), below an overpriced invoice's
	// ten times the price.
	liveMaxCost = 300_000 // msat
)

// liveRetry is short so that retries cost little; MaxRetryAfter leaves
// room for the provider's 1s Retry-After.
var liveRetry = client.RetryPolicy{
	Attempts:      4,
	Initial:       50 * time.Millisecond,
	Max:           500 * time.Millisecond,
	MaxElapsed:    20 * time.Second,
	MaxRetryAfter: 5 * time.Second,
}

// One regtest network serves every live test and benchmark of the
// package; TestMain closes it.
var (
	liveOnce sync.Once
	liveNet  *regtest.Network
	liveErr  error
)

// liveNetwork starts (once) and returns the shared network. It never
// skips: a network that does not start fails the caller.
func liveNetwork(tb testing.TB) *regtest.Network {
	tb.Helper()
	liveOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), regtesttest.StartTimeout)
		defer cancel()
		liveNet, liveErr = regtest.Start(ctx, regtest.WithSnapshot(true))
	})
	require.NoError(tb, liveErr, "start regtest network")
	return liveNet
}

func TestMain(m *testing.M) {
	code := m.Run()
	if liveNet != nil {
		_ = liveNet.Close()
	}
	os.Exit(code)
}

// live is one test's world: its own provider on bob, its own journal, a
// client paying from alice.
type live struct {
	t     *testing.T
	ctx   context.Context
	alice *regtest.Node
	p     *fakeprovider.Provider
	ctl   *fakeprovider.Control
	store *client.Store
	c     *client.Client
}

func newLive(t *testing.T, cfg fakeprovider.Config, opts ...client.Option) *live {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs a regtest network")
	}
	n := liveNetwork(t)
	ctx, cancel := context.WithTimeout(context.Background(), liveTestTimeout)
	t.Cleanup(cancel)
	p := fakeprovidertest.Start(t, n.Node(regtest.Bob), cfg)
	store, err := client.OpenStore(t.TempDir())
	if store != nil {
		t.Cleanup(func() { _ = store.Close() })
	}
	require.NoError(t, err)
	alice := n.Node(regtest.Alice)
	payer, err := client.NewLNDPayer(alice.LN(), alice.Router())
	require.NoError(t, err)
	opts = append([]client.Option{
		client.WithLogger(regtesttest.Logger(t)),
		client.WithHTTPClient(&http.Client{Timeout: liveHTTPTimeout}),
		client.WithRetryPolicy(liveRetry),
		client.WithMaxCost(liveMaxCost),
		client.WithPaymentTimeout(livePayTimeout),
		client.WithPaidRejectWindow(livePaidRejectWindow),
	}, opts...)
	c, err := client.New(payer, store, opts...)
	require.NoError(t, err)
	return &live{t: t, ctx: ctx, alice: alice, p: p, ctl: fakeprovidertest.Control(t, p), store: store, c: c}
}

// arm arms a knob on the provider through its control API.
func (l *live) arm(k fakeprovider.Knob) fakeprovider.Knob {
	l.t.Helper()
	armed, err := l.ctl.Arm(l.ctx, k)
	require.NoError(l.t, err)
	return armed
}

// do buys method path as the purchase key.
func (l *live) do(method, path, key string, body []byte) (*client.Outcome, error) {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(l.ctx, method, l.p.URL()+path, rd)
	require.NoError(l.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	out, err := l.c.Do(l.ctx, req, key)
	require.NotNil(l.t, out, "Do returned no outcome: %v", err)
	return out, err
}

// ledger is the provider's ground truth, invoice states read from bob.
func (l *live) ledger() fakeprovider.Snapshot {
	l.t.Helper()
	s, err := l.p.Ledger(l.ctx)
	require.NoError(l.t, err)
	return s
}

// payments are alice's payments (complete or not) for the provider's
// invoices: what money actually moved, or tried to, for this test.
func (l *live) payments(s fakeprovider.Snapshot) []*lnrpc.Payment {
	l.t.Helper()
	resp, err := l.alice.LN().ListPayments(l.ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true})
	require.NoError(l.t, err)
	mine := map[string]bool{}
	for _, inv := range s.Invoices {
		mine[inv.PaymentHash] = true
	}
	var out []*lnrpc.Payment
	for _, p := range resp.Payments {
		if mine[p.PaymentHash] {
			out = append(out, p)
		}
	}
	return out
}

// states are a purchase's journal steps, in order.
func (l *live) states(key string) []string {
	l.t.Helper()
	evs, err := l.store.Events(key)
	require.NoError(l.t, err)
	var out []string
	for _, ev := range evs {
		out = append(out, ev.State.String())
	}
	return out
}

// requireOnePaid checks the ground truth of a purchase that paid once:
// alice has exactly one payment among the provider's invoices, it
// succeeded for the outcome's hash with the outcome's preimage, and it is
// the provider's only settled invoice.
func (l *live) requireOnePaid(out *client.Outcome, s fakeprovider.Snapshot) {
	l.t.Helper()
	t := l.t
	require.Equal(t, 1, out.Payments, "SendPayment calls")
	require.True(t, out.Preimage.Matches(out.PaymentHash), "the outcome's preimage opens its hash")
	pays := l.payments(s)
	require.Len(t, pays, 1, "alice paid the provider once")
	require.Equal(t, lnrpc.Payment_SUCCEEDED, pays[0].Status)
	require.Equal(t, out.PaymentHash.String(), pays[0].PaymentHash)
	require.Equal(t, out.Preimage.String(), pays[0].PaymentPreimage)
	var settled []fakeprovider.InvoiceRecord
	for _, inv := range s.Invoices {
		if inv.State == fakeprovider.InvoiceSettled {
			settled = append(settled, inv)
		}
	}
	require.Len(t, settled, 1, "one invoice settled on bob")
	require.Equal(t, out.PaymentHash.String(), settled[0].PaymentHash)
	require.Equal(t, out.PaidMsat, settled[0].PaidMsat)
}

// requireNothingPaid checks that no money moved: alice has no payment for
// any of the provider's invoices, none settled, nothing delivered.
func (l *live) requireNothingPaid(out *client.Outcome, s fakeprovider.Snapshot) {
	l.t.Helper()
	require.Zero(l.t, out.Payments, "SendPayment calls")
	require.Empty(l.t, l.payments(s), "alice paid nothing to the provider")
	for _, inv := range s.Invoices {
		require.NotEqual(l.t, fakeprovider.InvoiceSettled, inv.State, "invoice %s", inv.PaymentHash)
		require.Zero(l.t, inv.PaidMsat)
	}
	require.Empty(l.t, s.Deliveries)
	require.Empty(l.t, s.SideEffects)
}

func TestLiveHappyPath(t *testing.T) {
	t.Run("get", func(t *testing.T) {
		l := newLive(t, fakeprovider.DefaultConfig())
		out, err := l.do(http.MethodGet, "/data/quote", "get-1", nil)
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Equal(t, http.StatusOK, out.Status)
		require.Equal(t, int64(100_000), out.PaidMsat)
		require.Equal(t, 2, out.Requests, "challenge, then the credentialed request")
		require.Equal(t, []string{"intent", "challenge", "dispatched", "settled", "delivered"}, l.states("get-1"))

		s := l.ledger()
		l.requireOnePaid(out, s)
		require.Len(t, s.Invoices, 1)
		require.Len(t, s.Deliveries, 1)
		require.Equal(t, out.PaymentHash.String(), s.Deliveries[0].PaymentHash)
		require.Equal(t, "/data/quote", s.Deliveries[0].Path)
		require.Empty(t, s.SideEffects, "a GET runs no side effect")
	})
	t.Run("post", func(t *testing.T) {
		l := newLive(t, fakeprovider.DefaultConfig())
		out, err := l.do(http.MethodPost, "/ops/run", "post-1", []byte(`{"n":1}`))
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Equal(t, int64(250_000), out.PaidMsat)

		s := l.ledger()
		l.requireOnePaid(out, s)
		require.Len(t, s.Requests, 2)
		for _, r := range s.Requests {
			require.Equal(t, "post-1", r.Key, "every try carries the Idempotency-Key")
		}
		require.Len(t, s.SideEffects, 1)
		require.Equal(t, "post-1", s.SideEffects[0].Key)
		require.Equal(t, out.PaymentHash.String(), s.SideEffects[0].PaymentHash)
		require.Len(t, s.Deliveries, 1)
		require.Equal(t, "post-1", s.Deliveries[0].Key)
		require.Equal(t, float64(s.SideEffects[0].Seq), operation(t, out.Body), "the client got the side effect's answer")
	})
}

// operation reads the side effect's seq from a POST answer.
func operation(t *testing.T, body []byte) float64 {
	t.Helper()
	var v struct {
		Operation float64 `json:"operation"`
	}
	require.NoError(t, json.Unmarshal(body, &v), "%s", body)
	return v.Operation
}

func TestLiveExpiredInvoiceRefused(t *testing.T) {
	l := newLive(t, fakeprovider.DefaultConfig())
	l.arm(fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice, Times: 1})
	out, err := l.do(http.MethodGet, "/data/x", "expired-1", nil)
	require.Error(t, err)
	require.Equal(t, client.Failed, out.Result)
	require.Equal(t, client.Refused, out.Kind)
	require.Equal(t, client.Refused, client.KindOf(err))
	require.Contains(t, out.Reason, "expires")
	require.NotContains(t, l.states("expired-1"), "dispatched", "nothing was sent to the node")

	s := l.ledger()
	require.Len(t, s.Invoices, 1)
	l.requireNothingPaid(out, s)
}

func TestLiveErrorAfterProcessingRetriedWithSameKey(t *testing.T) {
	l := newLive(t, fakeprovider.DefaultConfig())
	l.arm(fakeprovider.Knob{Kind: fakeprovider.ErrorAfter, Match: fakeprovider.Match{Key: "ea-1"}, Times: 1})
	out, err := l.do(http.MethodPost, "/ops/run", "ea-1", []byte(`{"n":2}`))
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 3, out.Requests, "402, 500 after processing, stored answer")

	s := l.ledger()
	l.requireOnePaid(out, s)
	require.Len(t, s.SideEffects, 1, "the retry did not run the operation again")
	require.Equal(t, float64(s.SideEffects[0].Seq), operation(t, out.Body), "the client got the stored answer")
	require.Len(t, s.Requests, 3)
	var statuses []int
	for _, r := range s.Requests {
		statuses = append(statuses, r.Status)
		require.Equal(t, "ea-1", r.Key)
	}
	require.Equal(t, []int{402, 500, 200}, statuses)
	first, second := s.Requests[1].Credential, s.Requests[2].Credential
	require.NotNil(t, first)
	require.NotNil(t, second)
	require.Equal(t, first.TokenID, second.TokenID, "the retry reused the credential")
	require.Equal(t, out.PaymentHash.String(), second.PaymentHash)
	require.True(t, s.Requests[2].Replayed)
	require.Len(t, s.Deliveries, 1)
	require.True(t, s.Deliveries[0].Replayed)
}

func TestLiveRejectPaid(t *testing.T) {
	t.Run("settle-lag", func(t *testing.T) {
		// The lag window opens once the payment has settled, just before
		// the first credentialed request, however long paying took.
		var armed fakeprovider.Knob
		var armErr error
		var l *live
		l = newLive(t, fakeprovider.DefaultConfig(), client.WithHook(func(point string) {
			if point == "settled" && armed.ID == "" && armErr == nil {
				armed, armErr = l.ctl.Arm(l.ctx, fakeprovider.Knob{Kind: fakeprovider.RejectPaid, Match: fakeprovider.Match{Path: "/data/lag"}, For: fakeprovider.Duration(2 * time.Second)})
			}
		}))
		out, err := l.do(http.MethodGet, "/data/lag", "lag-1", nil)
		require.NoError(t, armErr)
		require.NotEmpty(t, armed.ID, "armed when the payment settled")
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)

		s := l.ledger()
		l.requireOnePaid(out, s)
		require.Len(t, s.Deliveries, 1)
		lagged := 0
		for _, r := range s.Requests {
			if r.Credential == nil {
				continue
			}
			require.Equal(t, out.PaymentHash.String(), r.Credential.PaymentHash, "every try used the paid credential")
			if r.Status == http.StatusPaymentRequired {
				lagged++
				require.Contains(t, r.Credential.Reason, "settle lag")
			}
		}
		require.Positive(t, lagged, "the paid credential was rejected at least once")
		require.GreaterOrEqual(t, s.Deliveries[0].Time.Sub(armed.Armed), 2*time.Second, "delivered once the window passed")
		// Each rejection came with a fresh challenge; none was paid.
		require.Greater(t, len(s.Invoices), 1)
	})
	t.Run("rotate", func(t *testing.T) {
		l := newLive(t, fakeprovider.DefaultConfig(), client.WithPaidRejectWindow(time.Second))
		l.arm(fakeprovider.Knob{Kind: fakeprovider.RejectPaid, Match: fakeprovider.Match{Path: "/data/rot"}, Rotate: true, Times: 1})
		out, err := l.do(http.MethodGet, "/data/rot", "rot-1", nil)
		require.Error(t, err)
		require.Equal(t, client.PaidNotDelivered, out.Result)
		require.Equal(t, client.CredentialRejected, out.Kind)
		require.False(t, out.Preimage == [32]byte{}, "the preimage is kept")

		evs, err := l.store.Events("rot-1")
		require.NoError(t, err)
		require.Equal(t, client.StateUndelivered, evs[len(evs)-1].State)
		var kept bool
		for _, ev := range evs {
			if ev.State == client.StateSettled {
				kept = ev.Preimage == out.Preimage
			}
		}
		require.True(t, kept, "the journal keeps the preimage")
		dead, err := l.store.DeadLetters()
		require.NoError(t, err)
		require.Len(t, dead, 1)
		require.Equal(t, client.PaidNotDelivered, dead[0].Result)

		s := l.ledger()
		l.requireOnePaid(out, s)
		require.Empty(t, s.Deliveries)
		require.Greater(t, len(s.Invoices), 1, "rejections came with fresh challenges, none paid")
	})
}

// A settle lag that ends inside WithPaidRejectWindow is waited out, even
// when the next backoff delay would overshoot the window: the last try is
// made at the window's end, not abandoned one backoff early. The seed fixes
// the jitter: 1.34s, then 2.49s (past the 3s window).
func TestLivePaidRejectWindowHonoured(t *testing.T) {
	const window, lag = 3 * time.Second, 2 * time.Second
	var armed fakeprovider.Knob
	var armErr error
	var l *live
	l = newLive(t, fakeprovider.DefaultConfig(),
		client.WithPaidRejectWindow(window),
		client.WithRetryPolicy(client.RetryPolicy{Attempts: 4, Initial: 2500 * time.Millisecond, Max: 2500 * time.Millisecond, MaxElapsed: 20 * time.Second, MaxRetryAfter: 5 * time.Second}),
		client.WithRand(rand.New(rand.NewPCG(292, 292))),
		client.WithHook(func(point string) {
			if point == "settled" && armed.ID == "" && armErr == nil {
				armed, armErr = l.ctl.Arm(l.ctx, fakeprovider.Knob{Kind: fakeprovider.RejectPaid, Match: fakeprovider.Match{Path: "/data/lag"}, For: fakeprovider.Duration(lag)})
			}
		}))
	out, err := l.do(http.MethodGet, "/data/lag", "window-1", nil)
	require.NoError(t, armErr)
	require.NoError(t, err, "a lag of %s inside a %s window is waited out", lag, window)
	require.Equal(t, client.Delivered, out.Result)

	s := l.ledger()
	l.requireOnePaid(out, s)
	require.Len(t, s.Deliveries, 1)
	first := s.Requests[1] // the first credentialed request
	require.Equal(t, http.StatusPaymentRequired, first.Status)
	require.LessOrEqual(t, s.Deliveries[0].Time.Sub(first.Time), window+500*time.Millisecond, "the last try came at the window's end")
}

func TestLiveRetryAfter(t *testing.T) {
	l := newLive(t, fakeprovider.DefaultConfig())
	l.arm(fakeprovider.Knob{Kind: fakeprovider.RetryAfter, Match: fakeprovider.Match{Path: "/data/ra"}, Status: http.StatusServiceUnavailable, RetryAfter: fakeprovider.Duration(time.Second), Times: 1})
	out, err := l.do(http.MethodGet, "/data/ra", "ra-1", nil)
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)

	s := l.ledger()
	l.requireOnePaid(out, s)
	require.GreaterOrEqual(t, len(s.Requests), 2)
	first, second := s.Requests[0], s.Requests[1]
	require.Equal(t, http.StatusServiceUnavailable, first.Status)
	require.True(t, slices.ContainsFunc(first.Knobs, func(k string) bool { return strings.HasSuffix(k, string(fakeprovider.RetryAfter)) }))
	require.Equal(t, http.StatusPaymentRequired, second.Status)
	// The first request's time is when the provider began it, and the
	// client slept at least 1s after its answer; allow for clock reads.
	require.GreaterOrEqual(t, second.Time.Sub(first.Time), 950*time.Millisecond, "Retry-After honoured")
}

func TestLiveInsufficientFunds(t *testing.T) {
	cfg := fakeprovider.DefaultConfig()
	// Twice the channel's capacity: alice cannot pay it.
	cfg.Services = append(cfg.Services, fakeprovider.Service{Name: "big", PriceSat: 2 * int64(regtest.DefaultCapacity), Pricing: fakeprovider.PerToken})
	l := newLive(t, cfg, client.WithMaxCost(3*int64(regtest.DefaultCapacity)*1000))
	out, err := l.do(http.MethodGet, "/big/x", "big-1", nil)
	require.Error(t, err)
	require.Equal(t, client.Failed, out.Result)
	require.Equal(t, client.PaymentFailed, out.Kind, "reason: %s", out.Reason)

	s := l.ledger()
	pays := l.payments(s)
	require.NotEmpty(t, pays)
	require.Len(t, pays, out.Payments, "every SendPayment reached the node")
	for _, p := range pays {
		require.Equal(t, lnrpc.Payment_FAILED, p.Status)
	}
	for _, inv := range s.Invoices {
		require.NotEqual(t, fakeprovider.InvoiceSettled, inv.State)
	}
	require.Empty(t, s.Deliveries)

	// The failure spent nothing: a normal purchase still goes through.
	out, err = l.do(http.MethodGet, "/data/x", "small-1", nil)
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 1, out.Payments)
	s = l.ledger()
	var succeeded []*lnrpc.Payment
	for _, p := range l.payments(s) {
		if p.Status == lnrpc.Payment_SUCCEEDED {
			succeeded = append(succeeded, p)
		}
	}
	require.Len(t, succeeded, 1)
	require.Equal(t, out.PaymentHash.String(), succeeded[0].PaymentHash)
	require.Len(t, s.Deliveries, 1)
}

func TestLiveBadInvoicesRefused(t *testing.T) {
	for _, tc := range []struct {
		knob   fakeprovider.Knob
		reason string
	}{
		{fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice}, "exceeds"},
		{fakeprovider.Knob{Kind: fakeprovider.AmountlessInvoice}, "amountless"},
		{fakeprovider.Knob{Kind: fakeprovider.HashMismatch}, "does not match"},
		{fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice, ExpiresIn: fakeprovider.Duration(5 * time.Second)}, "expires"},
	} {
		name := string(tc.knob.Kind)
		if tc.knob.ExpiresIn > 0 {
			name = "expiring-soon"
		}
		t.Run(name, func(t *testing.T) {
			l := newLive(t, fakeprovider.DefaultConfig())
			k := tc.knob
			k.Times = 1
			l.arm(k)
			out, err := l.do(http.MethodGet, "/data/x", "bad-1", nil)
			require.Error(t, err)
			require.Equal(t, client.Failed, out.Result)
			require.Equal(t, client.Refused, out.Kind)
			require.Contains(t, out.Reason, tc.reason)
			require.NotContains(t, l.states("bad-1"), "dispatched")

			s := l.ledger()
			require.Len(t, s.Invoices, 1)
			require.Contains(t, s.Requests[0].Challenge.Knob, string(tc.knob.Kind), "the knob fired")
			l.requireNothingPaid(out, s)
		})
	}
}
