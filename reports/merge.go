package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Merge errors: each names the directories and what differs.
var (
	// ErrMerge is the root of every merge error.
	ErrMerge = errors.New("cannot merge")
	// ErrShardMissing: a share, or a scenario of the selection, has no
	// directory (a shard that failed or was interrupted).
	ErrShardMissing = fmt.Errorf("%w: missing", ErrMerge)
	// ErrShardDuplicate: two directories hold the same share or the
	// same scenario.
	ErrShardDuplicate = fmt.Errorf("%w: duplicate", ErrMerge)
	// ErrShardMismatch: the directories come from different runs
	// (tool version, seed, client, backend, selection, share count), or
	// one is not a share at all.
	ErrShardMismatch = fmt.Errorf("%w: mismatch", ErrMerge)
)

// MergeDirs joins the report directories of the N shares of one sharded
// run (chaos run -shard K/N) into out: one results.json, junit.xml and
// report.html over the whole selection, in its order, and a copy of each
// run's record. It refuses, writing nothing, unless the directories are
// exactly the N shares of one run: every share once, every scenario of
// the selection exactly once, the same tool version, seed, client,
// backend and selection.
func MergeDirs(out string, dirs []string) (Report, error) {
	if len(dirs) == 0 {
		return Report{}, fmt.Errorf("%w: no directories", ErrShardMissing)
	}
	shares := make([]Report, len(dirs))
	for i, d := range dirs {
		if absPath(d) == absPath(out) {
			return Report{}, fmt.Errorf("%w: the output %s is also an input", ErrShardMismatch, out)
		}
		r, err := readReport(filepath.Join(d, FileResults))
		if err != nil {
			return Report{}, fmt.Errorf("%w: %s: %w", ErrShardMissing, d, err)
		}
		if r.Shard == nil {
			return Report{}, fmt.Errorf("%w: %s is not a share (its run had no -shard)", ErrShardMismatch, d)
		}
		shares[i] = r
	}
	first := shares[0]
	placed := make([]Share, len(shares))
	for i, r := range shares {
		placed[i] = Share{Dir: dirs[i], Index: r.Shard.Index, Count: r.Shard.Count, Same: []Field{
			{"tool", r.Tool}, {"tool version", r.Version}, {"seed", fmt.Sprint(r.Seed)}, {"client", r.Client},
			{"backend", r.Backend}, {"selection", strings.Join(r.Shard.Selection, ",")},
		}}
	}
	byIndex, err := CheckShares(placed)
	if err != nil {
		return Report{}, err
	}

	type located struct {
		run RunReport
		dir string // the share's directory
	}
	byScenario := map[string]located{}
	for i, r := range shares {
		for _, run := range r.Runs {
			if !slices.Contains(first.Shard.Selection, run.Scenario) {
				return Report{}, fmt.Errorf("%w: %s ran %s, which the selection does not hold", ErrShardMismatch, dirs[i], run.Scenario)
			}
			if prev, dup := byScenario[run.Scenario]; dup {
				return Report{}, fmt.Errorf("%w: %s ran in both %s and %s", ErrShardDuplicate, run.Scenario, prev.dir, dirs[i])
			}
			byScenario[run.Scenario] = located{run, dirs[i]}
		}
	}
	for _, name := range first.Shard.Selection {
		if _, ok := byScenario[name]; !ok {
			return Report{}, fmt.Errorf("%w: no share ran %s (was one interrupted?)", ErrShardMissing, name)
		}
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return Report{}, fmt.Errorf("merge: %w", err)
	}
	merged := Report{
		Tool: first.Tool, Version: first.Version, Seed: first.Seed, Client: first.Client, Backend: first.Backend,
		Runs: make([]RunReport, 0, len(first.Shard.Selection)),
	}
	runs := make([]*check.RunResult, 0, len(first.Shard.Selection))
	var end time.Time
	merged.Merged = byIndex
	for _, name := range first.Shard.Selection {
		l := byScenario[name]
		rr := l.run
		// A run that never started (its backend failed) has no record.
		rr.Dir = ""
		if src := runDir(l.dir, l.run); exists(src) {
			dst := filepath.Join(out, safeName(rr.Scenario))
			if err := history.CopyDir(src, dst); err != nil {
				return Report{}, fmt.Errorf("merge: %s: %w", rr.Scenario, err)
			}
			rr.Dir = dst
		}
		merged.Runs = append(merged.Runs, rr)
		runs = append(runs, &check.RunResult{Scenario: rr.Scenario, Dir: rr.Dir})
		if !rr.Started.IsZero() && (merged.Started.IsZero() || rr.Started.Before(merged.Started)) {
			merged.Started = rr.Started
		}
		if e := rr.Started.Add(rr.Duration); e.After(end) {
			end = e
		}
	}
	if !merged.Started.IsZero() {
		merged.Duration = end.Sub(merged.Started)
	}
	merged.Verdict = Merge(merged.Runs)
	if err := WriteDir(out, merged, runs); err != nil {
		return Report{}, err
	}
	return merged, nil
}

// Share is one share of a sharded invocation as a merge sees it: its
// directory, its place (Index of Count) and the fields every share of
// the invocation must have alike (tool version, seed, client, ...).
type Share struct {
	Dir          string
	Index, Count int
	Same         []Field
}

// Field is one named value that must be the same in every share.
type Field struct{ Name, Value string }

// CheckShares checks that shares are exactly the Count shares of one
// invocation: the same fields and count everywhere, every index from 0
// to Count-1 once. It returns their directories by index.
func CheckShares(shares []Share) ([]string, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: no directories", ErrShardMissing)
	}
	first := shares[0]
	n := first.Count
	byIndex := make(map[int]string, n)
	for _, sh := range shares {
		if sh.Count != n {
			return nil, fmt.Errorf("%w: number of shares: %s has %d, %s has %d", ErrShardMismatch, first.Dir, n, sh.Dir, sh.Count)
		}
		if len(sh.Same) != len(first.Same) {
			return nil, fmt.Errorf("%w: %s and %s are not shares of the same kind", ErrShardMismatch, first.Dir, sh.Dir)
		}
		for j, f := range sh.Same {
			if want := first.Same[j]; f != want {
				return nil, fmt.Errorf("%w: %s: %s has %q, %s has %q", ErrShardMismatch, want.Name, first.Dir, want.Value, sh.Dir, f.Value)
			}
		}
		if sh.Index < 0 || sh.Index >= n {
			return nil, fmt.Errorf("%w: %s is share %d of %d", ErrShardMismatch, sh.Dir, sh.Index, n)
		}
		if prev, dup := byIndex[sh.Index]; dup {
			return nil, fmt.Errorf("%w: share %d/%d is both %s and %s", ErrShardDuplicate, sh.Index, n, prev, sh.Dir)
		}
		byIndex[sh.Index] = sh.Dir
	}
	var missing []string
	out := make([]string, n)
	for k := range n {
		dir, ok := byIndex[k]
		if !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", k, n))
		}
		out[k] = dir
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: share %s of %d not given (%d directories)", ErrShardMissing, strings.Join(missing, ", "), n, len(shares))
	}
	return out, nil
}
