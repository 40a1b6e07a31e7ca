package property

import (
	"context"
	"fmt"
	"log/slog"
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
const MaxCostSat = harness.DefaultMaxCostSat

// Safety lists the checkers that hold after every step. The others
// (no-lost-payment, eventual-resolution, hygiene) judge a run that has
// healed and resolved, and run in Finish.
func Safety() []check.Checker {
	var out []check.Checker
	for _, c := range check.All() {
		if check.HoldsAnytime(c) {
			out = append(out, c)
		}
	}
	return out
}

// Machine carries steps out on a World through a harness.Session: one
// history on the world's clock, fault windows included, and the steps
// themselves. It is the property's driver: the steps decide what
// happens, the session does it and records it. It is not safe for
// concurrent use: steps are sequential.
type Machine struct {
	w     World
	log   *slog.Logger
	s     *harness.Session
	steps []Step
}

// NewMachine starts a history on w. seed seeds the faults' own random
// choices.
func NewMachine(w World, seed uint64, log *slog.Logger) *Machine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Machine{
		w: w, log: log,
		s: harness.NewSession(w.Backend(), w.Client(), w.BaseURL(), harness.SessionConfig{Seed: seed, Now: w.Now, Log: log}),
	}
}

// Steps are the steps applied so far.
func (m *Machine) Steps() []Step { return slices.Clone(m.steps) }

// History is the history so far.
func (m *Machine) History() history.History { return m.s.History() }

// ActiveFaults names the faults in place.
func (m *Machine) ActiveFaults() []string { return m.s.Faults() }

// Apply carries one step out. An error is the harness failing (a world
// that broke, a heal that failed), not the client.
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
		return m.s.HealAll(ctx)
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

// traffic is what a buying step buys.
func traffic(s Step) harness.Traffic {
	return harness.Traffic{Key: s.Key, Service: s.Service, Method: s.Method, MaxCostSat: MaxCostSat, ClientTimeout: PurchaseTimeout}
}

// attempt runs the step's attempts at once, one process each, and
// records them in the order they ended.
func (m *Machine) attempt(ctx context.Context, s Step, crash []harness.Phase) {
	p := m.s.Plan(traffic(s))
	as := make([]Attempt, len(crash))
	ops := make([]harness.Op, len(crash))
	for i, c := range crash {
		ops[i] = m.s.Begin(s.Key)
		as[i] = Attempt{Purchase: p, CrashAt: c}
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
		m.s.End(ops[i], reps[i].Result, reps[i].Err, reps[i].At)
	}
}

func (m *Machine) inject(ctx context.Context, name string) error {
	f, ok := FaultByName(name)
	if !ok {
		return fmt.Errorf("%w: unknown fault %q", ErrBadStep, name)
	}
	// A drawn fault that does not apply in the state it meets (no
	// invoice held, the payee down) did nothing: the session records it
	// as fault.error, as Jepsen's nemesis does, and the sequence goes on.
	_, _ = m.s.Inject(ctx, f)
	return nil
}

// Plan is what was bought, for the ground truth.
func (m *Machine) Plan() history.Plan { return m.s.Planned() }

// Check collects the ground truth as it stands (moving nothing) and runs
// the checkers (nil: every checker) on the history so far. The error is
// no truth at all being collected.
func (m *Machine) Check(ctx context.Context, cs []check.Checker) ([]check.Result, *history.Truth, error) {
	return m.judge(ctx, cs, true)
}

func (m *Machine) judge(ctx context.Context, cs []check.Checker, now bool) ([]check.Result, *history.Truth, error) {
	rs, truth, err := m.s.Judge(ctx, cs, now)
	if err != nil {
		return nil, nil, err
	}
	return rs, truth, nil
}

// Finish ends a sequence as the runner ends a scenario: heal every fault,
// release what the provider holds, rerun once every purchase whose last
// attempt left it in doubt, then run the checkers (nil: every checker).
func (m *Machine) Finish(ctx context.Context, cs []check.Checker) ([]check.Result, *history.Truth, error) {
	if err := m.s.HealAll(ctx); err != nil {
		return nil, nil, err
	}
	// A hold invoice's HTLC stays held after its knob is disarmed: the
	// healed provider settles what it holds, as a hold-for-settle
	// provider would, so that the reruns can resolve.
	if _, err := m.s.Inject(ctx, fault.ResolveHolds{}); err != nil {
		m.log.Info("release held invoices", "err", err)
	}
	if err := m.s.HealAll(ctx); err != nil {
		return nil, nil, err
	}
	for _, t := range m.s.InDoubt() {
		m.attempt(ctx, Step{Op: OpBuy, Key: t.Key, Service: t.Service, Method: t.Method}, []harness.Phase{""})
	}
	return m.judge(ctx, cs, false)
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
