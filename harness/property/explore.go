package property

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/harness/check"
)

// ExploreOptions sizes an exploration.
type ExploreOptions struct {
	// Seed is rapid's base seed: the same seed, checks and steps replay
	// the same sequences. 0 picks one (and Finding says which).
	Seed uint64
	// Checks is how many sequences to try (default 100).
	Checks int
	// Steps is the average length of a sequence (default 30).
	Steps int
	// ShrinkTime bounds shrinking a failing sequence (default 30s).
	ShrinkTime time.Duration
}

// Finding is the first violation an exploration found, shrunk.
type Finding struct {
	Seed uint64 `json:"seed"`
	// Steps is the minimal sequence rapid settled on.
	Steps []Step `json:"steps"`
	// Invalid are the checkers it violates (empty for a harness error,
	// which Message then describes).
	Invalid []check.Result `json:"invalid,omitempty"`
	// Message is rapid's report.
	Message string `json:"message"`
	// FoundAfter is the time to the first violating sequence, before
	// shrinking; StepsBefore the steps run until then.
	FoundAfter  time.Duration `json:"found_after"`
	StepsBefore int64         `json:"steps_before"`
}

// exploreMu serialises explorations: rapid's settings are process-wide
// flags.
var exploreMu sync.Mutex

// Explore runs the property with rapid outside a test: the engine of
// `chaos sim`, of the mutant hunt and of the benchmarks. It returns nil
// when every sequence held.
func Explore(ctx context.Context, newWorld NewWorld, cfg Config, o ExploreOptions) (*Finding, error) {
	exploreMu.Lock()
	defer exploreMu.Unlock()
	if o.Checks <= 0 {
		o.Checks = 100
	}
	if o.Steps <= 0 {
		o.Steps = 30
	}
	if o.ShrinkTime <= 0 {
		o.ShrinkTime = 30 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if !flag.Parsed() {
		// rapid asks testing.Short(), which needs the testing flags
		// registered and the command line parsed.
		testing.Init()
		if err := flag.CommandLine.Parse(nil); err != nil {
			return nil, err
		}
	}
	restore, err := setFlags(map[string]string{
		"rapid.checks": strconv.Itoa(o.Checks), "rapid.steps": strconv.Itoa(o.Steps),
		"rapid.seed": strconv.FormatUint(o.Seed, 10), "rapid.nofailfile": "true",
		"rapid.shrinktime": o.ShrinkTime.String(), "rapid.failfile": "",
	})
	if err != nil {
		return nil, err
	}
	defer restore()

	f := &Finding{Seed: o.Seed}
	start := time.Now()
	var steps int64
	found := false
	inner := cfg.OnStep
	cfg.OnStep = func(s Step) {
		steps++
		if inner != nil {
			inner(s)
		}
	}
	outer := cfg.OnViolation
	cfg.OnViolation = func(ss []Step, bad []check.Result) {
		if !found {
			found, f.FoundAfter, f.StepsBefore = true, time.Since(start), steps
		}
		f.Steps, f.Invalid = ss, bad
		if outer != nil {
			outer(ss, bad)
		}
	}
	tb := &recorder{}
	rapid.Check(tb, Property(ctx, newWorld, cfg))
	if !tb.failed {
		return nil, nil
	}
	f.Message = strings.Join(tb.errs, "\n")
	if !found {
		f.FoundAfter, f.StepsBefore = time.Since(start), steps
	}
	return f, nil
}

// setFlags sets rapid's flags and returns how to put them back.
func setFlags(vals map[string]string) (func(), error) {
	old := map[string]string{}
	for name, v := range vals {
		fl := flag.Lookup(name)
		if fl == nil {
			return nil, fmt.Errorf("rapid flag %s not registered", name)
		}
		old[name] = fl.Value.String()
		if err := fl.Value.Set(v); err != nil {
			return nil, fmt.Errorf("rapid flag %s=%s: %w", name, v, err)
		}
	}
	return func() {
		for name, v := range old {
			_ = flag.Lookup(name).Value.Set(v)
		}
	}, nil
}

// recorder is rapid.TB outside a test: it keeps what rapid reports.
type recorder struct {
	failed bool
	errs   []string
}

func (r *recorder) Helper()              {}
func (r *recorder) Name() string         { return "Explore" }
func (r *recorder) Logf(string, ...any)  {}
func (r *recorder) Log(...any)           {}
func (r *recorder) Skipf(string, ...any) {}
func (r *recorder) Skip(...any)          {}
func (r *recorder) SkipNow()             {}
func (r *recorder) Errorf(f string, a ...any) {
	r.failed = true
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
}
func (r *recorder) Error(a ...any)            { r.failed = true; r.errs = append(r.errs, fmt.Sprint(a...)) }
func (r *recorder) Fatalf(f string, a ...any) { r.Errorf(f, a...) }
func (r *recorder) Fatal(a ...any)            { r.Error(a...) }
func (r *recorder) FailNow()                  { r.failed = true }
func (r *recorder) Fail()                     { r.failed = true }
func (r *recorder) Failed() bool              { return r.failed }
