package metrics_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/metrics"
)

// newMetrics makes metrics or fails the test.
func newMetrics(t *testing.T, opts ...metrics.Option) *metrics.Metrics {
	t.Helper()
	m, err := metrics.New(opts...)
	require.NoError(t, err)
	return m
}

// scrape reads h's exposition as text: series (name and labels, as
// printed) to value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return parseExposition(t, rec.Body.String())
}

func parseExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "line %q", line)
		out[line[:i]] = v
	}
	return out
}

func TestSeriesAndSample(t *testing.T) {
	m := newMetrics(t)
	got := scrape(t, m.Handler())
	for _, o := range []string{"ok", "fail", "info"} {
		require.Contains(t, got, `l402chaos_purchases_total{outcome="`+o+`"}`, "every outcome is exposed from the start")
	}
	require.Contains(t, got, "process_resident_memory_bytes")
	require.Contains(t, got, "process_open_fds")
	require.Contains(t, got, "go_goroutines")

	m.Purchase(history.OK, 40*time.Millisecond)
	m.Purchase(history.OK, 3*time.Second)
	m.Purchase(history.Fail, 200*time.Millisecond)
	m.Purchase(history.Info, 90*time.Second)
	m.Shed()
	m.Shed()
	m.InFlight(+1)
	m.InFlight(+1)
	m.InFlight(+1)
	m.InFlight(-1)
	m.Payments(3, 300_000, 1_500)
	m.Payments(5, 500_000, 2_500) // set, not added
	m.FaultsActive(2)
	m.Verdict("at-most-once", check.Valid)
	m.Verdict("price-cap", check.Invalid)
	m.Verdict("hygiene", check.Unknown)

	got = scrape(t, m.Handler())
	for series, want := range map[string]float64{
		`l402chaos_purchases_total{outcome="ok"}`:                             2,
		`l402chaos_purchases_total{outcome="fail"}`:                           1,
		`l402chaos_purchases_total{outcome="info"}`:                           1,
		`l402chaos_purchase_duration_seconds_count{outcome="ok"}`:             2,
		`l402chaos_purchase_duration_seconds_bucket{outcome="ok",le="0.05"}`:  1,
		`l402chaos_purchase_duration_seconds_bucket{outcome="ok",le="5"}`:     2,
		`l402chaos_purchase_duration_seconds_bucket{outcome="info",le="60"}`:  0,
		`l402chaos_purchase_duration_seconds_bucket{outcome="info",le="120"}`: 1,
		`l402chaos_purchase_duration_seconds_sum{outcome="fail"}`:             0.2,
		`l402chaos_purchases_shed_total`:                                      2,
		`l402chaos_purchases_in_flight`:                                       2,
		`l402chaos_payer_payments`:                                            5,
		`l402chaos_payer_paid_msat`:                                           500_000,
		`l402chaos_payer_fees_msat`:                                           2_500,
		`l402chaos_faults_active`:                                             2,
		`l402chaos_checker_verdict{checker="at-most-once"}`:                   1,
		`l402chaos_checker_verdict{checker="price-cap"}`:                      -1,
		`l402chaos_checker_verdict{checker="hygiene"}`:                        0,
	} {
		require.Contains(t, got, series)
		require.InDelta(t, want, got[series], 1e-9, series)
	}

	s := m.Sample(42 * time.Second)
	require.Equal(t, 42*time.Second, s.Time)
	require.Equal(t, [4]int64{2, 1, 1, 2}, [4]int64{s.OK, s.Fail, s.Info, s.Shed})
	require.Equal(t, 2, s.InFlight)
	require.Equal(t, [3]int64{5, 500_000, 2_500}, [3]int64{s.Payments, s.PaidMsat, s.FeesMsat})
	require.Equal(t, 2, s.FaultsActive)
	require.Equal(t, 1, s.Invalid)
	require.Positive(t, s.Harness.RSSBytes)
	require.Positive(t, s.Harness.OpenFiles)
	require.Positive(t, s.Harness.Goroutines)
	require.Empty(t, s.Nodes, "no node watched")

	// The gauge shows the latest verdict; the sample keeps the finding.
	m.Verdict("price-cap", check.Unknown)
	require.Zero(t, scrape(t, m.Handler())[`l402chaos_checker_verdict{checker="price-cap"}`])
	require.Equal(t, 1, m.Sample(43*time.Second).Invalid)
}

func TestSamplePercentiles(t *testing.T) {
	m := newMetrics(t)
	lat := make([]time.Duration, 100)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lat), func(i, j int) { lat[i], lat[j] = lat[j], lat[i] })
	for i, l := range lat {
		m.Purchase([]history.Type{history.OK, history.Fail, history.Info}[i%3], l)
	}
	s := m.Sample(time.Second)
	require.Equal(t, 50*time.Millisecond, s.P50)
	require.Equal(t, 99*time.Millisecond, s.P99)

	s = m.Sample(2 * time.Second)
	require.Zero(t, s.P50, "no purchase completed since the last sample")
	require.Zero(t, s.P99)
	require.EqualValues(t, 100, s.OK+s.Fail+s.Info, "counts are cumulative")

	m.Purchase(history.OK, 7*time.Millisecond)
	s = m.Sample(3 * time.Second)
	require.Equal(t, 7*time.Millisecond, s.P50)
	require.Equal(t, 7*time.Millisecond, s.P99)

	m.Purchase(history.OK, 10*time.Millisecond)
	m.Purchase(history.OK, 20*time.Millisecond)
	s = m.Sample(4 * time.Second)
	require.Equal(t, 10*time.Millisecond, s.P50, "nearest rank: the smaller of two")
	require.Equal(t, 20*time.Millisecond, s.P99)
}

func TestSampleReservoir(t *testing.T) {
	m := newMetrics(t, metrics.WithReservoir(2_000), metrics.WithRand(rand.New(rand.NewPCG(7, 7))))
	// 100,000 latencies spread evenly over 1 ms .. 100 s: the kept 2,000
	// estimate the percentiles within a few per cent.
	const n = 100_000
	for i := range n {
		m.Purchase(history.OK, time.Duration(i+1)*time.Millisecond)
	}
	s := m.Sample(time.Second)
	require.InDelta(t, 50*time.Second, s.P50, float64(3*time.Second))
	require.InDelta(t, 99*time.Second, s.P99, float64(time.Second))
	require.EqualValues(t, n, s.OK)
}

func TestPurchaseOutcomeMustComplete(t *testing.T) {
	m := newMetrics(t)
	require.Panics(t, func() { m.Purchase(history.Invoke, time.Second) })
	require.Panics(t, func() { m.Purchase("delivered", time.Second) })
}

func TestOptionsValidate(t *testing.T) {
	for name, o := range map[string]metrics.Option{
		"reservoir 0":   metrics.WithReservoir(0),
		"negative data": metrics.WithDataEvery(-time.Second),
		"nil clock":     metrics.WithClock(nil),
		"nil rand":      metrics.WithRand(nil),
		"nil logger":    metrics.WithLogger(nil),
	} {
		_, err := metrics.New(o)
		require.Error(t, err, name)
	}
}

func TestConcurrentUse(t *testing.T) {
	m := newMetrics(t, metrics.WithReservoir(100))
	m.WatchProcess("self", os.Getpid, t.TempDir())
	const workers, each = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m.InFlight(+1)
				m.Purchase(history.OK, time.Duration(w*each+i)*time.Microsecond)
				m.InFlight(-1)
				if i%50 == 0 {
					m.Sample(time.Duration(i))
					m.Verdict(fmt.Sprint("checker-", w), check.Valid)
					m.Payments(int64(i), int64(i)*1000, int64(i))
				}
			}
		})
	}
	for range 5 { // scraped while the workers run (require only on the test's goroutine)
		scrape(t, m.Handler())
	}
	wg.Wait()
	s := m.Sample(time.Hour)
	require.EqualValues(t, workers*each, s.OK)
	require.Zero(t, s.InFlight)
	require.Equal(t, float64(workers*each), scrape(t, m.Handler())[`l402chaos_purchases_total{outcome="ok"}`])
}
