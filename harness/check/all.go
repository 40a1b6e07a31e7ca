package check

import (
	"errors"
	"fmt"
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
// (history.WriteRecord), as a driver wrote it.
func Recheck(dir string) ([]Result, error) {
	h, t, err := history.ReadRecord(dir)
	if err != nil {
		return nil, fmt.Errorf("recheck: %w", err)
	}
	return Run(h, t, All()), nil
}
