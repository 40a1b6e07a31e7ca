// Package rapidflags sets rapid's settings. rapid keeps them in
// process-wide flags (-rapid.checks, -rapid.seed, ...) and has no other
// API for them, so they belong to whoever owns the process: a program's
// main (chaos sim) and tests. Library code (harness/property's Explore)
// runs rapid under whatever settings the process has and never sets them;
// a test in .ci keeps it so.
package rapidflags

import (
	"flag"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Settings are the rapid settings a run chooses. Zero fields keep the
// current value.
type Settings struct {
	// Seed is rapid's base seed: the same seed, checks and steps draw the
	// same sequences.
	Seed uint64
	// Checks is how many sequences to try.
	Checks int
	// Steps is the average length of a sequence.
	Steps int
	// ShrinkTime bounds shrinking a failing sequence.
	ShrinkTime time.Duration
	// NoFailFile keeps rapid from writing testdata/rapid fail files and
	// from replaying one.
	NoFailFile bool
}

// Set applies s to rapid's flags and returns how to put them back. Outside
// a test binary it first registers and parses the testing flags, which
// rapid reads (testing.Short).
func Set(s Settings) (restore func(), err error) {
	if !flag.Parsed() {
		testing.Init()
		if err := flag.CommandLine.Parse(nil); err != nil {
			return nil, fmt.Errorf("rapid flags: %w", err)
		}
	}
	vals := map[string]string{}
	if s.Seed != 0 {
		vals["rapid.seed"] = strconv.FormatUint(s.Seed, 10)
	}
	if s.Checks > 0 {
		vals["rapid.checks"] = strconv.Itoa(s.Checks)
	}
	if s.Steps > 0 {
		vals["rapid.steps"] = strconv.Itoa(s.Steps)
	}
	if s.ShrinkTime > 0 {
		vals["rapid.shrinktime"] = s.ShrinkTime.String()
	}
	if s.NoFailFile {
		vals["rapid.nofailfile"], vals["rapid.failfile"] = "true", ""
	}
	old := map[string]string{}
	restore = func() {
		for name, v := range old {
			_ = flag.Lookup(name).Value.Set(v)
		}
	}
	for name, v := range vals {
		fl := flag.Lookup(name)
		if fl == nil {
			restore()
			return nil, fmt.Errorf("rapid flag %s not registered (is pgregory.net/rapid linked?)", name)
		}
		old[name] = fl.Value.String()
		if err := fl.Value.Set(v); err != nil {
			restore()
			return nil, fmt.Errorf("rapid flag %s=%s: %w", name, v, err)
		}
	}
	return restore, nil
}
