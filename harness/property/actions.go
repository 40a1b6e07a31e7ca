package property

import (
	"context"
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
)

// Config sizes the sequences Actions draws.
type Config struct {
	// Keys is how many distinct purchase keys of each service a
	// sequence uses (default 3): few enough that keys repeat.
	Keys int
	// MaxActive is how many faults may be in place at once (default 3).
	MaxActive int
	// MaxWait is the longest wait step (default 2s; the live tier sleeps
	// it for real).
	MaxWait time.Duration
	// MaxBlocks is the most blocks one mine step mines (default 150:
	// enough to time a held HTLC out).
	MaxBlocks int
	// CheckEvery runs the safety checkers after every n-th step (default
	// 1: every step). Collecting the truth costs a few RPCs on the live
	// tier.
	CheckEvery int
	// Checkers judge the sequences; default Safety after each step and
	// check.All at the end. A hunt for one known bug names its checker.
	Checkers []check.Checker
	// OnStep, if set, sees every step applied (progress lines, step
	// counts for benchmarks).
	OnStep func(Step)
	// OnFinish, if set, sees every sequence's machine after Finish, with
	// the checkers' results: its steps, history and verdicts, for a
	// differential replay on another tier.
	OnFinish func(m *Machine, rs []check.Result)
	// OnViolation, if set, sees every sequence that ended invalid, with
	// the invalid results: while rapid searches, while it shrinks, and
	// last the minimal sequence it settled on.
	OnViolation func(steps []Step, invalid []check.Result)
}

func (c Config) withDefaults() Config {
	if c.Keys <= 0 {
		c.Keys = 3
	}
	if c.MaxActive <= 0 {
		c.MaxActive = 3
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 2 * time.Second
	}
	if c.MaxBlocks <= 0 {
		c.MaxBlocks = 150
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = 1
	}
	return c
}

// drawer draws steps through rapid, so that shrinking covers every
// choice. A key names its service ("d1" is bought from data, "o1" from
// ops), so that deleting a step never changes what a later step buys.
type drawer struct {
	cfg Config
}

func newDrawer(cfg Config) *drawer {
	return &drawer{cfg: cfg.withDefaults()}
}

// kinds are what a key can buy: its prefix, service and method.
var kinds = harness.Kinds()

// purchase draws what to buy and a key of that kind: new or bought
// before.
func (d *drawer) purchase(t *rapid.T, op Op) Step {
	k := kinds[rapid.IntRange(0, len(kinds)-1).Draw(t, "kind")]
	n := rapid.IntRange(1, d.cfg.Keys).Draw(t, "key")
	return Step{Op: op, Key: fmt.Sprintf("%s%d", k.Prefix, n), Service: k.Service, Method: k.Method}
}

func (d *drawer) buy(t *rapid.T) Step { return d.purchase(t, OpBuy) }

func (d *drawer) crash(t *rapid.T) Step {
	s := d.purchase(t, OpCrash)
	s.Phase = rapid.SampledFrom(CrashPhases()).Draw(t, "phase")
	return s
}

func (d *drawer) pair(t *rapid.T) Step { return d.purchase(t, OpPair) }

func (d *drawer) fault(t *rapid.T, activeNames []string) Step {
	if active := len(activeNames); active >= d.cfg.MaxActive {
		t.Skipf("%d faults already in place", active)
	}
	s := Step{Op: OpFault, Fault: rapid.SampledFrom(FaultNames()).Draw(t, "fault")}
	if slices.Contains(activeNames, s.Fault) {
		t.Skipf("%s is already in place", s.Fault)
	}
	return s
}

func (d *drawer) heal(t *rapid.T, active int) Step {
	if active == 0 {
		t.Skip("no fault to heal")
	}
	return Step{Op: OpHeal}
}

func (d *drawer) mine(t *rapid.T) Step {
	return Step{Op: OpMine, Blocks: rapid.IntRange(1, d.cfg.MaxBlocks).Draw(t, "blocks")}
}

func (d *drawer) wait(t *rapid.T) Step {
	ms := rapid.Int64Range(100, d.cfg.MaxWait.Milliseconds()).Draw(t, "wait_ms")
	return Step{Op: OpWait, Wait: time.Duration(ms) * time.Millisecond}
}

// Actions is the state machine for rapid.T.Repeat: every action draws a
// step and applies it to m; the invariant ("" key) runs the safety
// checkers. A harness error (a fault that would not inject, a truth that
// could not be collected) fails the check as such, not as a client bug.
func Actions(ctx context.Context, m *Machine, cfg Config) map[string]func(*rapid.T) {
	d := newDrawer(cfg)
	apply := func(t *rapid.T, s Step) {
		t.Logf("step %d: %s", len(m.steps)+1, s)
		if err := m.Apply(ctx, s); err != nil {
			t.Fatalf("harness: %v", err)
		}
		if d.cfg.OnStep != nil {
			d.cfg.OnStep(s)
		}
	}
	return map[string]func(*rapid.T){
		"buy":   func(t *rapid.T) { apply(t, d.buy(t)) },
		"crash": func(t *rapid.T) { apply(t, d.crash(t)) },
		"pair":  func(t *rapid.T) { apply(t, d.pair(t)) },
		"fault": func(t *rapid.T) { apply(t, d.fault(t, m.ActiveFaults())) },
		"heal":  func(t *rapid.T) { apply(t, d.heal(t, len(m.ActiveFaults()))) },
		"mine":  func(t *rapid.T) { apply(t, d.mine(t)) },
		"wait":  func(t *rapid.T) { apply(t, d.wait(t)) },
		"": func(t *rapid.T) {
			if len(m.steps) == 0 || len(m.steps)%d.cfg.CheckEvery != 0 {
				return
			}
			cs := d.cfg.Checkers
			if cs == nil {
				cs = Safety()
			}
			rs, _, err := m.Check(ctx, cs)
			if err != nil {
				t.Fatalf("harness: %v", err)
			}
			fatalIfInvalid(t, rs, m, d.cfg)
		},
	}
}

// NewWorld makes a fresh world for one rapid check. seed is drawn through
// rapid, so a world that chooses anything at random (the simulator)
// shrinks with the sequence.
type NewWorld func(t *rapid.T, seed uint64) (World, error)

// Property is the whole property: a fresh world, a sequence of steps with
// the safety checkers after each, then Finish and every checker. Use it
// with rapid.Check.
func Property(ctx context.Context, newWorld NewWorld, cfg Config) func(*rapid.T) {
	return func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "seed")
		w, err := newWorld(t, seed)
		if err != nil {
			t.Fatalf("harness: world: %v", err)
		}
		defer w.Close()
		m := NewMachine(w, seed, nil)
		t.Repeat(Actions(ctx, m, cfg))
		rs, _, err := m.Finish(ctx, cfg.Checkers)
		if err != nil {
			t.Fatalf("harness: finish: %v", err)
		}
		if cfg.OnFinish != nil {
			cfg.OnFinish(m, rs)
		}
		fatalIfInvalid(t, rs, m, cfg)
	}
}

func fatalIfInvalid(t *rapid.T, rs []check.Result, m *Machine, cfg Config) {
	bad := Invalid(rs)
	if len(bad) == 0 {
		return
	}
	if cfg.OnViolation != nil {
		cfg.OnViolation(m.Steps(), bad)
	}
	msg := ""
	for _, r := range bad {
		msg += "\n  " + r.String()
	}
	t.Fatalf("invalid after %d steps:%s\nsequence:\n%s", len(m.steps), msg, FormatSteps(m.steps))
}
