package scenarios_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
	"github.com/l402chaos/l402chaos/internal/rapidflags"
)

// explored runs rapid's sequences on worlds and counts the steps
// applied and the time, Finish and the checks included.
func explored(b *testing.B, newWorld property.NewWorld, cfg property.Config, o rapidflags.Settings) (int, time.Duration) {
	b.Helper()
	n := 0
	cfg.OnStep = func(property.Step) { n++ }
	start := time.Now()
	f, err := explore(b, newWorld, cfg, o)
	if err != nil {
		b.Fatal(err)
	}
	if f != nil {
		b.Logf("a violation: %v\n%s", f.Invalid, property.FormatSteps(f.Steps))
	}
	return n, time.Since(start)
}

// BenchmarkTiers measures steps per second on both tiers in one run, on
// what the property draws: random sequences (seed 1, about 15 steps
// each) with the safety checkers after every step, Finish and every
// checker at the end, a fresh world each. The simulator runs first, as
// many sequences as fit in five seconds, on a quiet machine; then the live
// tier runs two. Run it with -benchtime 1x (make bench).
func BenchmarkTiers(b *testing.B) {
	cmd := referenceCommand(b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var simSteps int
	var simTime time.Duration
	for seed := uint64(1); simTime < 5*time.Second; seed++ {
		n, d := explored(b, sim.Worlds(""), liveConfig, rapidflags.Settings{Seed: seed, Checks: 100, Steps: 15, ShrinkTime: time.Second})
		simSteps, simTime = simSteps+n, simTime+d
	}
	liveSteps, liveTime := explored(b, liveWorlds(b, ctx, cmd), liveConfig, rapidflags.Settings{Seed: 1, Checks: 2, Steps: 15, ShrinkTime: time.Second})
	liveRate := float64(liveSteps) / liveTime.Seconds()

	simRate := float64(simSteps) / simTime.Seconds()
	b.ReportMetric(liveRate, "live-steps/s")
	b.ReportMetric(simRate, "sim-steps/s")
	b.ReportMetric(simRate/liveRate, "ratio")
	b.Logf("live: %d steps in %s (%.2f steps/s, world start-ups included); simulator: %d steps in %s (%.0f steps/s); ratio %.0fx",
		liveSteps, liveTime.Round(time.Millisecond), liveRate, simSteps, simTime.Round(time.Millisecond), simRate, simRate/liveRate)
}

// BenchmarkFindMutants measures, for each broken client, the time the
// simulator takes from a fresh seed to its first violating sequence
// (before shrinking), median over five seeds, and the steps run until
// then.
func BenchmarkFindMutants(b *testing.B) {
	for _, m := range mutant.All() {
		b.Run(m.Name, func(b *testing.B) {
			cs, err := check.ByName(m.CaughtBy)
			if err != nil {
				b.Fatal(err)
			}
			cfg := simConfig
			cfg.Checkers = cs
			var times []time.Duration
			var steps []int64
			for seed := uint64(1); seed <= 5; seed++ {
				f, err := explore(b, sim.Worlds(m.Name), cfg,
					rapidflags.Settings{Seed: seed, Checks: 1000, Steps: 30, ShrinkTime: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				if f == nil {
					b.Fatalf("seed %d: not found in 1000 sequences", seed)
				}
				times, steps = append(times, f.FoundAfter), append(steps, f.StepsBefore)
			}
			slices.Sort(times)
			slices.Sort(steps)
			b.ReportMetric(float64(times[2].Microseconds())/1000, "median-ms-to-find")
			b.ReportMetric(float64(steps[2]), "median-steps-to-find")
			b.Logf("%s: times to find %v, steps %v", m.Name, fmtDurations(times), steps)
		})
	}
}

func fmtDurations(ds []time.Duration) string {
	s := ""
	for _, d := range ds {
		s += fmt.Sprintf(" %s", d.Round(time.Millisecond))
	}
	return s
}
