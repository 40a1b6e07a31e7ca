package harness

import (
	"fmt"
	"regexp"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Run is the outcome of one scenario run.
type Run struct {
	Scenario    string           `json:"scenario"`
	Description string           `json:"description,omitempty"`
	Seed        int64            `json:"seed"`
	Started     time.Time        `json:"started"`
	Duration    time.Duration    `json:"duration"`
	Client      string           `json:"client"`
	History     history.History  `json:"-"`
	Truth       *history.Truth   `json:"-"`
	Results     []check.Result   `json:"results"`
	Coverage    []CoverageResult `json:"coverage"`
	// Err is the harness's own failure: the run's verdict is then
	// Unknown, never Invalid.
	Err error `json:"-"`
	// Dir is where the run's history.jsonl and truth.json were written.
	Dir string `json:"dir,omitempty"`
}

// CoverageResult says whether a dangerous moment was reached.
type CoverageResult struct {
	Name    string `json:"name"`
	Reached bool   `json:"reached"`
}

// Verdict folds the run: Invalid if a checker found a violation; Unknown
// if the harness failed, a checker could not judge, or coverage was not
// reached; Valid otherwise.
func (r *Run) Verdict() check.Validity {
	v := check.Merge(r.Results)
	if v == check.Invalid {
		return v
	}
	if r.Err != nil || !r.Covered() {
		return check.Unknown
	}
	return v
}

// Covered reports whether every coverage point was reached.
func (r *Run) Covered() bool {
	for _, c := range r.Coverage {
		if !c.Reached {
			return false
		}
	}
	return true
}

// Error is Err as text, for reports.
func (r *Run) Error() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// Replay is the one line that reproduces the run.
func (r *Run) Replay() string { return ReplayCommand(r.Scenario, r.Seed) }

// ReplayCommand is the command line that reruns a scenario with a seed.
func ReplayCommand(scenario string, seed int64) string {
	return fmt.Sprintf("go run ./cmd/chaos run -scenario='^%s$' -seed=%d", regexp.QuoteMeta(scenario), seed)
}
