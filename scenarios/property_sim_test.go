package scenarios_test

import (
	"context"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/scenarios"
	"github.com/l402chaos/l402chaos/scenarios/mutant/catalog"
)

// simConfig is the property's sizing on the simulator: waits up to two
// minutes of virtual time.
var simConfig = property.Config{MaxWait: 2 * time.Minute}

// TestPropertySim runs the property on the simulator with the reference
// client. rapid's flags size it (-rapid.checks, -rapid.steps) and replay
// it (-rapid.seed); failures are saved under testdata/rapid.
func TestPropertySim(t *testing.T) {
	rapid.Check(t, property.Property(context.Background(), scenarios.SimWorlds(""), simConfig))
}

// TestSimFindsMutants: the simulator finds every deliberately broken
// client, through the checker that names its bug, and shrinks the
// sequence.
func TestSimFindsMutants(t *testing.T) {
	for _, m := range catalog.All() {
		t.Run(m.Name, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			cs, err := check.ByName(m.CaughtBy)
			if err != nil {
				t.Fatal(err)
			}
			cfg := simConfig
			cfg.Checkers = cs
			f, err := property.Explore(context.Background(), scenarios.SimWorlds(m.Name), cfg,
				property.ExploreOptions{Seed: seed, Checks: 200, Steps: 30, ShrinkTime: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				t.Fatalf("seed %d: no violation in 200 sequences", seed)
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
