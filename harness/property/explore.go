package property

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"time"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/harness/check"
)

// Finding is the first violation an exploration found, shrunk.
type Finding struct {
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

// exploreMu serialises explorations: rapid's state is process-wide.
var exploreMu sync.Mutex

// Explore runs the property with rapid outside a test: the engine of
// `chaos sim`, of the mutant hunt and of the benchmarks. It runs under
// rapid's settings as the process has them (its -rapid.* flags, which
// the program's main or the test sets: see internal/rapidflags), and
// returns nil when every sequence held.
func Explore(ctx context.Context, newWorld NewWorld, cfg Config) (*Finding, error) {
	exploreMu.Lock()
	defer exploreMu.Unlock()
	if !flag.Parsed() {
		return nil, errors.New("explore: rapid's settings are not parsed: set them first (internal/rapidflags)")
	}
	f := &Finding{}
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
