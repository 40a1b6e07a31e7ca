package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// ErrNeedsKiller: the scenario kills the client, and this client cannot be
// killed (an in-process client). The run is Unknown.
var ErrNeedsKiller = errors.New("scenario kills the client; this client cannot be killed")

// ErrNotTriggered is returned by a fault whose trigger never came before
// the traffic ended. It is recorded, not a harness failure: the scenario's
// coverage says whether that matters.
var ErrNotTriggered = errors.New("fault trigger never came")

// Scheduled is an optional Fault ability: a fault that heals itself. The
// runner calls HealAfter once the fault is in place and heals it when
// HealAfter returns nil (fault.For, fault.Until).
type Scheduled interface {
	HealAfter(ctx context.Context, env *Env) error
}

// Runner runs scenarios: it starts a backend and a client, drives the
// traffic while the faults fire, heals, collects the ground truth and
// checks it.
//
//	start ─▶ faults ∥ traffic ─▶ heal ─▶ resolve ─▶ truth ─▶ check ─▶ Run
type Runner struct {
	start     StartFunc
	newClient ClientFunc
	log       *slog.Logger
	reportDir string
	client    string
}

// Option configures a Runner.
type Option func(*Runner) error

// WithLogger sets the runner's logger.
func WithLogger(l *slog.Logger) Option {
	return func(r *Runner) error {
		if l == nil {
			return errors.New("nil logger")
		}
		r.log = l
		return nil
	}
}

// WithReportDir makes the runner write each run's history.jsonl and
// truth.json into dir/<scenario>/.
func WithReportDir(dir string) Option {
	return func(r *Runner) error {
		if dir == "" {
			return errors.New("empty report dir")
		}
		r.reportDir = dir
		return nil
	}
}

// WithClientName names the client under test in reports.
func WithClientName(name string) Option {
	return func(r *Runner) error { r.client = name; return nil }
}

// NewRunner builds a runner over a backend and a client factory.
func NewRunner(start StartFunc, newClient ClientFunc, opts ...Option) (*Runner, error) {
	if start == nil || newClient == nil {
		return nil, errors.New("runner needs a backend and a client")
	}
	r := &Runner{start: start, newClient: newClient, log: slog.New(slog.DiscardHandler), client: "client"}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("runner option: %w", err)
		}
	}
	return r, nil
}

// Run runs one scenario with a seed. It never panics on a harness failure:
// the failure is in Run.Err and the verdict is Unknown.
func (r *Runner) Run(ctx context.Context, sc Scenario, seed int64) *Run {
	run := &Run{Scenario: sc.Name, Description: sc.Description, Seed: seed, Started: time.Now(), Client: r.client}
	defer func() { run.Duration = time.Since(run.Started) }()
	if err := sc.Validate(); err != nil {
		run.Err = err
		return run
	}
	log := r.log.With("scenario", sc.Name, "seed", seed)
	log.Info("scenario start", "replay", run.Replay())

	env, err := r.start(ctx, sc.Network, log)
	if err != nil {
		run.Err = fmt.Errorf("start backend: %w", err)
		return run
	}
	defer func() {
		if err := env.Close(); err != nil {
			log.Warn("close backend", "err", err)
		}
	}()
	stateDir, err := os.MkdirTemp("", "l402chaos-client-")
	if err != nil {
		run.Err = err
		return run
	}
	defer os.RemoveAll(stateDir)
	cl, err := r.newClient(ctx, env.Endpoints(), stateDir)
	if err != nil {
		run.Err = fmt.Errorf("start client: %w", err)
		return run
	}
	if c, ok := cl.(io.Closer); ok {
		defer c.Close()
	}
	if _, ok := cl.(Killer); sc.NeedsKiller && !ok {
		run.Err = ErrNeedsKiller
		return run
	}

	rec := history.NewRecorder(func(e history.Event) { log.Debug("history", "event", e.String()) })
	x := &execution{
		sc: sc, log: log, rec: rec, client: cl, backend: env,
		env: &Env{Backend: env, Client: cl, Rand: rand.New(rand.NewPCG(uint64(seed), 0x6c343032)), Log: log, Record: rec.Add},
	}
	if x.base, err = url.Parse(env.Endpoints().ProviderURL); err != nil {
		run.Err = fmt.Errorf("provider url: %w", err)
		return run
	}
	plan := planFor(sc, x.base)
	run.Err = x.execute(ctx)
	run.History = rec.History()

	tctx, cancel := context.WithTimeout(ctx, truthTimeout)
	truth, terr := env.Truth(tctx, plan)
	cancel()
	if truth == nil {
		truth = &history.Truth{}
	}
	truth.Started = rec.Started()
	if terr != nil {
		truth.Errors = append(truth.Errors, terr.Error())
	}
	run.Truth = truth
	checkers := sc.Checkers
	if checkers == nil {
		checkers = check.All()
	}
	run.Results = check.Run(run.History, truth, checkers)
	for _, c := range sc.Coverage {
		run.Coverage = append(run.Coverage, CoverageResult{Name: c.Name, Reached: c.Reached != nil && c.Reached(run.History, truth)})
	}
	if r.reportDir != "" {
		run.Dir = filepath.Join(r.reportDir, sc.Name)
		if err := writeRunFiles(run); err != nil {
			log.Warn("write run files", "err", err)
		}
	}
	log.Info("scenario end", "verdict", run.Verdict(), "duration", time.Since(run.Started).Round(time.Millisecond))
	return run
}

func writeRunFiles(run *Run) error {
	if err := os.MkdirAll(run.Dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(run.Dir, "history.jsonl"))
	if err != nil {
		return err
	}
	if err := run.History.WriteJSONL(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return history.WriteFile(filepath.Join(run.Dir, "truth.json"), run.Truth)
}

// planFor turns the scenario's traffic into the plan the checkers read.
func planFor(sc Scenario, base *url.URL) history.Plan {
	var plan history.Plan
	seen := map[string]bool{}
	for _, t := range sc.Traffic {
		if seen[t.Key] {
			continue
		}
		seen[t.Key] = true
		p := purchaseFor(t, base)
		plan.Purchases = append(plan.Purchases, history.PlannedPurchase{
			Key: t.Key, Method: p.Method, URL: p.URL, Path: resourcePath(t),
			Service: t.Service, MaxCostMsat: p.MaxCostSat * 1000, Instance: t.Instance,
		})
	}
	return plan
}

func resourcePath(t Traffic) string {
	res := t.Resource
	if res == "" {
		res = "p/" + t.Key
	}
	return "/" + t.Service + "/" + strings.TrimPrefix(res, "/")
}

func purchaseFor(t Traffic, base *url.URL) Purchase {
	u := *base
	u.Path = resourcePath(t)
	method := t.Method
	if method == "" {
		method = "GET"
		if t.Service == "ops" {
			method = "POST"
		}
	}
	body := []byte(t.Body)
	if method == "POST" && len(body) == 0 {
		body = []byte(`{"purchase":"` + t.Key + `"}`)
	}
	maxCost := t.MaxCostSat
	if maxCost == 0 {
		maxCost = 1000
	}
	timeout := t.ClientTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	return Purchase{Key: t.Key, Method: method, URL: u.String(), Body: body, MaxCostSat: maxCost, Timeout: timeout, Instance: t.Instance}
}

// execution is one run's moving parts.
type execution struct {
	sc      Scenario
	log     *slog.Logger
	rec     *history.Recorder
	client  Client
	backend Backend
	base    *url.URL // the provider, through its proxy
	env     *Env

	mu    sync.Mutex
	heals []*healer
	procs int
	last  map[string]history.Event // last completion per key
}

// healer records fault.stop the first time it runs.
type healer struct {
	once sync.Once
	name string
	heal Heal
	rec  *history.Recorder
	err  error
}

func (h *healer) run(ctx context.Context) error {
	h.once.Do(func() {
		hctx, cancel := context.WithTimeout(ctx, healTimeout)
		defer cancel()
		h.err = h.heal(hctx)
		detail := ""
		if h.err != nil {
			detail = "heal failed: " + h.err.Error()
		}
		h.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: h.name, Detail: detail})
	})
	return h.err
}

func (x *execution) execute(ctx context.Context) error {
	timeout := x.sc.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fctx, stopFaults := context.WithCancel(tctx)
	defer stopFaults()

	var faults sync.WaitGroup
	var setupErr error
	for _, f := range x.sc.Setup {
		h, err := x.injectNow(tctx, f)
		if err != nil {
			setupErr = fmt.Errorf("setup fault %s: %w", f.Name(), err)
			break
		}
		if sf, ok := f.(Scheduled); ok {
			faults.Add(1)
			go func() {
				defer faults.Done()
				x.scheduleHeal(fctx, sf, h)
			}()
		}
	}
	for _, f := range x.sc.Faults {
		if setupErr != nil {
			break
		}
		faults.Add(1)
		go func() {
			defer faults.Done()
			x.inject(fctx, f)
		}()
	}
	x.last = map[string]history.Event{}
	trafficErr := setupErr
	if setupErr == nil {
		trafficErr = x.traffic(tctx)
	}
	stopFaults()
	faults.Wait()

	// Heal everything, newest first, on a context of its own: the traffic
	// deadline may have passed.
	var errs []error
	if trafficErr != nil {
		errs = append(errs, trafficErr)
	}
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout*2)
	x.mu.Lock()
	heals := append([]*healer(nil), x.heals...)
	x.mu.Unlock()
	for i := len(heals) - 1; i >= 0; i-- {
		if err := heals[i].run(hctx); err != nil {
			errs = append(errs, fmt.Errorf("heal %s: %w", heals[i].name, err))
		}
	}
	hcancel()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// After healing, every purchase left in doubt is run once more: a
	// client must resolve what it left open (recover on restart).
	rctx, rcancel := context.WithTimeout(ctx, timeout)
	defer rcancel()
	x.resolve(rctx)
	return nil
}

// injectNow puts a fault in place and registers its heal.
func (x *execution) injectNow(ctx context.Context, f Fault) (*healer, error) {
	heal, err := f.Inject(ctx, x.env)
	if err != nil {
		if heal != nil {
			// Half in place: keep the heal for the end.
			x.mu.Lock()
			x.heals = append(x.heals, &healer{name: f.Name(), heal: heal, rec: x.rec})
			x.mu.Unlock()
		}
		return nil, err
	}
	x.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: f.Name()})
	h := &healer{name: f.Name(), heal: heal, rec: x.rec}
	x.mu.Lock()
	x.heals = append(x.heals, h)
	x.mu.Unlock()
	return h, nil
}

// scheduleHeal heals h when the fault's schedule says so.
func (x *execution) scheduleHeal(ctx context.Context, s Scheduled, h *healer) {
	if err := s.HealAfter(ctx, x.env); err != nil {
		return // the end of the traffic: the final heal does it
	}
	if err := h.run(context.WithoutCancel(ctx)); err != nil {
		x.log.Warn("scheduled heal", "fault", h.name, "err", err)
	}
}

func (x *execution) inject(ctx context.Context, f Fault) {
	h, err := x.injectNow(ctx, f)
	if err != nil {
		detail := "not injected: " + err.Error()
		if errors.Is(err, ErrNotTriggered) || ctx.Err() != nil {
			detail = "never fired: " + err.Error()
		}
		x.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultError, Fault: f.Name(), Detail: detail})
		x.log.Info("fault not injected", "fault", f.Name(), "err", err)
		return
	}
	if s, ok := f.(Scheduled); ok {
		x.scheduleHeal(ctx, s, h)
	}
}

// traffic runs the purchases: groups of concurrent purchases one after
// another.
func (x *execution) traffic(ctx context.Context) error {
	var groups [][]Traffic
	for _, t := range x.sc.Traffic {
		if t.Concurrent && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], t)
			continue
		}
		groups = append(groups, []Traffic{t})
	}
	for _, g := range groups {
		var wg sync.WaitGroup
		for _, t := range g {
			n := max(t.Processes, 1)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					x.purchase(ctx, t)
				}()
			}
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("traffic: %w", err)
		}
	}
	return nil
}

// purchase runs a key until the client gives a report: a crash or a kill
// (an Info without a report) is followed by a restart with the same key
// and state, up to the traffic's Attempts.
func (x *execution) purchase(ctx context.Context, t Traffic) {
	if t.Wait > 0 {
		timer := time.NewTimer(t.Wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
	if t.After != nil {
		if err := x.backend.Await(ctx, t.After.Phase, t.After.Count); err != nil {
			x.log.Warn("purchase trigger never came", "key", t.Key, "err", err)
			return
		}
	}
	attempts := t.Attempts
	if attempts == 0 {
		attempts = 3
	}
	for a := 1; a <= attempts && ctx.Err() == nil; a++ {
		if err := x.attempt(ctx, t, a); err == nil {
			return
		}
	}
}

// attempt runs the client once and records Invoke and its completion. The
// error is non-nil when the client reported nothing usable.
func (x *execution) attempt(ctx context.Context, t Traffic, n int) error {
	p := purchaseFor(t, x.base)
	x.mu.Lock()
	x.procs++
	proc := x.procs
	x.mu.Unlock()
	x.rec.Add(history.Event{Process: proc, Type: history.Invoke, F: history.Purchase, Key: t.Key, Attempt: n})
	res, err := x.client.Purchase(ctx, p)
	e := x.rec.Add(Completion(proc, t.Key, n, res, err))
	x.mu.Lock()
	x.last[t.Key] = e
	x.mu.Unlock()
	return err
}

// Completion is the history event that ends a purchase attempt: OK for
// delivered, Fail for failed, Info for anything else and for an attempt
// that reported nothing usable (err).
func Completion(proc int, key string, attempt int, res history.Result, err error) history.Event {
	e := history.Event{Process: proc, F: history.Purchase, Key: key, Attempt: attempt, Value: &res}
	switch {
	case err != nil:
		e.Type, e.Detail = history.Info, err.Error()
	case res.Outcome == history.Delivered:
		e.Type = history.OK
	case res.Outcome == history.Failed:
		e.Type = history.Fail
	default:
		e.Type = history.Info
	}
	return e
}

// resolve reruns once every key whose last report left the purchase open.
func (x *execution) resolve(ctx context.Context) {
	seen := map[string]bool{}
	for _, t := range x.sc.Traffic {
		if seen[t.Key] {
			continue
		}
		seen[t.Key] = true
		x.mu.Lock()
		e, ok := x.last[t.Key]
		x.mu.Unlock()
		if !ok || !open(e) {
			continue
		}
		x.log.Info("resolving after heal", "key", t.Key)
		if err := x.attempt(ctx, t, e.Attempt+1); err != nil {
			x.log.Info("resolution attempt reported nothing", "key", t.Key, "err", err)
		}
	}
}

// open reports whether a completion leaves the purchase in doubt: any
// Info, paid-but-not-delivered included (the client holds a paid
// credential; once healed it should get what it paid for).
func open(e history.Event) bool { return e.Type == history.Info }
