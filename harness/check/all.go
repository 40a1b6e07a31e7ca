package check

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/l402chaos/l402chaos/harness/history"
)

// ErrUnknownChecker is returned by ByName for a name no checker has.
var ErrUnknownChecker = errors.New("unknown checker")

// All returns every checker, in a fixed order.
func All() []Checker {
	return []Checker{
		AtMostOnce{},
		NoConcurrentPayment{},
		NoLostPayment{},
		TruthfulOutcome{},
		PriceCap{},
		IdempotentSideEffects{},
		RetryDiscipline{},
		TokenReuse{},
		EventualResolution{},
		Hygiene{},
	}
}

// Names lists the checkers' names, in All's order.
func Names() []string {
	var out []string
	for _, c := range All() {
		out = append(out, c.Name())
	}
	return out
}

// ByName returns the named checkers, in the order asked.
func ByName(names ...string) ([]Checker, error) {
	byName := map[string]Checker{}
	for _, c := range All() {
		byName[c.Name()] = c
	}
	out := make([]Checker, 0, len(names))
	for _, n := range names {
		c, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("%w %q: valid names are %s", ErrUnknownChecker, n, strings.Join(Names(), ", "))
		}
		out = append(out, c)
	}
	return out, nil
}

// Recheck runs every checker again on the run record in dir
// (history.WriteRecord), as a driver wrote it. On a record whose truth
// was sampled mid-run (a soak whose harness died), the checkers that
// judge only a healed run answer Unknown.
func Recheck(dir string) ([]Result, error) {
	h, t, err := history.ReadRecord(dir)
	if err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	rs := Run(h, t, All())
	if t.Sampled {
		// A run that never finished (a harness that died): what holds
		// only once a run has healed cannot be judged.
		rs = Unhealed(rs, All(), "the run did not finish: its truth was sampled mid-run")
	}
	return rs, nil
}

// Unhealed judges a run that never healed: the results of the checkers
// whose invariant holds only once a run has healed (not HoldsAnytime)
// become Unknown, saying why the run did not heal and what the checker
// found; the others stand. rs[i] is cs[i]'s result.
func Unhealed(rs []Result, cs []Checker, why string) []Result {
	out := slices.Clone(rs)
	for i, c := range cs {
		if i >= len(out) || HoldsAnytime(c) {
			continue
		}
		r := &out[i]
		msg := why + ", and this holds only once a run has healed"
		if r.Validity != Valid && r.Message != "" {
			msg += "; unhealed, it found: " + r.Message // its witness stays
		}
		r.Checker, r.Validity, r.Message = c.Name(), Unknown, msg
	}
	return out
}
