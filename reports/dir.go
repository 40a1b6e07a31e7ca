package reports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// File names in a report directory. Each run's directory holds its
// record, as history.WriteRecord writes it.
const (
	FileResults = "results.json"
	FileJUnit   = "junit.xml"
	FileHTML    = "report.html"
)

// WriteDir writes results.json, junit.xml and report.html into dir,
// creating it. r must be New(runs, ...): its runs match runs by position.
//
// The runner normally writes each run's history.jsonl and truth.json into
// run.Dir already; a run without a Dir whose History is set has them
// written here, under dir/<scenario>/, and its report's Dir says so. The
// timeline of a run whose History is nil is read back from its Dir.
func WriteDir(dir string, r Report, runs []*check.RunResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	r.Runs = append([]RunReport(nil), r.Runs...) // the caller's report stays as it was
	histories := map[string]history.History{}
	used := map[string]bool{}
	var errs []error
	for i, run := range runs {
		if run == nil || i >= len(r.Runs) {
			continue
		}
		h := run.History
		switch {
		case run.Dir == "" && run.History != nil:
			sub, err := writeRunFiles(dir, run, used)
			if err != nil {
				errs = append(errs, fmt.Errorf("scenario %s: %w", run.Scenario, err))
				break
			}
			r.Runs[i].Dir = sub
		case run.History == nil && run.Dir != "":
			// Best effort: a run without a readable history has no
			// timeline, which the page says.
			h, _ = history.ReadHistory(run.Dir)
		}
		if r.Runs[i].Events == 0 {
			r.Runs[i].Events = len(h)
		}
		if _, dup := histories[run.Scenario]; !dup && h != nil {
			histories[run.Scenario] = h
		}
	}
	for _, out := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{FileResults, func(w io.Writer) error { return WriteJSON(w, r) }},
		{FileJUnit, func(w io.Writer) error { return WriteJUnit(w, r) }},
		{FileHTML, func(w io.Writer) error { return WriteHTML(w, r, histories) }},
	} {
		if err := history.WriteAtomic(filepath.Join(dir, out.name), out.write); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeRunFiles writes a run's record under dir/<scenario>/.
func writeRunFiles(dir string, run *check.RunResult, used map[string]bool) (string, error) {
	name := safeName(run.Scenario)
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s-%d", safeName(run.Scenario), i)
	}
	used[name] = true
	sub := filepath.Join(dir, name)
	if err := history.WriteRecord(sub, run.History, run.Truth); err != nil {
		return "", err
	}
	return sub, nil
}

// safeName makes a scenario name one harmless path element.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if strings.Trim(s, ".") == "" {
		s = "scenario" + s
	}
	return s
}
