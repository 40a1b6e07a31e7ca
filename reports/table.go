package reports

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/l402chaos/l402chaos/harness/check"
)

// TableOption adjusts WriteTable.
type TableOption func(*tableConfig)

type tableConfig struct {
	verbose bool
}

// WithVerbose, when on, writes every row: valid results, reached coverage
// and the replay line of valid runs too.
func WithVerbose(on bool) TableOption {
	return func(c *tableConfig) { c.verbose = on }
}

// WriteTable writes the verdict table for a terminal: scenario, checker,
// verdict, witness. By default it writes only the rows that are not
// valid, one summary row per scenario, and the replay line of every run
// that is not valid (a run whose Replay is empty, its seed unknown, has
// none); with more than one run, a total row ends it.
//
//	SCENARIO   CHECKER       VERDICT  WITNESS
//	reset      at-most-once  invalid  purchase k1 paid twice: 1a2b3c4d 5e6f7a8b [#3 #9]
//	reset      =             INVALID  4 checks: 3 valid, 1 invalid, 0 unknown; coverage 1/1; seed 7; 12.3s
//	reset      replay                 go run ./cmd/chaos run -scenario='^reset$' -seed=7
func WriteTable(w io.Writer, r Report, opts ...TableOption) error {
	var cfg tableConfig
	for _, o := range opts {
		o(&cfg)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) {
		for i := range cells {
			cells[i] = cell(cells[i])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	row("SCENARIO", "CHECKER", "VERDICT", "WITNESS")
	for _, run := range r.Runs {
		for _, res := range run.Results {
			if res.Validity == check.Valid && !cfg.verbose {
				continue
			}
			row(run.Scenario, res.Checker, res.Validity.String(), witnessLine(res))
		}
		if miss := run.Unreached(); len(miss) > 0 {
			row(run.Scenario, CaseCoverage, check.Unknown.String(), "not reached: "+strings.Join(miss, ", "))
		} else if cfg.verbose && len(run.Coverage) > 0 {
			row(run.Scenario, CaseCoverage, check.Valid.String(), "reached: "+strings.Join(coverageNames(run), ", "))
		}
		if run.Error != "" {
			row(run.Scenario, CaseHarness, check.Unknown.String(), run.Error)
		}
		row(run.Scenario, "=", strings.ToUpper(run.Verdict.String()), summary(run))
		if run.Verdict != check.Valid || cfg.verbose {
			for _, v := range run.Varied {
				row(run.Scenario, "varied", "", v)
			}
			if run.Replay != "" {
				row(run.Scenario, "replay", "", run.Replay)
			}
		}
	}
	if len(r.Runs) > 1 {
		c := r.Scenarios()
		row("(all)", "=", strings.ToUpper(r.Verdict.String()), fmt.Sprintf("%d scenarios: %s", c.Total(), c))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func summary(run RunReport) string {
	c := run.Checks()
	s := fmt.Sprintf("%d checks: %s; coverage %d/%d", c.Total(), c, run.Reached(), len(run.Coverage))
	if run.Replay != "" { // a run whose seed is not known has no replay line
		s += fmt.Sprintf("; seed %d", run.Seed)
	}
	if run.Duration > 0 {
		s += "; " + run.Duration.Round(100*time.Millisecond).String()
	}
	if run.Dir != "" {
		s += "; " + run.Dir
	}
	return s
}

func coverageNames(run RunReport) []string {
	names := make([]string, len(run.Coverage))
	for i, c := range run.Coverage {
		names[i] = c.Name
	}
	return names
}

// witnessLine is a result's witness with the history indices it points
// at: "purchase k1 paid twice [#3 #9]".
func witnessLine(res check.Result) string {
	s := res.Message
	if len(res.Events) > 0 {
		if s != "" {
			s += " "
		}
		s += "[" + eventRefs(res.Events) + "]"
	}
	return s
}

// cell makes text safe for one table cell: no tabs, newlines or other
// control characters (a checker message must not break the table or the
// terminal).
func cell(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
