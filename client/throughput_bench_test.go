package client_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

// throughputLevels are the concurrencies BenchmarkThroughput compares at.
var throughputLevels = []int{1, 4, 16}

// BenchmarkThroughput measures purchases per second through the whole
// L402 flow against raw LND payments per second, at concurrency 1, 4 and
// 16, in one run on the shared network (alice -> bob, one direct channel
// of regtest.DefaultCapacity: 40,000 purchases of 250 sat; 16 HTLCs in
// flight are far below lnd's 483 slots and the channel reserve).
//
//	raw/c=C   C goroutines share b.N operations, each: bob AddInvoice,
//	          alice SendPaymentV2 until SUCCEEDED (regtest Node.Pay)
//	l402/c=C  C goroutines share b.N purchases by one reference client
//	          (one journal): POST /ops/run with a fresh key, so every
//	          purchase pays (per-request pricing, no cached token): 402
//	          challenge (the provider adds an invoice on bob), decode,
//	          journal steps with fsync, payment, credentialed retry
//
// Each reports:
//
//	ops/s        b.N over the elapsed time
//	lat-ms       C / ops/s: the mean time one operation takes
//	ln-ms/op     l402 only: of a purchase, the time in the node's calls
//	             (DecodePayReq, SendPaymentV2)
//	http-ms/op   l402 only: in HTTP exchanges with the provider (the
//	             challenge's includes its invoice on bob)
//	local-ms/op  l402 only: the rest, the client's own time: mostly the
//	             journal (five fsync'd steps, shared transactions when
//	             purchases run together) and the per-key lock
//
// At the end the parent logs a table (shown with -v): per concurrency,
// raw/s, l402/s and their ratio. The goal is a ratio of at least 0.8.
// Run with many operations, so that 16 goroutines have work for several
// rounds:
//
//	go test -run '^$' -bench Throughput -benchtime 120x -v ./client/
func BenchmarkThroughput(b *testing.B) {
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
	tr := &timedTransport{rt: http.DefaultTransport}
	// The client as shipped (its HTTP client on the default transport,
	// timed), except that no cached token is tried first: every purchase
	// pays.
	c, err := client.New(payer, store,
		client.WithRetryPolicy(liveRetry),
		client.WithMaxCost(liveMaxCost),
		client.WithTokenTTL(0),
		client.WithHTTPClient(&http.Client{Timeout: liveHTTPTimeout, Transport: tr}),
	)
	require.NoError(b, err)
	const amountSat = 250 // the "ops" service's price

	raw := func(ctx context.Context, _ int) error {
		inv, err := bob.AddInvoice(ctx, amountSat, "throughput")
		if err != nil {
			return err
		}
		_, err = alice.Pay(ctx, inv.PaymentRequest)
		return err
	}
	var bought atomic.Int64 // purchases made, warm-up included
	var doNs atomic.Int64
	buy := func(ctx context.Context, i int) error {
		start := time.Now()
		defer func() { doNs.Add(int64(time.Since(start))) }()
		key := fmt.Sprintf("throughput-%d", i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL()+"/ops/run", strings.NewReader(key))
		if err != nil {
			return err
		}
		out, err := c.Do(ctx, req, key)
		if err != nil {
			return err
		}
		bought.Add(1)
		if out.Result != client.Delivered || out.Payments != 1 {
			return fmt.Errorf("purchase %s: %s after %d payments, want delivered after one", key, out.Result, out.Payments)
		}
		return nil
	}
	// Warm up: the first payment on a channel finds its route, the first
	// purchase opens the journal's buckets and a connection.
	require.NoError(b, raw(ctx, 0))
	var keys atomic.Int64 // purchase keys, unique across every run
	require.NoError(b, buy(ctx, int(keys.Add(1))))

	rates := map[string]float64{} // sub-benchmark name -> ops/s of its last run
	for _, conc := range throughputLevels {
		for _, kind := range []string{"raw", "l402"} {
			name := fmt.Sprintf("%s/c=%d", kind, conc)
			b.Run(name, func(b *testing.B) {
				op := raw
				if kind == "l402" {
					op = func(ctx context.Context, _ int) error { return buy(ctx, int(keys.Add(1))) }
				}
				payer.ns.Store(0)
				tr.ns.Store(0)
				doNs.Store(0)
				b.ResetTimer()
				err := spread(ctx, b.N, conc, op)
				b.StopTimer()
				require.NoError(b, err)
				rate := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "ops/s")
				b.ReportMetric(float64(conc)/rate*1000, "lat-ms")
				if kind == "l402" {
					d, ln, h := time.Duration(doNs.Load()), time.Duration(payer.ns.Load()), time.Duration(tr.ns.Load())
					b.ReportMetric(ms(ln, b.N), "ln-ms/op")
					b.ReportMetric(ms(h, b.N), "http-ms/op")
					b.ReportMetric(ms(d-ln-h, b.N), "local-ms/op")
				}
				b.ReportMetric(0, "ns/op") // 1/(ops/s) per goroutine: not useful
				rates[name] = rate
			})
		}
	}

	var tab bytes.Buffer
	fmt.Fprintf(&tab, "%-12s %8s %8s %6s\n", "concurrency", "raw/s", "l402/s", "ratio")
	for _, conc := range throughputLevels {
		r, l := rates[fmt.Sprintf("raw/c=%d", conc)], rates[fmt.Sprintf("l402/c=%d", conc)]
		ratio := 0.0
		if r > 0 {
			ratio = l / r
		}
		fmt.Fprintf(&tab, "%-12d %8.1f %8.1f %6.2f\n", conc, r, l, ratio)
	}
	b.Logf("purchases per second against raw payments per second:\n%s", tab.String())

	s, err := p.Ledger(ctx)
	require.NoError(b, err)
	require.Len(b, s.SideEffects, int(bought.Load()), "one operation per purchase")
}

// spread runs n operations over conc goroutines, each taking the next
// index until none is left. The first error stops them all.
func spread(ctx context.Context, n, conc int, op func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range conc {
		g.Go(func() error {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				if err := op(ctx, i); err != nil {
					return fmt.Errorf("operation %d: %w", i, err)
				}
			}
		})
	}
	return g.Wait()
}
