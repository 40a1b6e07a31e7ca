package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// namespace prefixes every series of the run's own (the standard process_
// and go_ series of the harness keep their usual names).
const namespace = "l402chaos"

// Defaults.
const (
	// defaultReservoir bounds the latencies kept between two samples;
	// beyond it a uniform reservoir of that many is kept.
	defaultReservoir = 100_000
	// defaultDataEvery is how often a data directory is walked again; in
	// between its last size is reported.
	defaultDataEvery = 30 * time.Second
)

// latencyBuckets suit purchases from 50 ms (a token reused, a fast
// payment) to 2 min (a held HTLC, retries behind a slow link), in seconds.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// outcomes are the completions a purchase can have.
var outcomes = []history.Type{history.OK, history.Fail, history.Info}

// Metrics are the live metrics of one run, on a registry of their own:
// what the workload did, what the payer paid, the faults in place, the
// checkers' verdicts, and the resources the harness and each watched node
// use. Every method is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	purchases *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	shed      prometheus.Counter
	inFlight  prometheus.Gauge
	payments  prometheus.Gauge
	paidMsat  prometheus.Gauge
	feesMsat  prometheus.Gauge
	faults    prometheus.Gauge
	verdicts  *prometheus.GaugeVec

	now       func() time.Time
	dataEvery time.Duration
	reservoir int

	mu      sync.Mutex
	rnd     *rand.Rand
	counts  map[history.Type]int64
	shedN   int64
	flying  int
	paid    [3]int64 // payments, paid msat, fees msat
	faultsN int
	invalid map[string]bool // checkers found invalid at least once
	lat     []time.Duration // latencies since the last Sample (a reservoir)
	latSeen int64           // latencies offered since the last Sample

	watchMu  sync.Mutex
	watching map[string]*watched
}

// Option configures Metrics. Options validate their arguments.
type Option func(*Metrics) error

// WithLogger sets the logger (Serve's errors). Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(m *Metrics) error {
		if l == nil {
			return errors.New("nil logger")
		}
		m.log = l
		return nil
	}
}

// WithClock sets the clock that decides when a data directory is walked
// again. Default: the system clock.
func WithClock(now func() time.Time) Option {
	return func(m *Metrics) error {
		if now == nil {
			return errors.New("nil clock")
		}
		m.now = now
		return nil
	}
}

// WithRand sets the random source of the latency reservoir. Default:
// seeded from the operating system.
func WithRand(r *rand.Rand) Option {
	return func(m *Metrics) error {
		if r == nil {
			return errors.New("nil random source")
		}
		m.rnd = r
		return nil
	}
}

// WithReservoir bounds the latencies kept between two samples: past n,
// a uniform sample of n of them is kept (the percentiles become
// estimates). Default 100,000.
func WithReservoir(n int) Option {
	return func(m *Metrics) error {
		if n < 1 {
			return fmt.Errorf("reservoir must hold at least 1 latency, got %d", n)
		}
		m.reservoir = n
		return nil
	}
}

// WithDataEvery sets how often a watched data directory is walked again
// to measure its size; in between the last size is reported. 0 walks it
// at every reading. Default 30s.
func WithDataEvery(d time.Duration) Option {
	return func(m *Metrics) error {
		if d < 0 {
			return fmt.Errorf("data directory interval must not be negative, got %s", d)
		}
		m.dataEvery = d
		return nil
	}
}

// New makes the metrics of one run on a registry of its own, with the
// harness's process and Go runtime collectors on it.
func New(opts ...Option) (*Metrics, error) {
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		log:       slog.New(slog.DiscardHandler),
		now:       time.Now,
		dataEvery: defaultDataEvery,
		reservoir: defaultReservoir,
		rnd:       rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		counts:    map[history.Type]int64{},
		invalid:   map[string]bool{},
		watching:  map[string]*watched{},
	}
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, fmt.Errorf("metrics option: %w", err)
		}
	}
	m.purchases = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "purchases_total",
		Help: "Purchases completed, by outcome (ok, fail, info: may have happened).",
	}, []string{"outcome"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "purchase_duration_seconds",
		Help:    "Time from a purchase's invoke to its completion, by outcome.",
		Buckets: latencyBuckets,
	}, []string{"outcome"})
	for _, o := range outcomes {
		m.purchases.WithLabelValues(string(o))
		m.latency.WithLabelValues(string(o))
	}
	m.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "purchases_shed_total",
		Help: "Purchases the workload could not start because every slot was busy.",
	})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "purchases_in_flight",
		Help: "Purchases running.",
	})
	m.payments = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "payer_payments",
		Help: "Payments settled by the payer so far, as its LND reports them.",
	})
	m.paidMsat = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "payer_paid_msat",
		Help: "Amount the payer's settled payments paid so far, fees excluded, in msat.",
	})
	m.feesMsat = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "payer_fees_msat",
		Help: "Routing fees the payer's settled payments paid so far, in msat.",
	})
	m.faults = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "faults_active",
		Help: "Faults in place.",
	})
	m.verdicts = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "checker_verdict",
		Help: "Each checker's latest verdict: 1 valid, 0 unknown, -1 invalid.",
	}, []string{"checker"})
	m.reg.MustRegister(
		m.purchases, m.latency, m.shed, m.inFlight,
		m.payments, m.paidMsat, m.feesMsat, m.faults, m.verdicts,
		newNodeCollector(m),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return m, nil
}

// Handler serves the registry in Prometheus's exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Purchase counts a completed purchase and its latency (invoke to
// completion). outcome is one of history.OK, history.Fail and
// history.Info; anything else is a programming error and panics, as a
// counter decremented does.
func (m *Metrics) Purchase(outcome history.Type, latency time.Duration) {
	if !outcome.Completes() {
		panic(fmt.Sprintf("metrics: purchase outcome %q does not complete an operation", outcome))
	}
	latency = max(latency, 0)
	m.purchases.WithLabelValues(string(outcome)).Inc()
	m.latency.WithLabelValues(string(outcome)).Observe(latency.Seconds())
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[outcome]++
	m.latSeen++
	if len(m.lat) < m.reservoir {
		m.lat = append(m.lat, latency)
		return
	}
	// Algorithm R: the n-th latency replaces a kept one with probability
	// reservoir/n, so every latency offered is kept equally likely.
	if j := m.rnd.Int64N(m.latSeen); j < int64(m.reservoir) {
		m.lat[j] = latency
	}
}

// Shed counts a purchase the workload could not start: every slot was
// busy.
func (m *Metrics) Shed() {
	m.shed.Inc()
	m.mu.Lock()
	m.shedN++
	m.mu.Unlock()
}

// InFlight moves the purchases running by delta: +1 as one starts, -1 as
// it ends.
func (m *Metrics) InFlight(delta int) {
	m.inFlight.Add(float64(delta))
	m.mu.Lock()
	m.flying += delta
	m.mu.Unlock()
}

// Payments sets the payer's cumulative totals as read from its LND: the
// payments settled, what they paid (fees excluded) and their fees, in
// msat. They are set, not added.
func (m *Metrics) Payments(count, paidMsat, feesMsat int64) {
	m.payments.Set(float64(count))
	m.paidMsat.Set(float64(paidMsat))
	m.feesMsat.Set(float64(feesMsat))
	m.mu.Lock()
	m.paid = [3]int64{count, paidMsat, feesMsat}
	m.mu.Unlock()
}

// FaultsActive sets the number of faults in place.
func (m *Metrics) FaultsActive(n int) {
	m.faults.Set(float64(n))
	m.mu.Lock()
	m.faultsN = n
	m.mu.Unlock()
}

// Verdict records a checker's latest verdict. The gauge shows the latest;
// a sample's Invalid counts the checkers found invalid at any verdict so
// far, so a finding is not lost when a later verdict is unknown.
func (m *Metrics) Verdict(checker string, v check.Validity) {
	m.verdicts.WithLabelValues(checker).Set(verdictValue(v))
	if v != check.Invalid {
		return
	}
	m.mu.Lock()
	m.invalid[checker] = true
	m.mu.Unlock()
}

func verdictValue(v check.Validity) float64 {
	switch v {
	case check.Valid:
		return 1
	case check.Invalid:
		return -1
	}
	return 0
}

// Sample takes one reading at now (since the run began, on the history's
// clock): the cumulative counts, the gauges, the latency percentiles of
// the purchases completed since the previous Sample (which it resets),
// and the resource use of the harness and of every watched node.
func (m *Metrics) Sample(now time.Duration) history.Sample {
	m.mu.Lock()
	s := history.Sample{
		Time:         now,
		OK:           m.counts[history.OK],
		Fail:         m.counts[history.Fail],
		Info:         m.counts[history.Info],
		Shed:         m.shedN,
		InFlight:     m.flying,
		Payments:     m.paid[0],
		PaidMsat:     m.paid[1],
		FeesMsat:     m.paid[2],
		FaultsActive: m.faultsN,
		Invalid:      len(m.invalid),
	}
	lat := m.lat
	m.lat, m.latSeen = nil, 0
	m.mu.Unlock()

	s.P50, s.P99 = percentiles(lat)
	s.Harness, _ = processUsage(os.Getpid())
	s.Harness.Goroutines = runtime.NumGoroutine()
	for _, w := range m.watched() {
		u, _ := w.usage(m.now, m.dataEvery)
		if s.Nodes == nil {
			s.Nodes = map[string]history.Usage{}
		}
		s.Nodes[w.name] = u
	}
	return s
}

// percentiles returns the 50th and 99th percentiles of lat by nearest
// rank (the smallest latency at or above that share of them), zero when
// lat is empty. It sorts lat.
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	slices.Sort(lat)
	rank := func(p int) time.Duration { return lat[(len(lat)*p+99)/100-1] }
	return rank(50), rank(99)
}
