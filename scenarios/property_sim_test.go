package scenarios_test

import (
	"context"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
	"github.com/l402chaos/l402chaos/internal/rapidflags"
)

// simConfig is the property's sizing on the simulator: waits up to two
// minutes of virtual time.
var simConfig = property.Config{MaxWait: 2 * time.Minute}

// TestPropertySim runs the property on the simulator with the reference
// client: 100 sequences of about 30 steps from seed 1 unless rapid's flags
// say otherwise (-rapid.checks, -rapid.steps, -rapid.seed; a long hunt:
// -rapid.checks=5000 -rapid.steps=50 -rapid.seed=0). A failure is saved
// under testdata/rapid and replayed first on the next run.
func TestPropertySim(t *testing.T) {
	seed := rapidDefault(t, "rapid.seed", "1")
	checks := rapidDefault(t, "rapid.checks", "100")
	steps := rapidDefault(t, "rapid.steps", "30")
	t.Logf("rapid seed %s, %s checks of %s steps on average; replay: go test ./scenarios -run '^TestPropertySim$' -rapid.seed=%s -rapid.checks=%s -rapid.steps=%s",
		seed, checks, steps, seed, checks, steps)
	rapid.Check(t, property.Property(context.Background(), sim.Worlds(""), simConfig))
}

// TestSimFindsMutants: the simulator finds every deliberately broken
// client, through the checker that names its bug, and shrinks the
// sequence.
func TestSimFindsMutants(t *testing.T) {
	for i, m := range mutant.All() {
		t.Run(m.Name, func(t *testing.T) {
			seed := uint64(i + 1)
			cs, err := check.ByName(m.CaughtBy)
			if err != nil {
				t.Fatal(err)
			}
			cfg := simConfig
			cfg.Checkers = cs
			f, err := explore(t, sim.Worlds(m.Name), cfg,
				rapidflags.Settings{Seed: seed, Checks: 500, Steps: 30, ShrinkTime: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				t.Fatalf("seed %d: no violation in 500 sequences", seed)
			}
			caught := false
			for _, r := range f.Invalid {
				caught = caught || r.Checker == m.CaughtBy
			}
			if !caught {
				t.Fatalf("seed %d: want %s, got %v\n%s", seed, m.CaughtBy, f.Invalid, f.Message)
			}
			t.Logf("seed %d: found after %s (%d steps), shrunk to %d steps:\n%s%v", seed, f.FoundAfter.Round(time.Millisecond), f.StepsBefore, len(f.Steps), property.FormatSteps(f.Steps), f.Invalid)
		})
	}
}

// explore runs property.Explore under rapid settings of the test's own
// (rapid keeps them in process-wide flags, which the test owns), without
// fail files, and puts the flags back.
func explore(tb testing.TB, newWorld property.NewWorld, cfg property.Config, o rapidflags.Settings) (*property.Finding, error) {
	tb.Helper()
	o.NoFailFile = true
	// Under -short rapid tries a fifth of the checks at half the steps.
	// These callers state their budget (a mutant is found within 500
	// sequences of 30 steps), so they ask for it in full: the same seed
	// draws the same sequences with -short and without.
	if testing.Short() {
		o.Checks, o.Steps = o.Checks*5, o.Steps*2
	}
	restore, err := rapidflags.Set(o)
	if err != nil {
		return nil, err
	}
	defer restore()
	return property.Explore(context.Background(), newWorld, cfg)
}
