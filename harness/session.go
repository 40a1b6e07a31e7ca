package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Session is the one run loop every driver shares: it owns a run's
// history, the faults in place and their heals, the process counter, the
// attempts and last completion of every purchase key, and the plan the
// checkers read. Drivers decide what happens next (the scripted Runner
// from a Scenario, property.Machine from drawn steps, a soak from its
// generator); the Session does it and records it.
//
//	driver ──Plan/Attempt/Begin+End──▶ Session ──▶ Client ──▶ provider, payer LND
//	       ──Inject/HealAll─────────▶    │     ──▶ Fault ───▶ Backend
//	       ──Judge──────────────────▶    │     ──▶ Backend.Truth + check.Run
//	                                     └──▶ Recorder: history (fault windows included)
//
// A Session is safe for concurrent use: the Runner attempts and injects
// from many goroutines.
type Session struct {
	backend Backend
	client  Client
	base    *url.URL
	grpc    string // the provider's gRPC face, host:port
	log     *slog.Logger
	rec     *history.Recorder
	env     *Env

	mu       sync.Mutex
	faults   []*Active // in injection order; healed ones leave at HealAll
	procs    int
	attempts map[string]int
	last     map[string]history.Event // last completion per key
	planned  map[string]Traffic
	order    []string // keys in the order they were planned
}

// SessionConfig configures a Session. The zero value is a wall-clock
// history, seed 0 and no logs.
type SessionConfig struct {
	// Seed seeds Env.Rand, the source every random choice of a fault is
	// drawn from.
	Seed uint64
	// Now is the history's clock (the simulator's virtual clock); nil is
	// time.Now.
	Now func() time.Time
	Log *slog.Logger
	// Sink, if set, sees every event as it is recorded, in index order
	// (history.Log.Add: a record that survives the harness).
	Sink func(history.Event)
	// GRPC is the provider's gRPC face as the client reaches it
	// (host:port), for gRPC purchases.
	GRPC string
}

// NewSession starts a history over a backend and the client under test.
// base is the provider's URL as the client reaches it.
func NewSession(b Backend, c Client, base *url.URL, cfg SessionConfig) *Session {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s := &Session{
		backend: b, client: c, base: base, grpc: cfg.GRPC, log: log,
		rec: history.NewRecorderClock(now, func(e history.Event) {
			log.Debug("history", "event", e.String())
			if cfg.Sink != nil {
				cfg.Sink(e)
			}
		}),
		attempts: map[string]int{}, last: map[string]history.Event{}, planned: map[string]Traffic{},
	}
	s.env = &Env{
		Backend: b, Client: c, Log: log, Record: s.rec.Add,
		Rand: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
	}
	return s
}

// Env is what faults act on.
func (s *Session) Env() *Env { return s.env }

// History is the history so far.
func (s *Session) History() history.History { return s.rec.History() }

// Len is how many events were recorded so far, retired ones included:
// the index the next event takes.
func (s *Session) Len() int64 { return s.rec.Len() }

// Since is the history from index i on (what is still kept).
func (s *Session) Since(i int64) history.History { return s.rec.Since(i) }

// Retire forgets purchase keys a long run has judged for good: their
// events leave the history kept in memory (a Sink has their record) and
// they leave the plan, and a backend that is a Forgetter forgets them,
// so that memory and each judgement stay the size of what is live.
// Nemesis events stay. A driver that retires keys writes their truth
// first (history.AppendRetired): the backend's later truths lack them.
func (s *Session) Retire(keys []string) {
	if len(keys) == 0 {
		return
	}
	gone := map[string]bool{}
	var paths []string
	s.mu.Lock()
	for _, k := range keys {
		gone[k] = true
		if t, ok := s.planned[k]; ok {
			paths = append(paths, t.Path())
		}
		delete(s.planned, k)
		delete(s.attempts, k)
		delete(s.last, k)
	}
	s.order = slices.DeleteFunc(s.order, func(k string) bool { return gone[k] })
	s.mu.Unlock()
	s.rec.Trim(func(e history.Event) bool { return e.Key == "" || !gone[e.Key] })
	if f, ok := s.backend.(Forgetter); ok && len(paths) > 0 {
		f.Forget(paths)
	}
}

// Started is when the history began, on its clock.
func (s *Session) Started() time.Time { return s.rec.Started() }

// Active is a fault in place.
type Active struct {
	name    string
	heal    Heal
	node    bool // its heal brings a node back (NodeHealer): healed last
	started bool // fault.start was recorded: its heal records fault.stop
	rec     *history.Recorder
	log     *slog.Logger

	once sync.Once
	done atomic.Bool
	err  error
}

// Name is the fault's name, as the history has it.
func (a *Active) Name() string { return a.name }

// Heal undoes the fault, once: a later call returns the first one's
// error. It records fault.stop, with the heal's error if it failed.
func (a *Active) Heal(ctx context.Context) error {
	a.once.Do(func() {
		hctx, cancel := context.WithTimeout(ctx, healTimeout)
		defer cancel()
		a.err = a.heal(hctx)
		a.done.Store(true)
		if !a.started {
			// Half in place: no window opened, none to close.
			if a.err != nil {
				a.log.Warn("heal of a fault not injected", "fault", a.name, "err", a.err)
			}
			return
		}
		e := history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: a.name}
		if a.err != nil {
			e.Detail = "heal failed: " + a.err.Error()
		}
		a.rec.Add(e)
	})
	return a.err
}

// Inject puts a fault in place and records fault.start once it is. A
// fault that could not be injected (its trigger never came, it does not
// apply in the state it met) is recorded as fault.error, as Jepsen's
// nemesis records it, and its error returned; a heal it returned anyway
// (half in place) runs at HealAll.
func (s *Session) Inject(ctx context.Context, f Fault) (*Active, error) {
	name := f.Name()
	heal, err := f.Inject(ctx, s.env)
	if err != nil {
		if heal != nil {
			s.keep(&Active{name: name, heal: heal, node: HealsNode(f), rec: s.rec, log: s.log})
		}
		detail := "not injected: " + err.Error()
		if errors.Is(err, ErrNotTriggered) || ctx.Err() != nil {
			detail = "never fired: " + err.Error()
		}
		s.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultError, Fault: name, Detail: detail})
		s.log.Info("fault not injected", "fault", name, "err", err)
		return nil, fmt.Errorf("inject %s: %w", name, err)
	}
	if heal == nil {
		heal = func(context.Context) error { return nil }
	}
	s.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: name})
	a := &Active{name: name, heal: heal, node: HealsNode(f), started: true, rec: s.rec, log: s.log}
	s.keep(a)
	return a, nil
}

func (s *Session) keep(a *Active) {
	s.mu.Lock()
	s.faults = append(s.faults, a)
	s.mu.Unlock()
}

// Faults names the faults in place (injected and not yet healed), in
// injection order.
func (s *Session) Faults() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.faults {
		if a.started && !a.done.Load() {
			out = append(out, a.name)
		}
	}
	return out
}

// HealAll heals every fault, newest first, each bounded by its own
// timeout, and forgets them. It returns every heal's error, wrapped in
// ErrNotHealed. Faults whose heal brings a node back (NodeHealer) heal
// after the others: a node restarted while its links are still cut (its
// chain backend, its peer) could not come back to carrying payments.
func (s *Session) HealAll(ctx context.Context) error {
	s.mu.Lock()
	faults := s.faults
	s.faults = nil
	s.mu.Unlock()
	var errs []error
	for _, nodes := range []bool{false, true} {
		for _, a := range slices.Backward(faults) {
			if a.node != nodes {
				continue
			}
			if err := a.Heal(ctx); err != nil {
				errs = append(errs, fmt.Errorf("heal %s: %w", a.name, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrNotHealed, errors.Join(errs...))
	}
	return nil
}

// NodeHealer is an optional Fault ability: its heal brings a node back
// (starts a killed LND) and waits until it carries payments, which needs
// the links healed first. Wrappers (fault.For, fault.After) pass it on.
type NodeHealer interface {
	HealsNode() bool
}

// HealsNode reports whether f's heal brings a node back (NodeHealer).
func HealsNode(f Fault) bool {
	n, ok := f.(NodeHealer)
	return ok && n.HealsNode()
}

// Plan adds a key's traffic to the plan the checkers read (the first
// traffic of a key is what the key buys, and what InDoubt reruns; later
// calls for it change nothing) and returns the purchase an attempt of t
// makes.
func (s *Session) Plan(t Traffic) Purchase {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.planned[t.Key]; !ok {
		s.planned[t.Key] = t
		s.order = append(s.order, t.Key)
	}
	return t.PurchaseVia(s.base, s.grpc)
}

// Planned is the plan so far, keys in the order they were planned.
func (s *Session) Planned() history.Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	var plan history.Plan
	for _, k := range s.order {
		plan.Purchases = append(plan.Purchases, s.planned[k].PlannedVia(s.base, s.grpc))
	}
	return plan
}

// Op is an attempt begun: its process and its number among the key's
// attempts.
type Op struct {
	Process int
	Key     string
	Attempt int
}

// Begin records the Invoke of a new attempt of a key, as a new process.
func (s *Session) Begin(key string) Op {
	s.mu.Lock()
	s.procs++
	s.attempts[key]++
	op := Op{Process: s.procs, Key: key, Attempt: s.attempts[key]}
	s.mu.Unlock()
	s.rec.Add(history.Event{Process: op.Process, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: op.Attempt})
	return op
}

// End records an attempt's completion as having happened at at (zero:
// now), from what the client reported; err means it reported nothing
// usable (Info). It returns the recorded event.
func (s *Session) End(op Op, res history.Result, err error, at time.Time) history.Event {
	c := history.Completion(op.Process, op.Key, op.Attempt, res, err)
	var e history.Event
	if at.IsZero() {
		e = s.rec.Add(c)
	} else {
		e = s.rec.AddAt(c, at)
	}
	s.mu.Lock()
	s.last[op.Key] = e
	s.mu.Unlock()
	return e
}

// Attempt runs the client once for a purchase and records it. The error
// is non-nil when the client reported nothing usable.
func (s *Session) Attempt(ctx context.Context, p Purchase) error {
	op := s.Begin(p.Key)
	res, err := s.client.Purchase(ctx, p)
	if af, ok := errors.AsType[AdapterFault](err); ok && af.AdapterFault() {
		res.AdapterError = true
	}
	s.End(op, res, err, time.Time{})
	return err
}

// InDoubt lists the planned keys whose last completion left the purchase
// open, in plan order: any Info, paid-but-not-delivered included (the
// client holds a paid credential; once healed it should get what it paid
// for). Keys never attempted are not in doubt.
func (s *Session) InDoubt() []Traffic {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Traffic
	for _, k := range s.order {
		if e, ok := s.last[k]; ok && e.Type == history.Info {
			out = append(out, s.planned[k])
		}
	}
	return out
}

// Judge collects the ground truth for the plan (as it stands, when now is
// set and the backend can) and runs the checkers on the history so far.
// The truth is dated from the history's start, which the checkers read
// history times against. What the backend could not read is in the
// truth's Errors, and the checkers that need it answer Unknown; err is
// non-nil only when the backend gave no truth at all (the checkers then
// ran on an empty truth).
func (s *Session) Judge(ctx context.Context, cs []check.Checker, now bool) ([]check.Result, *history.Truth, error) {
	truth, err := s.Truth(ctx, s.Planned(), now)
	return s.Check(truth, cs), truth, err
}

// Truth collects the ground truth for a plan, bounded by its own timeout
// and dated from the history's start; see Judge. It never returns a nil
// truth.
func (s *Session) Truth(ctx context.Context, plan history.Plan, now bool) (*history.Truth, error) {
	tctx, cancel := context.WithTimeout(ctx, truthTimeout)
	defer cancel()
	var (
		truth *history.Truth
		err   error
	)
	if tn, ok := s.backend.(TruthNower); ok && now {
		truth, err = tn.TruthNow(tctx, plan)
	} else {
		truth, err = s.backend.Truth(tctx, plan)
	}
	if truth == nil {
		if err == nil {
			err = errors.New("backend returned no truth")
		}
		err = fmt.Errorf("truth: %w", err)
		truth = &history.Truth{Plan: plan, Errors: []string{err.Error()}}
	} else {
		err = nil
	}
	truth.Started = s.rec.Started()
	return truth, err
}

// Check runs the checkers (nil: every checker) on the history kept so far
// against a truth.
func (s *Session) Check(truth *history.Truth, cs []check.Checker) []check.Result {
	if cs == nil {
		cs = check.All()
	}
	return check.Run(s.History(), truth, cs)
}
