package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/property"
)

// ScheduleFile is the nemesis schedule a soak ran, in its run directory:
// `chaos soak -nemesis schedule FILE` replays it.
const ScheduleFile = "nemesis.json"

// ErrConfig marks a soak configuration that cannot run.
var ErrConfig = errors.New("bad soak configuration")

// Config is a soak: how long, how much traffic, which nemesis.
type Config struct {
	// Duration is how long traffic and faults go on. Required.
	Duration time.Duration
	// Rate is the offered load, purchases per second (default 2). The
	// load is open: a purchase starts on time whatever the earlier ones
	// are doing, and one that finds every slot busy is shed (counted,
	// never queued).
	Rate float64
	// Concurrency is how many attempts run at once at most (default 4).
	Concurrency int
	// Keys is how many recent keys of each kind a purchase may buy again
	// (default 8): a repeat purchase reuses a token or replays an
	// Idempotency-Key; the rest of the purchases are new keys.
	Keys int
	// Seed draws the workload's choices and, without Schedule, the
	// nemesis's schedule.
	Seed int64
	// Schedule is the nemesis; nil draws one from Seed (Random), an empty
	// non-nil slice runs no faults.
	Schedule []Op
	// Window is how often the safety checkers judge what is live, and the
	// truth is sampled (default 10s).
	Window time.Duration
	// StopOnInvalid ends the soak at the first invalid verdict.
	StopOnInvalid bool
	// ClientTimeout is every attempt's own deadline (default 30s).
	ClientTimeout time.Duration
	// Dir is the run directory: history.jsonl (appended as it happens),
	// truth.json (sampled), nemesis.json. Required; it must not hold a
	// record already.
	Dir string
	// Stop, when closed, ends the traffic early: the soak then heals,
	// finishes and judges as at its end (a first Ctrl-C). Cancelling the
	// context instead abandons the run.
	Stop <-chan struct{}
	// Meter, if set, is told every purchase, payment total, fault count
	// and verdict (harness/metrics).
	Meter Meter
	// OnProgress, if set, sees the soak's status every second.
	OnProgress func(Status)
	// OnInvalid, if set, sees the first invalid verdicts at once.
	OnInvalid func(at time.Duration, invalid []check.Result)
	Log       *slog.Logger
}

// Meter is what a soak reports to its metrics as it goes.
type Meter interface {
	Purchase(outcome history.Type, latency time.Duration)
	Shed()
	InFlight(delta int)
	Payments(count, paidMsat, feesMsat int64)
	FaultsActive(n int)
	Verdict(checker string, v check.Validity)
}

func (c Config) withDefaults() (Config, error) {
	if c.Rate == 0 {
		c.Rate = 2
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Keys == 0 {
		c.Keys = 8
	}
	if c.Window == 0 {
		c.Window = 10 * time.Second
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = 30 * time.Second
	}
	if c.Schedule == nil {
		c.Schedule = Random(c.Seed, c.Duration)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Duration <= 0:
		return c, fmt.Errorf("%w: duration %s: want more than 0", ErrConfig, c.Duration)
	case c.Rate < 0 || c.Rate > 1000:
		return c, fmt.Errorf("%w: rate %g/s: want more than 0, at most 1000", ErrConfig, c.Rate)
	case c.Concurrency < 0 || c.Concurrency > 256:
		return c, fmt.Errorf("%w: concurrency %d: want 1 to 256", ErrConfig, c.Concurrency)
	case c.Keys < 0:
		return c, fmt.Errorf("%w: keys %d: want at least 1", ErrConfig, c.Keys)
	case c.Window < time.Second:
		return c, fmt.Errorf("%w: window %s: want at least 1s", ErrConfig, c.Window)
	case c.Dir == "":
		return c, fmt.Errorf("%w: no run directory", ErrConfig)
	}
	return c, nil
}

// Status is a soak as it stands, for a progress line.
type Status struct {
	Elapsed  time.Duration `json:"elapsed"`
	Duration time.Duration `json:"duration"`
	OK       int64         `json:"ok"`
	Fail     int64         `json:"fail"`
	Info     int64         `json:"info"`
	Shed     int64         `json:"shed"`
	InFlight int           `json:"in_flight"`
	// Rate is purchases completed per second over the last ten seconds.
	Rate float64 `json:"rate"`
	// P50 and P99 are the latencies of the purchases completed in the
	// last ten seconds.
	P50    time.Duration `json:"p50"`
	P99    time.Duration `json:"p99"`
	Faults []string      `json:"faults,omitempty"`
	// Verdict is the verdict so far: Invalid once a window found a
	// violation, Valid while every window did not.
	Verdict check.Validity `json:"verdict"`
	// Windows is how many windows were judged.
	Windows int `json:"windows"`
	// Ending is set once the traffic has ended: the soak heals, then
	// reruns the purchases in doubt one after another (Rerun of
	// Reruns), then judges.
	Ending bool `json:"ending,omitempty"`
	Rerun  int  `json:"rerun,omitempty"`
	Reruns int  `json:"reruns,omitempty"`
}

// Result is what a soak found.
type Result struct {
	Seed     int64         `json:"seed"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Schedule []Op          `json:"schedule"`
	// Status is the last status, counts included.
	Status Status `json:"status"`
	// FirstInvalid is the first window's invalid verdicts, and
	// FirstInvalidAt when that window was judged.
	FirstInvalid   []check.Result `json:"first_invalid,omitempty"`
	FirstInvalidAt time.Duration  `json:"first_invalid_at,omitempty"`
	// Results are every checker's verdict on the whole record, after the
	// final heal and the reruns of what was in doubt.
	Results []check.Result `json:"results"`
	// History and Truth are the whole record, read back at the end.
	History history.History `json:"-"`
	Truth   *history.Truth  `json:"-"`
	// Stopped: the traffic ended early (Stop, or StopOnInvalid).
	Stopped bool `json:"stopped,omitempty"`
	// Err is the harness's own failure: the verdict is then Unknown.
	Err error  `json:"-"`
	Dir string `json:"dir"`
}

// Verdict folds the final results with the windows' verdicts and the
// harness's failure: Invalid if any verdict was; Unknown if the harness
// failed or a checker could not judge; Valid otherwise.
func (r *Result) Verdict() check.Validity {
	if len(r.FirstInvalid) > 0 {
		return check.Invalid
	}
	v := check.Merge(r.Results)
	if v != check.Invalid && r.Err != nil {
		return check.Unknown
	}
	return v
}

// Run soaks a client on a started environment: traffic and the nemesis
// for the configured duration, the safety checkers on each window of
// what is live, then a final heal, the reruns of what is in doubt and
// every checker on the whole record. It is a driver of the run loop,
// harness.Session, like the scripted Runner and the property Machine.
//
//	workload (open loop, Rate/s, Concurrency slots) ──Attempt──┐
//	nemesis (Schedule: inject, hold, heal) ──Inject/Heal────────┼─▶ Session ─▶ history.Log (history.jsonl)
//	judge (every Window: truth now, safety checkers, retire) ───┘
//	end: HealAll, release holds, rerun in doubt, truth, every checker on the record
func Run(ctx context.Context, env harness.Environment, client harness.Client, cfg Config) *Result {
	cfg, err := cfg.withDefaults()
	res := &Result{Seed: cfg.Seed, Schedule: cfg.Schedule, Dir: cfg.Dir, Started: time.Now()}
	if err != nil {
		res.Err = err
		return res
	}
	if history.IsRecord(cfg.Dir) {
		res.Err = fmt.Errorf("%w: %s already holds a run record", ErrConfig, cfg.Dir)
		return res
	}
	base, err := url.Parse(env.Endpoints().ProviderURL)
	if err != nil {
		res.Err = fmt.Errorf("provider url: %w", err)
		return res
	}
	log, err := history.CreateLog(cfg.Dir, time.Second)
	if err != nil {
		res.Err = err
		return res
	}
	defer log.Close()
	if err := writeSchedule(cfg.Dir, cfg.Schedule); err != nil {
		res.Err = err
		return res
	}
	s := &soak{
		cfg: cfg, env: env, client: client, log: cfg.Log,
		rnd:    rand.New(rand.NewPCG(uint64(cfg.Seed), 0x736f616b)),
		keys:   map[string]*keyState{},
		slots:  make(chan struct{}, cfg.Concurrency),
		counts: map[string]int{},
	}
	s.session = harness.NewSession(env, client, base, harness.SessionConfig{
		Seed: uint64(cfg.Seed), Log: cfg.Log, Sink: log.Add,
	})
	res.Started = s.session.Started()
	s.run(ctx, res)
	if err := log.Close(); err != nil && res.Err == nil {
		res.Err = err
	}
	if res.Err == nil {
		res.History, res.Truth, res.Err = history.ReadRecord(cfg.Dir)
		if res.Err == nil {
			res.Results = check.Run(res.History, res.Truth, check.All())
		}
	}
	res.Duration = time.Since(res.Started)
	return res
}

func writeSchedule(dir string, ops []Op) error {
	return history.WriteAtomic(filepath.Join(dir, ScheduleFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if ops == nil {
			ops = []Op{}
		}
		return enc.Encode(ops)
	})
}

// kinds are what a soak key can buy, as the property's keys.
var kinds = harness.Kinds()

// keyState follows one live key.
type keyState struct {
	traffic  harness.Traffic
	running  int
	last     history.Type
	lastEnd  time.Time
	judgedAt time.Time // a window judged it after its last end
}

// soak is one run's moving parts.
type soak struct {
	cfg     Config
	env     harness.Environment
	client  harness.Client
	log     *slog.Logger
	session *harness.Session
	rnd     *rand.Rand // the workload's; only its goroutine draws
	slots   chan struct{}

	mu     sync.Mutex
	keys   map[string]*keyState
	pool   [][]string     // recent keys per kind, for repeat purchases
	counts map[string]int // keys made per kind prefix
	// retiredPaid sums the succeeded payments of retired keys, which
	// later truths lack.
	retiredPaid struct{ n, msat, fees int64 }
	lat         []sample // latencies of the last ten seconds
	active      []string // faults in place

	ok, fail, info, shed atomic.Int64
	inflight             atomic.Int64
	ending               atomic.Bool
	rerun, reruns        atomic.Int64
	windows              atomic.Int64
	invalid              atomic.Bool
	firstInvalid         []check.Result
	firstInvalidAt       time.Duration
	stopped              atomic.Bool
}

type sample struct {
	at  time.Time
	lat time.Duration
}

func (s *soak) run(ctx context.Context, res *Result) {
	s.pool = make([][]string, len(kinds))
	tctx, cancel := context.WithTimeout(ctx, s.cfg.Duration)
	defer cancel()
	go func() {
		select {
		case <-s.cfg.Stop:
			s.stopped.Store(true)
			cancel()
		case <-tctx.Done():
		}
	}()

	var wg sync.WaitGroup
	wg.Go(func() { s.workload(tctx, ctx) })
	wg.Go(func() { s.nemesis(tctx) })
	jctx, stopJudge := context.WithCancel(ctx)
	judged := make(chan struct{})
	go func() { defer close(judged); s.judge(jctx, cancel) }()
	pctx, stopProgress := context.WithCancel(ctx)
	progressed := make(chan struct{})
	go func() { defer close(progressed); s.progress(pctx) }()
	wg.Wait() // traffic over, its attempts ended, the nemesis's faults healed
	stopJudge()
	<-judged
	res.Stopped = s.stopped.Load()

	if ctx.Err() != nil {
		res.Err = fmt.Errorf("soak abandoned: %w", ctx.Err())
		stopProgress()
		<-progressed
		res.Status = s.status()
		return
	}
	res.Err = s.finish(ctx)
	stopProgress()
	<-progressed
	res.Status = s.status()
	s.mu.Lock()
	res.FirstInvalid, res.FirstInvalidAt = s.firstInvalid, s.firstInvalidAt
	s.mu.Unlock()
}

// workload offers Rate purchases a second until ctx ends, then waits for
// the attempts it started. The attempts run on actx: the end of the
// traffic does not cut one short (a kill mid-payment would be the
// harness's doing), abandoning the run does.
func (s *soak) workload(ctx, actx context.Context) {
	var attempts sync.WaitGroup
	defer attempts.Wait()
	every := time.Duration(float64(time.Second) / s.cfg.Rate)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.shed.Add(1)
			if s.cfg.Meter != nil {
				s.cfg.Meter.Shed()
			}
			continue
		}
		tr := s.draw()
		attempts.Go(func() {
			defer func() { <-s.slots }()
			s.attempt(actx, tr)
		})
	}
}

// draw chooses the next purchase: a kind, then a new key of it or, one
// time in five, a recent key again.
func (s *soak) draw() harness.Traffic {
	k := s.rnd.IntN(len(kinds))
	s.mu.Lock()
	defer s.mu.Unlock()
	if pool := s.pool[k]; len(pool) > 0 && s.rnd.IntN(5) == 0 {
		key := pool[s.rnd.IntN(len(pool))]
		return s.keys[key].traffic
	}
	kind := kinds[k]
	s.counts[kind.Prefix]++
	key := kind.Prefix + strconv.Itoa(s.counts[kind.Prefix])
	tr := harness.Traffic{
		Key: key, Service: kind.Service, Method: kind.Method,
		MaxCostSat: harness.DefaultMaxCostSat, ClientTimeout: s.cfg.ClientTimeout,
	}
	s.keys[key] = &keyState{traffic: tr}
	s.pool[k] = append(s.pool[k], key)
	if len(s.pool[k]) > s.cfg.Keys {
		s.pool[k] = s.pool[k][1:]
	}
	return tr
}

func (s *soak) attempt(ctx context.Context, tr harness.Traffic) {
	s.mu.Lock()
	s.keys[tr.Key].running++
	s.mu.Unlock()
	s.inflight.Add(1)
	if s.cfg.Meter != nil {
		s.cfg.Meter.InFlight(1)
	}
	p := s.session.Plan(tr)
	start := time.Now()
	op := s.session.Begin(tr.Key)
	r, err := s.client.Purchase(ctx, p)
	e := s.session.End(op, r, err, time.Time{})
	lat := time.Since(start)
	s.inflight.Add(-1)

	switch e.Type {
	case history.OK:
		s.ok.Add(1)
	case history.Fail:
		s.fail.Add(1)
	default:
		s.info.Add(1)
	}
	if s.cfg.Meter != nil {
		s.cfg.Meter.InFlight(-1)
		s.cfg.Meter.Purchase(e.Type, lat)
	}
	now := time.Now()
	s.mu.Lock()
	k := s.keys[tr.Key]
	k.running--
	k.last, k.lastEnd = e.Type, now
	s.lat = append(s.lat, sample{at: now, lat: lat})
	s.mu.Unlock()
}

// runningKeys are the keys with an attempt running.
func (s *soak) runningKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, st := range s.keys {
		if st.running > 0 {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// nemesis carries the schedule out until ctx ends, then heals what it
// put in place.
func (s *soak) nemesis(ctx context.Context) {
	start := time.Now()
	for _, op := range s.cfg.Schedule {
		if !sleepUntil(ctx, start.Add(op.At)) {
			break
		}
		f, err := s.fault(op)
		if err != nil {
			s.log.Warn("nemesis", "op", op.Fault, "err", err)
			continue
		}
		ictx, cancel := context.WithTimeout(ctx, op.For+time.Minute)
		a, err := s.session.Inject(ictx, f)
		cancel()
		if err != nil {
			continue // recorded as fault.error
		}
		s.setActive(a.Name(), true)
		sleepUntil(ctx, time.Now().Add(op.For))
		if err := a.Heal(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("nemesis heal", "fault", a.Name(), "err", err)
		}
		if strings.Contains(op.Fault, string(fakeprovider.HoldInvoice)) {
			// Disarming the knob leaves what it held held until the
			// HTLC's expiry, blocks away: the healed provider settles
			// it, as a hold-and-settle provider would (Finish does too).
			s.settleHolds(context.WithoutCancel(ctx))
		}
		s.setActive(a.Name(), false)
	}
}

func (s *soak) settleHolds(ctx context.Context) {
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if a, err := s.session.Inject(hctx, fault.ResolveHolds{}); err == nil {
		_ = a.Heal(hctx)
	}
}

func (s *soak) setActive(name string, on bool) {
	s.mu.Lock()
	if on {
		s.active = append(s.active, name)
	} else if i := slices.Index(s.active, name); i >= 0 {
		s.active = slices.Delete(s.active, i, i+1)
	}
	n := len(s.active)
	s.mu.Unlock()
	if s.cfg.Meter != nil {
		s.cfg.Meter.FaultsActive(n)
	}
}

// fault is the fault an op names: an entry of the property's table, or a
// crash of the client at a phase.
func (s *soak) fault(op Op) (harness.Fault, error) {
	if p, ok := crashPhase(op.Fault); ok {
		return crash{phase: p, within: op.For, running: s.runningKeys}, nil
	}
	f, ok := property.FaultByName(op.Fault)
	if !ok {
		return nil, fmt.Errorf("%w: unknown fault %q", ErrBadSchedule, op.Fault)
	}
	return f, nil
}

func sleepUntil(ctx context.Context, at time.Time) bool {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// counter is a backend that counts payment phases (the live backend).
type counter interface {
	Count(p harness.Phase) int
}

// crash kills every running attempt of the client (kill -9) the next time
// a phase happens, within its window.
type crash struct {
	phase   harness.Phase
	within  time.Duration
	running func() []string
}

func (c crash) Name() string { return CrashPrefix + string(c.phase) }

func (c crash) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	cn, ok := env.Backend.(counter)
	if !ok {
		return nil, fmt.Errorf("%s: the backend does not count phases", c.Name())
	}
	wctx, cancel := context.WithTimeout(ctx, c.within)
	defer cancel()
	if err := env.Backend.Await(wctx, c.phase, cn.Count(c.phase)+1); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", c.Name(), harness.ErrNotTriggered, err)
	}
	var errs []error
	killed := 0
	for _, k := range c.running() {
		_, err := fault.KillClient{Key: k}.Inject(ctx, env)
		if err == nil {
			killed++
		}
		errs = append(errs, err)
	}
	if killed == 0 {
		return nil, fmt.Errorf("%s: nothing killed: %w", c.Name(), errors.Join(errs...))
	}
	return func(context.Context) error { return nil }, nil
}

// judge runs the safety checkers on what is live every window, samples
// the truth, and retires the keys judged for good. At the first invalid
// verdict it reports it, and ends the traffic when told to.
func (s *soak) judge(ctx context.Context, endTraffic context.CancelFunc) {
	t := time.NewTicker(s.cfg.Window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.window(ctx, endTraffic)
	}
}

// window judges the keys at rest: no attempt running while the truth
// was read, and none since. The history and the truth then agree on
// them (a purchase in flight has requests the truth may or may not show
// yet); a key in flight is judged by a later window.
func (s *soak) window(ctx context.Context, endTraffic context.CancelFunc) {
	started := time.Now()
	before := s.atRest()
	through := s.session.Len()
	truth, err := s.session.Truth(ctx, s.session.Planned(), true)
	if err != nil {
		s.log.Warn("soak truth", "err", err)
	}
	if ctx.Err() != nil {
		return // cut short by the end: the last sample stands
	}
	s.meterPayments(truth)
	after := s.atRest()
	judged := map[string]bool{}
	for k, end := range before {
		if after[k] == end {
			judged[k] = true
		}
	}
	// The sample a dead harness leaves: it speaks for the history before
	// it was read, but for the purchases in flight meanwhile.
	busy := s.busy(judged)
	sample := truth.Only(func(k string) bool { return !slices.Contains(busy, k) })
	sample.Sampled, sample.Through, sample.Busy = true, through, busy
	if err := history.WriteTruth(s.cfg.Dir, sample); err != nil {
		s.log.Warn("soak truth sample", "err", err)
	}
	var h history.History
	for _, e := range s.session.History() {
		if e.Key == "" || judged[e.Key] {
			h = append(h, e)
		}
	}
	now := truth.Only(func(k string) bool { return judged[k] })
	rs := check.Run(h, now, property.Safety())
	s.windows.Add(1)
	for _, r := range rs {
		if s.cfg.Meter != nil {
			s.cfg.Meter.Verdict(r.Checker, r.Validity)
		}
	}
	if bad := property.Invalid(rs); len(bad) > 0 && !s.invalid.Swap(true) {
		at := time.Since(s.session.Started())
		s.mu.Lock()
		s.firstInvalid, s.firstInvalidAt = bad, at
		s.mu.Unlock()
		if s.cfg.OnInvalid != nil {
			s.cfg.OnInvalid(at, bad)
		}
		if s.cfg.StopOnInvalid {
			s.stopped.Store(true)
			endTraffic()
		}
	}
	s.retire(started, judged, truth)
}

// busy lists the live keys a window could not judge: in flight, or
// changed while the truth was read.
func (s *soak) busy(judged map[string]bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.keys {
		if !judged[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// atRest maps the keys with no attempt running to when their last
// attempt ended.
func (s *soak) atRest() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]time.Time{}
	for k, st := range s.keys {
		if st.running == 0 && !st.lastEnd.IsZero() {
			out[k] = st.lastEnd
		}
	}
	return out
}

// retire forgets the keys that ended for good (ok or failed), were judged
// at rest by a window since, run no more and will not be bought again.
// Their part of the window's truth is appended to the record first
// (history.AppendRetired): the backend forgets them, and its later truths
// lack them. A window whose truth has errors retires nothing: what it
// missed would be missing from the record for good.
func (s *soak) retire(at time.Time, judged map[string]bool, truth *history.Truth) {
	s.mu.Lock()
	recent := map[string]bool{}
	for _, pool := range s.pool {
		for _, k := range pool {
			recent[k] = true
		}
	}
	var gone []string
	for k, st := range s.keys {
		if st.running > 0 || recent[k] || st.lastEnd.IsZero() {
			continue
		}
		if st.last == history.Info {
			continue // in doubt: rerun at the end
		}
		if st.judgedAt.IsZero() {
			if judged[k] {
				st.judgedAt = at // judged now; retired next window
			}
			continue
		}
		gone = append(gone, k)
	}
	// The latencies of the last ten seconds only.
	cut := time.Now().Add(-10 * time.Second)
	i := sort.Search(len(s.lat), func(i int) bool { return s.lat[i].at.After(cut) })
	s.lat = slices.Clone(s.lat[i:])
	s.mu.Unlock()
	if len(gone) == 0 || len(truth.Errors) > 0 {
		return
	}
	set := make(map[string]bool, len(gone))
	for _, k := range gone {
		set[k] = true
	}
	part := truth.Of(func(k string) bool { return set[k] })
	if err := history.AppendRetired(s.cfg.Dir, part); err != nil {
		s.log.Warn("soak retire", "err", err)
		return
	}
	s.mu.Lock()
	for _, k := range gone {
		delete(s.keys, k)
	}
	for _, p := range part.Payments {
		if p.Status == "SUCCEEDED" {
			s.retiredPaid.n++
			s.retiredPaid.msat += p.ValueMsat
			s.retiredPaid.fees += p.FeeMsat
		}
	}
	s.mu.Unlock()
	s.session.Retire(gone)
}

// allPlanned is the plan of every key the soak made, live or retired:
// keys are named by kind and number, so the plan is rebuilt from the
// counts rather than kept.
func (s *soak) allPlanned() history.Plan {
	s.mu.Lock()
	counts := map[string]int{}
	for k, v := range s.counts {
		counts[k] = v
	}
	s.mu.Unlock()
	var plan history.Plan
	u, _ := url.Parse(s.env.Endpoints().ProviderURL)
	for _, kind := range kinds {
		for n := 1; n <= counts[kind.Prefix]; n++ {
			tr := harness.Traffic{Key: kind.Prefix + strconv.Itoa(n), Service: kind.Service, Method: kind.Method, MaxCostSat: harness.DefaultMaxCostSat}
			plan.Purchases = append(plan.Purchases, tr.Planned(u))
		}
	}
	return plan
}

func (s *soak) meterPayments(t *history.Truth) {
	if s.cfg.Meter == nil {
		return
	}
	s.mu.Lock()
	n, paid, fees := s.retiredPaid.n, s.retiredPaid.msat, s.retiredPaid.fees
	s.mu.Unlock()
	for _, p := range t.Payments {
		if p.Status == "SUCCEEDED" {
			n++
			paid += p.ValueMsat
			fees += p.FeeMsat
		}
	}
	s.cfg.Meter.Payments(n, paid, fees)
}

// finish ends the soak as the runner ends a scenario: heal everything,
// release what the provider holds, rerun what is in doubt, and write the
// final truth (every key's plan) into the record.
func (s *soak) finish(ctx context.Context) error {
	s.ending.Store(true)
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var errs []error
	errs = append(errs, s.session.HealAll(hctx))
	if _, err := s.session.Inject(hctx, fault.ResolveHolds{}); err != nil {
		s.log.Info("release held invoices", "err", err)
	}
	errs = append(errs, s.session.HealAll(hctx))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// One rerun after another, as the runner does, each with its own
	// deadline (the client's, and a margin for the adapter's kill): a
	// shared deadline ran out on a long list, and reruns at once made
	// processes of one client wait on its journal past their timeouts;
	// either cut reruns short, the harness's doing, not the client's.
	doubt := s.session.InDoubt()
	s.reruns.Store(int64(len(doubt)))
	for i, tr := range doubt {
		s.rerun.Store(int64(i + 1))
		actx, cancel := context.WithTimeout(ctx, s.cfg.ClientTimeout+time.Minute)
		if err := s.session.Attempt(actx, s.session.Plan(tr)); err != nil {
			s.log.Info("resolution attempt reported nothing", "key", tr.Key, "err", err)
		}
		cancel()
	}
	truth, err := s.session.Truth(ctx, s.allPlanned(), false)
	if err != nil {
		s.log.Warn("final truth", "err", err)
	}
	s.meterPayments(truth)
	return history.WriteTruth(s.cfg.Dir, truth)
}

// progress reports the status every second until ctx ends.
func (s *soak) progress(ctx context.Context) {
	if s.cfg.OnProgress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.cfg.OnProgress(s.status())
			return
		case <-t.C:
			s.cfg.OnProgress(s.status())
		}
	}
}

func (s *soak) status() Status {
	st := Status{
		Elapsed: time.Since(s.session.Started()), Duration: s.cfg.Duration,
		OK: s.ok.Load(), Fail: s.fail.Load(), Info: s.info.Load(), Shed: s.shed.Load(),
		InFlight: int(s.inflight.Load()), Windows: int(s.windows.Load()), Verdict: check.Valid,
		Ending: s.ending.Load(), Rerun: int(s.rerun.Load()), Reruns: int(s.reruns.Load()),
	}
	if st.Windows == 0 {
		st.Verdict = check.Unknown
	}
	if s.invalid.Load() {
		st.Verdict = check.Invalid
	}
	cut := time.Now().Add(-10 * time.Second)
	s.mu.Lock()
	var lats []time.Duration
	for _, x := range s.lat {
		if x.at.After(cut) {
			lats = append(lats, x.lat)
		}
	}
	st.Faults = slices.Clone(s.active)
	s.mu.Unlock()
	span := min(10*time.Second, st.Elapsed)
	if span > 0 {
		st.Rate = float64(len(lats)) / span.Seconds()
	}
	if len(lats) > 0 {
		slices.Sort(lats)
		st.P50 = lats[len(lats)*50/100]
		st.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return st
}
