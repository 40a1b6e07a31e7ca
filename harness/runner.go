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
	"github.com/l402chaos/l402chaos/internal/owned"
)

// ErrNeedsKiller: the scenario kills the client, and this client cannot be
// killed (an in-process client). The run is Unknown.
var ErrNeedsKiller = errors.New("scenario kills the client; this client cannot be killed")

// varySalt is the second word of the variation's PCG seed.
const varySalt = 0x7661727921

// ErrNeedsCrashPoints: the scenario makes the client die at a named point
// inside it, and this client has no crash points.
var ErrNeedsCrashPoints = errors.New("scenario crashes the client at a named point inside it; this client has no crash points")

// ErrChainCut: a node was to be restarted while its link to btcd is
// cut. A restarted LND must reach its chain backend to sync before it
// serves anything, so the restart is refused, on every backend alike,
// and the node keeps running.
var ErrChainCut = errors.New("its chain link is cut: a restarted node could not sync")

// ErrNotHealed: a fault could not be undone at the end of a run (a link
// that would not come up, a node that would not restart). The run never
// reached the healed state that the checkers of a healed run judge
// (check.Final), so those answer Unknown and the run's verdict is
// Unknown unless a checker that holds at every moment found a violation.
var ErrNotHealed = errors.New("a fault could not be healed")

// ErrNeedsIsolation: the scenario cuts a node from the network as a
// whole, and this backend cannot (only the containers backend can).
var ErrNeedsIsolation = errors.New("scenario isolates a node or freezes the provider; this backend cannot (run it with -backend containers)")

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
	replay    func(scenario string, seed int64) string
	events    func(scenario string, e history.Event)
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

// WithReplay sets the command line each run prints to rerun it (default
// ReplayCommand): a driver that runs another client, backend or option
// than the defaults says so in it.
func WithReplay(f func(scenario string, seed int64) string) Option {
	return func(r *Runner) error {
		if f == nil {
			return errors.New("nil replay function")
		}
		r.replay = f
		return nil
	}
}

// ClientDirPrefix names the temporary state directories of the clients
// under test (os.TempDir()/l402chaos-client-*): each names its owner, and
// NewRunner removes those a dead process left.
const ClientDirPrefix = "l402chaos-client-"

// ReferenceDirPrefix names the temporary directories the reference
// client is built into, swept as the client directories are.
const ReferenceDirPrefix = "l402chaos-reference-"

// ClientLogsDir is where a run's record keeps its client's logs.
const ClientLogsDir = "client-logs"

// keepClientLogs copies stateDir/logs into runDir/client-logs and makes
// the history's details name the copies.
func keepClientLogs(stateDir, runDir string, h history.History) error {
	src := filepath.Join(stateDir, "logs")
	if _, err := os.Stat(src); err != nil {
		return nil
	}
	dst := filepath.Join(runDir, ClientLogsDir)
	err := history.CopyDir(src, dst)
	if err != nil {
		return err
	}
	for i := range h {
		if strings.Contains(h[i].Detail, src) {
			h[i].Detail = strings.ReplaceAll(h[i].Detail, src, dst)
		}
	}
	return nil
}

// WithEvents calls f with every event of every run as it is recorded
// (the session's Sink), named by its scenario: a driver's progress
// lines. f must be quick; runs in parallel call it concurrently.
func WithEvents(f func(scenario string, e history.Event)) Option {
	return func(r *Runner) error {
		if f == nil {
			return errors.New("nil events function")
		}
		r.events = f
		return nil
	}
}

// NewRunner builds a runner over a backend and a client factory. It
// removes the client state directories of dead processes first.
func NewRunner(start StartFunc, newClient ClientFunc, opts ...Option) (*Runner, error) {
	if start == nil || newClient == nil {
		return nil, errors.New("runner needs a backend and a client")
	}
	r := &Runner{start: start, newClient: newClient, log: slog.New(slog.DiscardHandler), client: "client", replay: ReplayCommand}
	_ = owned.Sweep(os.TempDir(), []string{ClientDirPrefix, ReferenceDirPrefix}, nil)
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, fmt.Errorf("runner option: %w", err)
		}
	}
	return r, nil
}

// Run runs one scenario with a seed. It never panics on a harness failure:
// the failure is in the result's Err and the verdict is Unknown.
func (r *Runner) Run(ctx context.Context, sc Scenario, seed int64) *check.RunResult {
	run := &check.RunResult{
		Scenario: sc.Name, Description: sc.Description, Seed: seed, Started: time.Now(), Client: r.client,
		Replay: r.replay(sc.Name, seed),
	}
	defer func() { run.Duration = time.Since(run.Started) }()
	if sc.Vary != nil {
		// A source of its own: the variation does not shift the draws
		// the faults make from the session's.
		run.Varied = sc.Vary(rand.New(rand.NewPCG(uint64(seed), varySalt)), &sc)
	}
	if err := sc.Validate(); err != nil {
		run.Err = err
		return run
	}
	log := r.log.With("scenario", sc.Name, "seed", seed)
	log.Info("scenario start", "replay", run.Replay)

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
	if iso, ok := env.(Isolating); sc.NeedsIsolation && (!ok || !iso.CanIsolate()) {
		run.Err = ErrNeedsIsolation
		return run
	}
	stateDir, err := owned.MkdirTemp("", ClientDirPrefix)
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
	if cp, ok := cl.(CrashPointer); sc.NeedsCrashPoints && (!ok || !cp.CrashPoints()) {
		run.Err = ErrNeedsCrashPoints
		return run
	}

	base, err := url.Parse(env.Endpoints().ProviderURL)
	if err != nil {
		run.Err = fmt.Errorf("provider url: %w", err)
		return run
	}
	cfg := SessionConfig{Seed: uint64(seed), Log: log, GRPC: env.Endpoints().ProviderGRPC}
	if r.events != nil {
		cfg.Sink = func(e history.Event) { r.events(sc.Name, e) }
	}
	if c, ok := env.(Clock); ok {
		cfg.Now = c.Now
	}
	s := NewSession(env, cl, base, cfg)
	for _, t := range sc.Traffic {
		s.Plan(t)
	}
	x := &execution{sc: sc, log: log, s: s}
	run.Err = x.execute(ctx)
	run.History = s.History()
	run.Results, run.Truth, _ = s.Judge(ctx, sc.Checkers, false)
	if errors.Is(run.Err, ErrNotHealed) {
		// The harness's failure, not the client's: what holds only of a
		// healed run is not judged.
		cs := sc.Checkers
		if cs == nil {
			cs = check.All()
		}
		run.Results = check.Unhealed(run.Results, cs, "the harness could not heal a fault")
	}
	for _, c := range sc.Coverage {
		run.Coverage = append(run.Coverage, check.CoverageResult{Name: c.Name, Reached: c.Reached != nil && c.Reached(run.History, run.Truth)})
	}
	if r.reportDir != "" {
		run.Dir = filepath.Join(r.reportDir, sc.Name)
		// The client's logs (an exec client's stderr per attempt) go
		// with the record, and the history names them there: its state
		// directory, journal and credentials included, is removed.
		if err := keepClientLogs(stateDir, run.Dir, run.History); err != nil {
			log.Warn("keep the client's logs", "err", err)
		}
		if err := history.WriteRecord(run.Dir, run.History, run.Truth); err != nil {
			log.Warn("write run files", "err", err)
		}
	}
	log.Info("scenario end", "verdict", run.Verdict(), "duration", time.Since(run.Started).Round(time.Millisecond))
	return run
}

// execution is one scripted run: the scenario's schedule driven through
// its Session, faults and traffic each in goroutines of their own.
type execution struct {
	sc  Scenario
	log *slog.Logger
	s   *Session
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

	// A fault that lasts a span holds for all of it, even past the end
	// of the traffic (a "down for 8 s" that ended with a purchase 86 ms
	// in would not be the scenario's fault); any other schedule ends
	// with the traffic. Both end with the scenario's timeout.
	healCtx := func(f Fault) context.Context {
		if lasts(f) > 0 {
			return tctx
		}
		return fctx
	}
	var faults sync.WaitGroup
	var setupErr error
	for _, f := range x.sc.Setup {
		a, err := x.s.Inject(tctx, f)
		if err != nil {
			setupErr = fmt.Errorf("setup fault: %w", err)
			break
		}
		if sf, ok := f.(Scheduled); ok {
			faults.Go(func() { x.scheduleHeal(healCtx(f), sf, a) })
		}
	}
	for _, f := range x.sc.Faults {
		if setupErr != nil {
			break
		}
		faults.Go(func() {
			a, err := x.s.Inject(fctx, f)
			if err != nil {
				return // recorded as fault.error
			}
			if sf, ok := f.(Scheduled); ok {
				x.scheduleHeal(healCtx(f), sf, a)
			}
		})
	}
	trafficErr := setupErr
	if setupErr == nil {
		trafficErr = x.traffic(tctx)
	}
	stopFaults()
	faults.Wait()

	// Heal everything, newest first, on a context of its own: the traffic
	// deadline may have passed.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), healTimeout*2)
	healErr := x.s.HealAll(hctx)
	hcancel()
	if err := errors.Join(trafficErr, healErr); err != nil {
		return err
	}
	// After healing, every purchase left in doubt is run once more: a
	// client must resolve what it left open (recover on restart).
	rctx, rcancel := context.WithTimeout(ctx, timeout)
	defer rcancel()
	for _, t := range x.s.InDoubt() {
		x.log.Info("resolving after heal", "key", t.Key)
		if err := x.s.Attempt(rctx, x.s.Plan(t)); err != nil {
			x.log.Info("resolution attempt reported nothing", "key", t.Key, "err", err)
		}
	}
	return nil
}

// scheduleHeal heals a when the fault's schedule says so.
func (x *execution) scheduleHeal(ctx context.Context, sf Scheduled, a *Active) {
	if err := sf.HealAfter(ctx, x.s.Env()); err != nil {
		return // the end of the traffic: the final heal does it
	}
	if err := a.Heal(context.WithoutCancel(ctx)); err != nil {
		x.log.Warn("scheduled heal", "fault", a.Name(), "err", err)
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
			for range max(t.Processes, 1) {
				wg.Go(func() { x.purchase(ctx, t) })
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
		actx := ctx
		if !t.Concurrent {
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, lateTriggerTimeout)
			defer cancel()
		}
		if err := x.s.Env().Backend.Await(actx, t.After.Phase, t.After.Count); err != nil {
			x.log.Warn("purchase trigger never came: the purchase is not made", "key", t.Key, "err", err)
			return
		}
	}
	attempts := t.Attempts
	if attempts == 0 {
		attempts = DefaultAttempts
	}
	p := x.s.Plan(t)
	for a := 1; a <= attempts && ctx.Err() == nil; a++ {
		// Only the first attempt dies at the crash point: the restart
		// must recover.
		p.CrashAt = ""
		if a == 1 {
			p.CrashAt = t.CrashAt
		}
		if err := x.s.Attempt(ctx, p); err == nil {
			return
		}
	}
}
