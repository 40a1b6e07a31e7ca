package client_test

// Benchmarks of what the reference client costs on top of a payment.
//
//	go test -run '^$' -bench . -benchtime 20x ./client/
//
// BenchmarkPurchase runs on the shared regtest network (it never skips: a
// network that does not start fails it); BenchmarkJournal needs no
// network.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
)

// benchTimeout bounds one benchmark's whole run.
const benchTimeout = 10 * time.Minute

// timedPayer adds up the time spent in the node's calls.
type timedPayer struct {
	p  client.Payer
	ns atomic.Int64
}

func (t *timedPayer) since(start time.Time) { t.ns.Add(int64(time.Since(start))) }

func (t *timedPayer) DecodeInvoice(ctx context.Context, bolt11 string) (client.Invoice, error) {
	defer t.since(time.Now())
	return t.p.DecodeInvoice(ctx, bolt11)
}

func (t *timedPayer) SendPayment(ctx context.Context, bolt11 string, o client.SendOptions) (client.PaymentStatus, error) {
	defer t.since(time.Now())
	return t.p.SendPayment(ctx, bolt11, o)
}

func (t *timedPayer) TrackPayment(ctx context.Context, h lntypes.Hash) (client.PaymentStatus, error) {
	defer t.since(time.Now())
	return t.p.TrackPayment(ctx, h)
}

func (t *timedPayer) WaitPayment(ctx context.Context, h lntypes.Hash) (client.PaymentStatus, error) {
	defer t.since(time.Now())
	return t.p.(client.PaymentWaiter).WaitPayment(ctx, h)
}

// timedTransport adds up the time spent in HTTP round trips, reading the
// body included.
type timedTransport struct {
	rt http.RoundTripper
	ns atomic.Int64
}

func (t *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	defer func() { t.ns.Add(int64(time.Since(start))) }()
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func ms(d time.Duration, n int) float64 { return d.Seconds() * 1000 / float64(n) }

// BenchmarkPurchase measures, in one run on the real network and provider:
//
//	pay-ms/op       alice pays a fresh bob invoice (regtest Node.Pay)
//	purchase-ms/op  a whole reference-client purchase: 402 challenge,
//	                journal steps with fsync, payment, credentialed retry
//	added-ms/op     purchase - pay: what a purchase costs on top of the
//	                bare payment (HTTP round trips, the provider minting
//	                an invoice on bob, decoding it, the journal)
//	ln-ms/op        of the purchase, the time spent in the node's calls
//	                (DecodePayReq, SendPaymentV2)
//	client-ms/op    purchase - ln: the client's own cost, measured within
//	                the same purchases, so less noisy than added-ms/op
//	                (payment latency varies by several ms between payments)
//
// Each iteration does one of each, alternately, for the same amount.
func BenchmarkPurchase(b *testing.B) {
	n := liveNetwork(b)
	ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
	defer cancel()
	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	p := fakeprovidertest.Start(b, bob, fakeprovider.DefaultConfig())
	store, err := client.OpenStore(b.TempDir())
	if store != nil {
		defer store.Close()
	}
	require.NoError(b, err)
	lnd, err := client.NewLNDPayer(alice.LN(), alice.Router())
	require.NoError(b, err)
	payer := &timedPayer{p: lnd}
	c, err := client.New(payer, store,
		client.WithRetryPolicy(liveRetry),
		client.WithMaxCost(liveMaxCost),
		client.WithHTTPClient(&http.Client{Timeout: liveHTTPTimeout}),
		// Every purchase pays: no cached token is tried first.
		client.WithTokenTTL(0),
	)
	require.NoError(b, err)
	const amountSat = 250 // the "ops" service's price

	pay := func() time.Duration {
		inv, err := bob.AddInvoice(ctx, amountSat, "bench")
		require.NoError(b, err)
		start := time.Now()
		_, err = alice.Pay(ctx, inv.PaymentRequest)
		d := time.Since(start)
		require.NoError(b, err)
		return d
	}
	purchase := func(i int) time.Duration {
		key := fmt.Sprintf("bench-%d", i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/ops/run", bytes.NewReader([]byte(key)))
		require.NoError(b, err)
		start := time.Now()
		out, err := c.Do(ctx, req, key)
		d := time.Since(start)
		require.NoError(b, err)
		require.Equal(b, client.Delivered, out.Result)
		require.Equal(b, 1, out.Payments, "every purchase pays once")
		return d
	}
	// Warm up: the first payment on a channel finds its route.
	pay()
	purchase(-1)
	payer.ns.Store(0)

	var payDur, buyDur time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		payDur += pay()
		buyDur += purchase(i)
	}
	b.StopTimer()
	b.ReportMetric(ms(payDur, b.N), "pay-ms/op")
	b.ReportMetric(ms(buyDur, b.N), "purchase-ms/op")
	b.ReportMetric(ms(buyDur-payDur, b.N), "added-ms/op")
	ln := time.Duration(payer.ns.Load())
	b.ReportMetric(ms(ln, b.N), "ln-ms/op")
	b.ReportMetric(ms(buyDur-ln, b.N), "client-ms/op")
	b.ReportMetric(0, "ns/op") // the sum of the above plus invoice making: not useful

	s, err := p.Ledger(ctx)
	require.NoError(b, err)
	require.Len(b, s.SideEffects, b.N+1, "one operation per purchase")
}

// BenchmarkJournal measures the journal's cost for one purchase, with no
// network: a fake node (clienttest.Payer) and an L402 server on loopback.
// A purchase journals five steps (intent, challenge, dispatched, settled,
// delivered), each one bbolt transaction.
//
//	journal-ms/op  purchase time minus the time in HTTP round trips and in
//	               the fake node: the journal, plus microseconds of parsing
//	writes/op      journal transactions per purchase
//
// "fsync" is the client as shipped; "nosync" is the same journal without
// fsync, so the difference is what durability costs.
func BenchmarkJournal(b *testing.B) {
	for _, bc := range []struct {
		name string
		sync bool
	}{{"fsync", true}, {"nosync", false}} {
		b.Run(bc.name, func(b *testing.B) {
			clock := clienttest.NewClock(epoch)
			fake := clienttest.NewPayer()
			iss := clienttest.NewIssuer(fake, clock)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := iss.Verify(r); err == nil {
					_, _ = io.WriteString(w, "paid content")
					return
				}
				_, _ = iss.Challenge(w, price)
			}))
			defer srv.Close()
			opts := []client.StoreOption{}
			if !bc.sync {
				opts = append(opts, client.WithoutSync())
			}
			store, err := client.OpenStore(b.TempDir(), opts...)
			if store != nil {
				defer store.Close()
			}
			require.NoError(b, err)
			payer := &timedPayer{p: fake}
			tr := &timedTransport{rt: srv.Client().Transport}
			var writes atomic.Int64
			c, err := client.New(payer, store,
				client.WithClock(clock),
				client.WithLogger(slog.New(slog.DiscardHandler)),
				client.WithHTTPClient(&http.Client{Transport: tr}),
				client.WithTokenTTL(0),
				client.WithHook(func(point string) {
					if point != "sent" {
						writes.Add(1)
					}
				}),
			)
			require.NoError(b, err)
			ctx := context.Background()
			buy := func(i int) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/svc/item", nil)
				require.NoError(b, err)
				out, err := c.Do(ctx, req, fmt.Sprintf("journal-%d", i))
				require.NoError(b, err)
				require.Equal(b, 1, out.Payments)
			}
			buy(-1) // warm up: buckets created, connection open
			payer.ns.Store(0)
			tr.ns.Store(0)
			writes.Store(0)

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buy(i)
			}
			b.StopTimer()
			local := b.Elapsed() - time.Duration(payer.ns.Load()) - time.Duration(tr.ns.Load())
			b.ReportMetric(ms(local, b.N), "journal-ms/op")
			b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
		})
	}
}
