package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// RunResult is one judged run: what a driver records of a scenario run
// (its history, truth, verdicts and coverage) and what reports render.
type RunResult struct {
	Scenario    string           `json:"scenario"`
	Description string           `json:"description,omitempty"`
	Seed        int64            `json:"seed"`
	Started     time.Time        `json:"started"`
	Duration    time.Duration    `json:"duration"`
	Client      string           `json:"client"`
	History     history.History  `json:"-"`
	Truth       *history.Truth   `json:"-"`
	Results     []Result         `json:"results"`
	Coverage    []CoverageResult `json:"coverage"`
	// Replay is the command line that reruns exactly this run; empty
	// when the seed is not known.
	Replay string `json:"replay,omitempty"`
	// Varied says what the scenario's seeded variation drew for this run
	// (harness.Scenario.Vary); empty when the scenario has none.
	Varied []string `json:"varied,omitempty"`
	// Err is the harness's own failure: the run's verdict is then
	// Unknown, never Invalid.
	Err error `json:"-"`
	// Dir is where the run's record (history.WriteRecord) was written.
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
func (r *RunResult) Verdict() Validity {
	v := Merge(r.Results)
	if v == Invalid {
		return v
	}
	if r.Err != nil || !r.Covered() {
		return Unknown
	}
	return v
}

// Covered reports whether every coverage point was reached.
func (r *RunResult) Covered() bool {
	for _, c := range r.Coverage {
		if !c.Reached {
			return false
		}
	}
	return true
}

// Error is Err as text, for reports.
func (r *RunResult) Error() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// Explain is the run told for a reader who must find why it is not
// valid: the verdict and replay line, the harness's error, every verdict
// that is not valid, the coverage not reached, and the whole history.
func (r *RunResult) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s seed %d: verdict %s\nreplay: %s\n", r.Scenario, r.Seed, r.Verdict(), r.Replay)
	if r.Err != nil {
		fmt.Fprintf(&b, "harness error: %v\n", r.Err)
	}
	for _, res := range r.Results {
		if res.Validity != Valid {
			fmt.Fprintf(&b, "  %s\n", res)
		}
	}
	for _, c := range r.Coverage {
		if !c.Reached {
			fmt.Fprintf(&b, "  coverage not reached: %s\n", c.Name)
		}
	}
	for _, e := range r.History {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	return b.String()
}
