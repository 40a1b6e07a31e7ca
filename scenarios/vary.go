package scenarios

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/fault"
)

// Seeded variations (harness.Scenario.Vary): each draws one kind of
// parameter from the run's seed, within bounds that keep the scenario's
// coverage, so that runs with other seeds explore its neighbours and a
// printed seed replays the same draw. A variation rebuilds the faults it
// changes: the catalogue's fault values are never mutated.

// variation is one drawing rule: it rewrites a fault (returning it
// unchanged when the rule does not apply) and notes what it drew.
type variation func(r *rand.Rand, f harness.Fault) (harness.Fault, string)

// vary combines rules into a scenario's Vary: every rule is offered
// every fault of Setup and Faults, in order.
func vary(rules ...variation) func(r *rand.Rand, sc *harness.Scenario) []string {
	return func(r *rand.Rand, sc *harness.Scenario) []string {
		var notes []string
		apply := func(fs []harness.Fault) []harness.Fault {
			out := make([]harness.Fault, len(fs))
			for i, f := range fs {
				for _, rule := range rules {
					var note string
					f, note = rule(r, f)
					if note != "" {
						notes = append(notes, note)
					}
				}
				out[i] = f
			}
			return out
		}
		sc.Setup, sc.Faults = apply(sc.Setup), apply(sc.Faults)
		return notes
	}
}

// between draws a duration in [lo, hi], in steps of 100 ms.
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	const step = 100 * time.Millisecond
	n := int64((hi - lo) / step)
	return lo + time.Duration(r.Int64N(n+1))*step
}

// lasting draws how long a fault with a span (fault.For) lasts, looking
// through a phase trigger.
func lasting(lo, hi time.Duration) variation {
	return func(r *rand.Rand, f harness.Fault) (harness.Fault, string) {
		switch t := f.(type) {
		case *fault.Timed:
			d := between(r, lo, hi)
			return fault.For(t.Fault, d), fmt.Sprintf("%s lasts %s (drawn from %s to %s)", t.Fault.Name(), d, lo, hi)
		case *fault.Triggered:
			inner, note := lasting(lo, hi)(r, t.Fault)
			c := *t
			c.Fault = inner
			return &c, note
		}
		return f, ""
	}
}

// lagging draws how long after its phase a triggered fault goes in.
func lagging(hi time.Duration) variation {
	return func(r *rand.Rand, f harness.Fault) (harness.Fault, string) {
		t, ok := f.(*fault.Triggered)
		if !ok {
			return f, ""
		}
		c := *t
		c.Lag = between(r, 0, hi)
		return &c, fmt.Sprintf("%s goes in %s after %s (drawn from 0 to %s)", t.Fault.Name(), c.Lag, t.Phase, hi)
	}
}

// retryingAfter draws a retry-after knob's Retry-After, in whole seconds.
func retryingAfter(lo, hi int) variation {
	return func(r *rand.Rand, f harness.Fault) (harness.Fault, string) {
		k, ok := f.(fault.Knob)
		if !ok || k.Knob.Kind != fakeprovider.RetryAfter {
			return f, ""
		}
		s := lo + r.IntN(hi-lo+1)
		k.Knob.RetryAfter = fakeprovider.Duration(time.Duration(s) * time.Second)
		return k, fmt.Sprintf("Retry-After %ds (drawn from %d to %d)", s, lo, hi)
	}
}

// rejectingFor draws a reject-paid knob's window (settlement lag).
func rejectingFor(lo, hi time.Duration) variation {
	return func(r *rand.Rand, f harness.Fault) (harness.Fault, string) {
		k, ok := f.(fault.Knob)
		if !ok || k.Knob.Kind != fakeprovider.RejectPaid || k.Knob.For == 0 {
			return f, ""
		}
		d := between(r, lo, hi)
		k.Knob.For = fakeprovider.Duration(d)
		return k, fmt.Sprintf("paid credentials refused for %s (drawn from %s to %s)", d, lo, hi)
	}
}
