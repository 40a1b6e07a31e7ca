package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"dur":   func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"when":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(htmlSource))

// WriteHTML writes the report as one self-contained HTML page (no
// external assets, no scripts): the verdict table, the replay commands,
// and per scenario a timeline of its history (histories by scenario name;
// a missing one leaves the timeline out) with the events the witnesses
// point at highlighted. Every string from a run is escaped by
// html/template.
func WriteHTML(w io.Writer, r Report, histories map[string]history.History) error {
	v := htmlView{Report: r}
	for i, run := range r.Runs {
		id := fmt.Sprintf("s%d", i)
		s := htmlScenario{ID: id, Run: run}
		for _, res := range run.Results {
			v.Rows = append(v.Rows, htmlRow{ID: id, Scenario: run.Scenario, Checker: res.Checker,
				Verdict: res.Validity.String(), Witness: res.Message, Events: res.Events})
		}
		cov := htmlRow{ID: id, Scenario: run.Scenario, Checker: CaseCoverage, Verdict: check.Valid.String(),
			Witness: "reached: " + strings.Join(coverageNames(run), ", ")}
		if miss := run.Unreached(); len(miss) > 0 {
			cov.Verdict, cov.Witness = check.Unknown.String(), "not reached: "+strings.Join(miss, ", ")
		} else if len(run.Coverage) == 0 {
			cov.Witness = "no coverage points"
		}
		v.Rows = append(v.Rows, cov)
		if run.Error != "" {
			v.Rows = append(v.Rows, htmlRow{ID: id, Scenario: run.Scenario, Checker: CaseHarness,
				Verdict: check.Unknown.String(), Witness: run.Error})
		}
		if h, ok := histories[run.Scenario]; ok && len(h) > 0 {
			hl := highlighted(run.Results)
			s.Timeline = newTimeline(h, hl)
			for _, e := range h {
				if hl[e.Index] {
					s.Highlighted = append(s.Highlighted, e)
				}
			}
		}
		v.Scenarios = append(v.Scenarios, s)
	}
	v.Matrix = newMatrix(r)
	if err := htmlTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("write html report: %w", err)
	}
	return nil
}

type htmlView struct {
	Report    Report
	Matrix    matrix
	Rows      []htmlRow
	Scenarios []htmlScenario
}

// matrix is the page's first table: a row per scenario, the failing
// first (invalid, then unknown, then valid, each in the report's order),
// a column per checker (in the order they first appear) and one for the
// coverage, each cell a verdict linking to the scenario's section.
type matrix struct {
	Checkers []string
	Rows     []matrixRow
}

type matrixRow struct {
	ID, Scenario, Verdict string
	Cells                 []matrixCell
}

type matrixCell struct {
	Verdict string // "" when the checker did not judge the scenario
	Title   string
}

func newMatrix(r Report) matrix {
	var m matrix
	seen := map[string]bool{}
	for _, run := range r.Runs {
		for _, res := range run.Results {
			if !seen[res.Checker] {
				seen[res.Checker] = true
				m.Checkers = append(m.Checkers, res.Checker)
			}
		}
	}
	m.Checkers = append(m.Checkers, CaseCoverage)
	rank := map[check.Validity]int{check.Invalid: 0, check.Unknown: 1, check.Valid: 2}
	idx := make([]int, len(r.Runs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank[r.Runs[a].Verdict] - rank[r.Runs[b].Verdict] })
	for _, i := range idx {
		run := r.Runs[i]
		row := matrixRow{ID: fmt.Sprintf("s%d", i), Scenario: run.Scenario, Verdict: run.Verdict.String()}
		byChecker := map[string]check.Result{}
		for _, res := range run.Results {
			byChecker[res.Checker] = res
		}
		for _, c := range m.Checkers[:len(m.Checkers)-1] {
			res, ok := byChecker[c]
			if !ok {
				row.Cells = append(row.Cells, matrixCell{Title: c + ": not run"})
				continue
			}
			title := c + ": " + res.Validity.String()
			if res.Message != "" {
				title += ": " + res.Message
			}
			row.Cells = append(row.Cells, matrixCell{Verdict: res.Validity.String(), Title: title})
		}
		cov := matrixCell{Verdict: check.Valid.String(), Title: "coverage reached"}
		if miss := run.Unreached(); len(miss) > 0 {
			cov = matrixCell{Verdict: check.Unknown.String(), Title: "coverage not reached: " + strings.Join(miss, ", ")}
		}
		if run.Error != "" {
			cov = matrixCell{Verdict: check.Unknown.String(), Title: "harness: " + run.Error}
		}
		row.Cells = append(row.Cells, cov)
		m.Rows = append(m.Rows, row)
	}
	return m
}

type htmlRow struct {
	ID                         string
	Scenario, Checker, Verdict string
	Witness                    string
	Events                     []int64
}

type htmlScenario struct {
	ID          string
	Run         RunReport
	Timeline    *timeline
	Highlighted []history.Event
}

// highlighted is the set of history indices the results that are not
// valid point at.
func highlighted(rs []check.Result) map[int64]bool {
	out := map[int64]bool{}
	for _, r := range rs {
		if r.Validity == check.Valid {
			continue
		}
		for _, e := range r.Events {
			out[e] = true
		}
	}
	return out
}

// Timeline geometry, in SVG user units.
const (
	tlWidth  = 1000
	tlLabel  = 120 // the lane labels' column
	tlLane   = 22
	tlAxis   = 20
	tlMinBar = 2
)

// timeline is a history drawn as lanes: the nemesis first (fault windows,
// phases), then one lane per client process (its purchase attempts).
type timeline struct {
	Width, Height int
	Lanes         []lane
	// Bands shade each fault window across every lane.
	Bands []shape
	Ticks []tick
	// LanesHeight is where the axis starts; AxisTextY is its labels'
	// baseline.
	LanesHeight, AxisTextY int
}

type lane struct {
	Y, TextY int
	Label    string
	Shapes   []shape
	Marks    []shape
}

// shape is a bar (an operation or a fault window) or a mark (one event).
type shape struct {
	X, W       string
	Y, H       int
	TextX      string
	TextY      int
	Class      string
	Label      string
	Title      string
	Highlight  bool
	FirstIndex int64
}

type tick struct {
	X     string
	Label string
}

func newTimeline(h history.History, hl map[int64]bool) *timeline {
	end := h[len(h)-1].Time
	if end <= 0 {
		end = time.Millisecond
	}
	plot := float64(tlWidth - tlLabel - 10)
	x := func(t time.Duration) float64 { return tlLabel + float64(t)/float64(end)*plot }
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	bar := func(from, to time.Duration) (string, string, string) {
		x0, x1 := x(from), x(to)
		if x1-x0 < tlMinBar {
			x1 = x0 + tlMinBar
		}
		return f(x0), f(x1 - x0), f(x0 + 2)
	}

	tl := &timeline{Width: tlWidth}
	lanes := map[int]*lane{}
	var order []int
	get := func(p int) *lane {
		if l, ok := lanes[p]; ok {
			return l
		}
		l := &lane{Label: fmt.Sprintf("process %d", p)}
		if p == history.Nemesis {
			l.Label = "nemesis"
		}
		lanes[p] = l
		order = append(order, p)
		return l
	}
	get(history.Nemesis)

	for _, w := range h.Faults() {
		stop, title := w.Stop.Time, w.Start.String()+"\n"+w.Stop.String()
		if w.Open {
			stop, title = end, w.Start.String()+"\n(never stopped)"
		}
		s := shape{Class: "fault", Label: w.Fault, Title: title, FirstIndex: w.Start.Index,
			Highlight: hl[w.Start.Index] || (!w.Open && hl[w.Stop.Index])}
		s.X, s.W, s.TextX = bar(w.Start.Time, stop)
		l := get(history.Nemesis)
		l.Shapes = append(l.Shapes, s)
		tl.Bands = append(tl.Bands, shape{X: s.X, W: s.W, Class: "band"})
	}
	for _, op := range h.Ops() {
		stop, class := end, "open"
		title := op.Invoke.String()
		highlight := hl[op.Invoke.Index]
		if op.Complete != nil {
			stop, class = op.Complete.Time, string(op.Complete.Type)
			title += "\n" + op.Complete.String()
			highlight = highlight || hl[op.Complete.Index]
		} else {
			title += "\n(never completed)"
		}
		label := op.Invoke.Key
		if op.Invoke.Attempt > 0 {
			label += fmt.Sprintf(" #%d", op.Invoke.Attempt)
		}
		s := shape{Class: class, Label: label, Title: title, Highlight: highlight, FirstIndex: op.Invoke.Index}
		s.X, s.W, s.TextX = bar(op.Invoke.Time, stop)
		l := get(op.Invoke.Process)
		l.Shapes = append(l.Shapes, s)
	}
	for _, e := range h {
		if e.F == history.Purchase || e.F == history.FaultStart || e.F == history.FaultStop {
			continue
		}
		// Phases and anything else that is not an operation: a mark.
		s := shape{Class: "mark", Title: e.String(), Highlight: hl[e.Index], FirstIndex: e.Index}
		s.X, s.W, s.TextX = f(x(e.Time)-1), f(tlMinBar), f(x(e.Time))
		l := get(e.Process)
		l.Marks = append(l.Marks, s)
	}
	sort.Ints(order)
	for i, p := range order {
		l := lanes[p]
		y := i * tlLane
		l.Y, l.TextY = y, y+tlLane/2+4
		for j := range l.Shapes {
			l.Shapes[j].Y, l.Shapes[j].H, l.Shapes[j].TextY = y+3, tlLane-6, y+tlLane/2+4
		}
		for j := range l.Marks {
			l.Marks[j].Y, l.Marks[j].H = y+1, tlLane-2
		}
		tl.Lanes = append(tl.Lanes, *l)
	}
	tl.LanesHeight = len(tl.Lanes) * tlLane
	for i := range tl.Bands {
		tl.Bands[i].H = tl.LanesHeight
	}
	tl.Height = tl.LanesHeight + tlAxis
	tl.AxisTextY = tl.Height - 5
	for i := 0; i <= 4; i++ {
		t := end * time.Duration(i) / 4
		tl.Ticks = append(tl.Ticks, tick{X: f(x(t)), Label: t.Round(time.Millisecond).String()})
	}
	return tl
}
