package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// ErrNothingToCheck: a directory holds neither a run record nor a report
// (results.json) listing runs.
var ErrNothingToCheck = errors.New("nothing to check")

// Rechecked is what Recheck found.
type Rechecked struct {
	// Report is the runs judged again, in results.json's order.
	Report Report
	// Runs are the rechecked runs, Report's by position.
	Runs []*check.RunResult
	// Changed names the runs whose verdict differs from the one
	// results.json recorded: "NAME was V1 when it ran; the checkers now
	// say V2".
	Changed []string
}

// Recheck runs every checker again, offline, on a run's record
// (dir/history.jsonl and dir/truth.json) or on every run of a report
// directory (dir/results.json). Coverage, seeds and replay lines come
// from results.json when there is one (the parent's, for a run
// directory): coverage is a fact of the history, unchanged by a recheck.
// A run whose record cannot be read is Unknown with the error. meta
// describes the recheck itself.
func Recheck(dir string, meta Meta) (*Rechecked, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrNothingToCheck, dir)
	}
	var targets []target
	switch {
	case history.IsRecord(dir):
		targets = []target{{dir: dir, recorded: recordedRun(dir)}}
	case exists(filepath.Join(dir, FileResults)):
		rep, err := readReport(filepath.Join(dir, FileResults))
		if err != nil {
			return nil, err
		}
		for i := range rep.Runs {
			rr := rep.Runs[i]
			targets = append(targets, target{dir: runDir(dir, rr), recorded: &rr})
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("%w: %s lists no runs", ErrNothingToCheck, filepath.Join(dir, FileResults))
		}
	default:
		return nil, fmt.Errorf("%w: %s holds neither %s nor %s", ErrNothingToCheck, dir, history.HistoryFile, FileResults)
	}

	out := &Rechecked{Runs: make([]*check.RunResult, len(targets))}
	for i, t := range targets {
		out.Runs[i] = t.recheck()
	}
	out.Report = New(out.Runs, meta)
	for i, t := range targets {
		if t.recorded == nil {
			continue
		}
		if was := t.recorded.Verdict; was != out.Report.Runs[i].Verdict {
			out.Changed = append(out.Changed, fmt.Sprintf("%s was %s when it ran; the checkers now say %s",
				out.Report.Runs[i].Scenario, was, out.Report.Runs[i].Verdict))
		}
	}
	return out, nil
}

// target is one run's directory and what results.json recorded about
// the run, if anything.
type target struct {
	dir      string
	recorded *RunReport
}

func (t target) recheck() *check.RunResult {
	run := &check.RunResult{Scenario: filepath.Base(absPath(t.dir)), Dir: t.dir}
	if rr := t.recorded; rr != nil {
		run.Scenario, run.Description, run.Seed, run.Client = rr.Scenario, rr.Description, rr.Seed, rr.Client
		run.Started, run.Duration, run.Replay = rr.Started, rr.Duration, rr.Replay
		run.Coverage = rr.Coverage
	}
	res, err := check.Recheck(t.dir)
	if err != nil {
		run.Err = err
		return run
	}
	run.Results = res
	return run
}

// recordedRun finds what the report directory around a run directory
// (its parent's results.json) recorded about the run.
func recordedRun(dir string) *RunReport {
	rep, err := readReport(filepath.Join(dir, "..", FileResults))
	if err != nil {
		return nil
	}
	abs := absPath(dir)
	for i := range rep.Runs {
		if rep.Runs[i].Dir != "" && absPath(rep.Runs[i].Dir) == abs {
			return &rep.Runs[i]
		}
	}
	for i := range rep.Runs {
		if rep.Runs[i].Dir != "" && filepath.Base(rep.Runs[i].Dir) == filepath.Base(abs) {
			return &rep.Runs[i]
		}
	}
	return nil
}

// runDir is where a run of a report directory keeps its record: its
// recorded Dir, or, when the report was moved, the directory of the same
// name inside the report directory.
func runDir(reportDir string, rr RunReport) string {
	if rr.Dir != "" && history.IsRecord(rr.Dir) {
		return rr.Dir
	}
	name := rr.Scenario
	if rr.Dir != "" {
		name = filepath.Base(rr.Dir)
	}
	return filepath.Join(reportDir, name)
}

func readReport(path string) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
