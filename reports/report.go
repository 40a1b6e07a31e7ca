package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
)

// Tool is the name reports carry when Meta leaves it empty.
const Tool = "l402chaos"

// Meta describes the invocation that produced the runs.
type Meta struct {
	// Tool defaults to Tool.
	Tool    string
	Version string
	// Seed is the invocation's seed (each run carries its own too).
	Seed int64
	// Client names the client under test; empty takes the first run's.
	Client string
	// Started and Duration default to the span of the runs.
	Started  time.Time
	Duration time.Duration
	// Backend is where the networks ran (process, containers).
	Backend string
	// Parallel is how many scenarios ran at once.
	Parallel int
	// Shard says which share of the selection the runs are; nil: all.
	Shard *Shard
}

// Shard is the share of a selection one sharded invocation ran (chaos
// run -shard K/N): MergeDirs joins the N shares into the whole.
type Shard struct {
	// Index counts from 0; Count is N.
	Index int `json:"index"`
	Count int `json:"count"`
	// Selection names everything the invocation selected, before it
	// took its share, in order: every share lists the same.
	Selection []string `json:"selection"`
}

// Report is everything one invocation found, as written to results.json.
// Field order is the JSON order, and it is stable.
type Report struct {
	Tool     string        `json:"tool"`
	Version  string        `json:"version"`
	Seed     int64         `json:"seed"`
	Client   string        `json:"client"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Backend  string        `json:"backend,omitempty"`
	Parallel int           `json:"parallel,omitempty"`
	// Shard is set on one share of a sharded run; a merged report has
	// none, and Merged names the shares it joined.
	Shard  *Shard   `json:"shard,omitempty"`
	Merged []string `json:"merged,omitempty"`
	// Verdict folds the runs' verdicts: Invalid if any run is, else
	// Unknown if any run is, else Valid.
	Verdict check.Validity `json:"verdict"`
	Runs    []RunReport    `json:"runs"`
}

// RunReport is one scenario run.
type RunReport struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	Seed        int64  `json:"seed"`
	// Replay is the command line that reruns exactly this run.
	Replay string `json:"replay"`
	// Varied says what the scenario's seeded variation drew (the seed
	// draws it again).
	Varied  []string       `json:"varied,omitempty"`
	Verdict check.Validity `json:"verdict"`
	// Error is the harness's own failure; it makes the verdict Unknown.
	Error    string                 `json:"error,omitempty"`
	Client   string                 `json:"client,omitempty"`
	Started  time.Time              `json:"started"`
	Duration time.Duration          `json:"duration"`
	Coverage []check.CoverageResult `json:"coverage"`
	Results  []check.Result         `json:"results"`
	// Dir holds the run's history.jsonl and truth.json.
	Dir string `json:"dir,omitempty"`
	// Events is the length of the run's history.
	Events int `json:"events"`
}

// New builds a report from finished runs, in their order.
func New(runs []*check.RunResult, meta Meta) Report {
	r := Report{
		Tool: meta.Tool, Version: meta.Version, Seed: meta.Seed, Client: meta.Client,
		Started: meta.Started, Duration: meta.Duration,
		Backend: meta.Backend, Parallel: meta.Parallel, Shard: meta.Shard,
		Runs: make([]RunReport, 0, len(runs)),
	}
	if r.Tool == "" {
		r.Tool = Tool
	}
	var first, last time.Time
	for _, run := range runs {
		if run == nil {
			continue
		}
		r.Runs = append(r.Runs, newRun(run))
		if r.Client == "" {
			r.Client = run.Client
		}
		if !run.Started.IsZero() {
			if first.IsZero() || run.Started.Before(first) {
				first = run.Started
			}
			if end := run.Started.Add(run.Duration); end.After(last) {
				last = end
			}
		}
	}
	if r.Started.IsZero() {
		r.Started = first
	}
	if r.Duration == 0 && !first.IsZero() {
		r.Duration = last.Sub(r.Started)
	}
	r.Verdict = Merge(r.Runs)
	return r
}

func newRun(run *check.RunResult) RunReport {
	rr := RunReport{
		Scenario: run.Scenario, Description: run.Description, Seed: run.Seed,
		Replay: run.Replay, Varied: run.Varied, Verdict: run.Verdict(), Error: run.Error(),
		Client: run.Client, Started: run.Started, Duration: run.Duration,
		Coverage: append([]check.CoverageResult{}, run.Coverage...),
		Results:  append([]check.Result{}, run.Results...),
		Dir:      run.Dir, Events: len(run.History),
	}
	return rr
}

// Merge folds run verdicts: Invalid if any run is, else Unknown if any
// run is, else Valid. No runs at all is Unknown: nothing was judged.
func Merge(runs []RunReport) check.Validity {
	if len(runs) == 0 {
		return check.Unknown
	}
	v := check.Valid
	for _, r := range runs {
		switch r.Verdict {
		case check.Invalid:
			return check.Invalid
		case check.Valid:
		default:
			v = check.Unknown
		}
	}
	return v
}

// Count is how many results (or runs) have each verdict.
type Count struct {
	Valid, Invalid, Unknown int
}

// Total is the number counted.
func (c Count) Total() int { return c.Valid + c.Invalid + c.Unknown }

func (c *Count) add(v check.Validity) {
	switch v {
	case check.Valid:
		c.Valid++
	case check.Invalid:
		c.Invalid++
	default:
		c.Unknown++
	}
}

func (c Count) String() string {
	return fmt.Sprintf("%d valid, %d invalid, %d unknown", c.Valid, c.Invalid, c.Unknown)
}

// Checks counts the run's checker results.
func (r RunReport) Checks() Count {
	var c Count
	for _, res := range r.Results {
		c.add(res.Validity)
	}
	return c
}

// Reached counts the coverage points reached.
func (r RunReport) Reached() int {
	n := 0
	for _, c := range r.Coverage {
		if c.Reached {
			n++
		}
	}
	return n
}

// Unreached names the coverage points not reached.
func (r RunReport) Unreached() []string {
	var out []string
	for _, c := range r.Coverage {
		if !c.Reached {
			out = append(out, c.Name)
		}
	}
	return out
}

// Scenarios counts the runs by verdict.
func (r Report) Scenarios() Count {
	var c Count
	for _, run := range r.Runs {
		c.add(run.Verdict)
	}
	return c
}

// WriteJSON writes the report as indented JSON (results.json).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report json: %w", err)
	}
	return nil
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(rd io.Reader) (Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Report{}, fmt.Errorf("read report json: %w", err)
	}
	return r, nil
}
