package property

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
)

// PurchaseTimeout is every attempt's own deadline (L402_TIMEOUT_SEC), on
// both tiers: long enough for a healthy purchase, short enough that an
// attempt stuck behind a fault ends within a step.
const PurchaseTimeout = 10 * time.Second

// MaxCostSat is every purchase's cap.
const MaxCostSat = 1000

// healTimeout bounds one Heal.
const healTimeout = 30 * time.Second

// Safety lists the checkers that hold after every step. The others
// (no-lost-payment, eventual-resolution, hygiene) judge a run that has
// healed and resolved, and run in Finish.
func Safety() []check.Checker {
	var out []check.Checker
	for _, c := range check.All() {
		switch c.(type) {
		case check.NoLostPayment, check.EventualResolution, check.Hygiene:
			continue
		}
		out = append(out, c)
	}
	return out
}

// Machine carries steps out on a World and records them: one history on
// the world's clock, fault windows included, and the steps themselves.
// It is not safe for concurrent use: steps are sequential.
type Machine struct {
	w     World
	log   *slog.Logger
	rec   *history.Recorder
	env   *harness.Env
	base  *url.URL
	heals []heal
	steps []Step
	procs int
	// attempts and last follow each purchase key.
	attempts map[string]int
	last     map[string]history.Event
	plan     map[string]history.PlannedPurchase
	steps0   map[string]Step // each key's first step: what the key buys
	order    []string
}

type heal struct {
	name string
	fn   harness.Heal
}

// NewMachine starts a history on w. seed seeds the faults' own random
// choices.
func NewMachine(w World, seed uint64, log *slog.Logger) *Machine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Machine{
		w: w, log: log, base: w.BaseURL(),
		rec:      history.NewRecorderClock(w.Now, nil),
		attempts: map[string]int{}, last: map[string]history.Event{}, plan: map[string]history.PlannedPurchase{},
		steps0: map[string]Step{},
	}
	m.env = &harness.Env{
		Backend: w.Backend(), Client: w.Client(), Log: log,
		Rand:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		Record: m.rec.Add,
	}
	return m
}

// Steps are the steps applied so far.
func (m *Machine) Steps() []Step { return slices.Clone(m.steps) }

// History is the history so far.
func (m *Machine) History() history.History { return m.rec.History() }

// ActiveFaults names the faults in place.
func (m *Machine) ActiveFaults() []string {
	var out []string
	for _, h := range m.heals {
		out = append(out, h.name)
	}
	return out
}

// Apply carries one step out. An error is the harness failing (a fault
// that could not be injected, a world that broke), not the client.
func (m *Machine) Apply(ctx context.Context, s Step) error {
	if err := s.Validate(); err != nil {
		return err
	}
	m.steps = append(m.steps, s)
	m.log.Debug("step", "n", len(m.steps), "step", s.String())
	switch s.Op {
	case OpBuy:
		m.attempt(ctx, s, []harness.Phase{""})
	case OpCrash:
		m.attempt(ctx, s, []harness.Phase{s.Phase})
	case OpPair:
		m.attempt(ctx, s, []harness.Phase{"", ""})
	case OpFault:
		return m.inject(ctx, s.Fault)
	case OpHeal:
		return m.healAll(ctx)
	case OpMine:
		if err := m.w.Backend().Mine(ctx, s.Blocks); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	case OpWait:
		if err := m.w.Pass(ctx, s.Wait); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// purchase is the purchase a buying step makes.
func (m *Machine) purchase(s Step) harness.Purchase {
	u := *m.base
	u.Path = "/" + s.Service + "/p/" + s.Key
	p := harness.Purchase{Key: s.Key, Method: s.Method, URL: u.String(), MaxCostSat: MaxCostSat, Timeout: PurchaseTimeout}
	if p.Method == "" {
		p.Method = "GET"
		if s.Service == ServiceOps {
			p.Method = "POST"
		}
	}
	if p.Method == "POST" {
		p.Body = []byte(`{"purchase":"` + s.Key + `"}`)
	}
	return p
}

func (m *Machine) attempt(ctx context.Context, s Step, crash []harness.Phase) {
	p := m.purchase(s)
	if _, ok := m.plan[s.Key]; !ok {
		m.steps0[s.Key] = s
		m.order = append(m.order, s.Key)
		m.plan[s.Key] = history.PlannedPurchase{
			Key: s.Key, Method: p.Method, URL: p.URL, Path: "/" + s.Service + "/p/" + s.Key,
			Service: s.Service, MaxCostMsat: MaxCostSat * 1000,
		}
	}
	as := make([]Attempt, len(crash))
	procs := make([]int, len(crash))
	attempts := make([]int, len(crash))
	for i, c := range crash {
		m.procs++
		m.attempts[s.Key]++
		procs[i], attempts[i] = m.procs, m.attempts[s.Key]
		as[i] = Attempt{Purchase: p, CrashAt: c}
		m.rec.Add(history.Event{Process: procs[i], Type: history.Invoke, F: history.Purchase, Key: s.Key, Attempt: attempts[i]})
	}
	reps := m.w.Attempts(ctx, as)
	now := m.w.Now()
	order := make([]int, len(reps))
	for i := range reps {
		order[i] = i
		if reps[i].At.IsZero() {
			reps[i].At = now
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return reps[a].At.Compare(reps[b].At) })
	for _, i := range order {
		r := reps[i]
		m.last[s.Key] = m.rec.AddAt(harness.Completion(procs[i], s.Key, attempts[i], r.Result, r.Err), r.At)
	}
}

func (m *Machine) inject(ctx context.Context, name string) error {
	f, ok := FaultByName(name)
	if !ok {
		return fmt.Errorf("%w: unknown fault %q", ErrBadStep, name)
	}
	m.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: name})
	h, err := f.Inject(ctx, m.env)
	if err != nil {
		// A drawn fault that does not apply in the state it meets (no
		// invoice held, the payee down) did nothing: the nemesis records
		// it, as Jepsen's does, and the sequence goes on.
		m.rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultError, Fault: name, Detail: err.Error()})
		m.log.Info("fault not injected", "fault", name, "err", err)
		return nil
	}
	m.heals = append(m.heals, heal{name: name, fn: h})
	return nil
}

// healAll heals every fault, newest first, and records each stop.
func (m *Machine) healAll(ctx context.Context) error {
	var errs []error
	for i := len(m.heals) - 1; i >= 0; i-- {
		h := m.heals[i]
		hctx, cancel := context.WithTimeout(ctx, healTimeout)
		err := h.fn(hctx)
		cancel()
		e := history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: h.name}
		if err != nil {
			e.Detail = "heal: " + err.Error()
			errs = append(errs, fmt.Errorf("heal %s: %w", h.name, err))
		}
		m.rec.Add(e)
	}
	m.heals = nil
	return errors.Join(errs...)
}

// releaseName is the fault Finish injects to release held HTLCs.
var releaseName = fault.ResolveHolds{}.Name()

// Plan is what was bought, for the ground truth.
func (m *Machine) Plan() history.Plan {
	var plan history.Plan
	for _, k := range m.order {
		plan.Purchases = append(plan.Purchases, m.plan[k])
	}
	return plan
}

// nowTruther is a backend that can read the truth without first letting
// HTLCs clear: checks between steps must not move the world on.
type nowTruther interface {
	TruthNow(ctx context.Context, plan history.Plan) (*history.Truth, error)
}

func (m *Machine) truth(ctx context.Context, final bool) (*history.Truth, error) {
	if nt, ok := m.w.Backend().(nowTruther); ok && !final {
		return nt.TruthNow(ctx, m.Plan())
	}
	return m.w.Backend().Truth(ctx, m.Plan())
}

// Check collects the ground truth as it stands and runs the checkers on
// the history so far. The error is no truth at all being collected.
func (m *Machine) Check(ctx context.Context, cs []check.Checker) ([]check.Result, *history.Truth, error) {
	return m.check(ctx, cs, false)
}

func (m *Machine) check(ctx context.Context, cs []check.Checker, final bool) ([]check.Result, *history.Truth, error) {
	truth, err := m.truth(ctx, final)
	if truth == nil {
		return nil, nil, fmt.Errorf("truth: %w", err)
	}
	// The checkers read history times against the truth's start: the
	// history's own.
	truth.Started = m.rec.Started()
	// A part that could not be read (a node down) is in truth.Errors:
	// the checkers that need it answer unknown.
	return check.Run(m.History(), truth, cs), truth, nil
}

// Finish ends a sequence as the runner ends a scenario: heal every fault,
// rerun once every purchase whose last attempt left it in doubt, then run
// the checkers (nil: every checker).
func (m *Machine) Finish(ctx context.Context, cs []check.Checker) ([]check.Result, *history.Truth, error) {
	if err := m.healAll(ctx); err != nil {
		return nil, nil, err
	}
	// A hold invoice's HTLC stays held after its knob is disarmed: the
	// healed provider settles what it holds, as a hold-for-settle
	// provider would, so that the reruns can resolve.
	if err := m.inject(ctx, releaseName); err != nil {
		return nil, nil, err
	}
	if err := m.healAll(ctx); err != nil {
		return nil, nil, err
	}
	for _, k := range m.order {
		if e := m.last[k]; e.Type == history.Info {
			first := m.steps0[k]
			m.attempt(ctx, Step{Op: OpBuy, Key: k, Service: first.Service, Method: first.Method}, []harness.Phase{""})
		}
	}
	if cs == nil {
		cs = check.All()
	}
	return m.check(ctx, cs, true)
}

// Invalid returns the invalid results, if any.
func Invalid(rs []check.Result) []check.Result {
	var out []check.Result
	for _, r := range rs {
		if r.Validity == check.Invalid {
			out = append(out, r)
		}
	}
	return out
}

// FormatSteps writes a sequence one step a line, numbered.
func FormatSteps(steps []Step) string {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "%3d  %s\n", i+1, s)
	}
	return b.String()
}
