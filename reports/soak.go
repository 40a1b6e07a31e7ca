package reports

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// FileSoak is a soak's page, in its run directory.
const FileSoak = "soak.html"

// SoakMeta is what a soak's page says about the run beside its charts:
// what ran, with which seed, and the verdict. The charts come from the
// run directory.
type SoakMeta struct {
	Tool    string    `json:"tool,omitempty"` // default "l402chaos"
	Version string    `json:"version,omitempty"`
	Seed    int64     `json:"seed"`
	Client  string    `json:"client,omitempty"`
	Started time.Time `json:"started"`
	// Duration is how long traffic and faults went on (the soak's
	// -duration); the charts span at least that, and on to the last
	// event or sample (healing and the final reruns come after it).
	Duration time.Duration  `json:"duration"`
	Verdict  check.Validity `json:"verdict"`
	Results  []check.Result `json:"results,omitempty"`
	// Replay is the one command line that reruns the soak.
	Replay string `json:"replay,omitempty"`
	// Error is the harness's own failure, if any (it makes the verdict
	// Unknown).
	Error string `json:"error,omitempty"`
	// Params are the soak's settings worth showing (rate, concurrency,
	// nemesis), shown in key order.
	Params map[string]string `json:"params,omitempty"`
}

// WriteSoak reads dir's history.jsonl and series.jsonl and writes
// dir/soak.html: one self-contained page (inline SVG, no scripts, nothing
// fetched) with the verdict and, over time, throughput by outcome,
// latency percentiles, payments against purchases and resource use, fault
// windows shaded on every chart.
//
// A missing history or series leaves its charts as "no data" notes. A
// file that cannot be read is said so on the page, which is written all
// the same; the error is then returned too.
func WriteSoak(dir string, meta SoakMeta) error {
	var errs []error
	h, err := history.ReadHistory(dir)
	histNote := ""
	switch {
	case errors.Is(err, history.ErrNoRecord):
		histNote = "No " + history.HistoryFile + " in the run directory."
	case err != nil:
		histNote = "The history could not be read: " + err.Error()
		errs = append(errs, err)
	}
	samples, err := history.ReadSeries(dir)
	seriesNote := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		seriesNote = "No " + history.SeriesFile + " in the run directory."
	case err != nil:
		seriesNote = "The series could not be read: " + err.Error()
		errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, history.SeriesFile), err))
	}
	v := newSoakView(h, samples, meta, histNote, seriesNote)
	v.Dir = dir
	if err := history.WriteAtomic(filepath.Join(dir, FileSoak), func(w io.Writer) error {
		return soakTemplate.Execute(w, v)
	}); err != nil {
		return fmt.Errorf("soak page: %w", err)
	}
	return errors.Join(errs...)
}

//go:embed soak.html.tmpl
var soakSource string

var soakTemplate = template.Must(template.New("soak").Funcs(template.FuncMap{
	"dur":  func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"when": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(soakSource))

// reportCSS is the scripted runs' page's style sheet, so that the two
// pages look like one product.
var reportCSS = func() template.CSS {
	_, rest, _ := strings.Cut(htmlSource, "<style>")
	css, _, _ := strings.Cut(rest, "</style>")
	return template.CSS(css)
}()

type soakView struct {
	Meta    SoakMeta
	Tool    string
	CSS     template.CSS
	Dir     string
	Extent  time.Duration
	Bucket  time.Duration
	Summary []soakRow
	Params  []soakRow
	Results []soakResult
	// Witnessed are the events the results that are not valid point at.
	Witnessed []history.Event
	Charts    []soakChart
	Faults    []soakFault
	Notes     []string
}

type soakRow struct{ Name, Value string }

type soakResult struct {
	Checker, Verdict, Witness string
	Events                    []int64
}

// soakChart is one chart, or the note that says why there is none.
type soakChart struct {
	Title   string
	Caption string
	SVG     template.HTML
	Empty   string
}

type soakFault struct {
	N                   int
	Fault, Detail       string
	Start, Stop, Length string
}

func newSoakView(h history.History, samples []history.Sample, meta SoakMeta, histNote, seriesNote string) soakView {
	v := soakView{Meta: meta, Tool: meta.Tool, CSS: reportCSS}
	if v.Tool == "" {
		v.Tool = "l402chaos"
	}
	for _, k := range sortedKeys(meta.Params) {
		v.Params = append(v.Params, soakRow{k, meta.Params[k]})
	}
	hl := highlighted(meta.Results)
	for _, r := range meta.Results {
		res := soakResult{Checker: r.Checker, Verdict: r.Validity.String(), Witness: r.Message}
		if r.Validity != check.Valid {
			res.Events = r.Events
		}
		v.Results = append(v.Results, res)
	}
	for _, e := range h {
		if hl[e.Index] {
			v.Witnessed = append(v.Witnessed, e)
		}
	}
	if histNote != "" {
		v.Notes = append(v.Notes, histNote)
	}
	if seriesNote != "" {
		v.Notes = append(v.Notes, seriesNote)
	}

	v.Extent = meta.Duration
	if n := len(h); n > 0 {
		v.Extent = max(v.Extent, h[n-1].Time)
	}
	if n := len(samples); n > 0 {
		v.Extent = max(v.Extent, samples[n-1].Time)
	}
	v.Bucket = bucketSize(v.Extent)
	tb := newBuckets(v.Extent, v.Bucket)
	ops := purchases(h)
	spans := faultSpans(h, v.Extent)
	for i, w := range h.Faults() {
		f := soakFault{N: i + 1, Fault: w.Fault, Detail: w.Detail, Start: roundDur(w.Start.Time)}
		if w.Open {
			f.Stop, f.Length = "never stopped", roundDur(v.Extent-w.Start.Time)+"+"
		} else {
			f.Stop, f.Length = roundDur(w.Stop.Time), roundDur(w.Stop.Time-w.Start.Time)
		}
		v.Faults = append(v.Faults, f)
	}
	v.Summary = soakSummary(ops, samples, len(spans))
	samples = thin(samples, maxPoints) // after the summary: it finds the first invalid sample

	noHist := histNote
	if noHist == "" && len(ops) == 0 {
		noHist = "No purchases in the history."
	}
	noSeries := seriesNote
	if noSeries == "" && len(samples) == 0 {
		noSeries = "No samples in the series."
	}
	add := func(title, caption string, build func() (*chart, error), empty string) {
		c := soakChart{Title: title, Caption: caption, Empty: empty}
		if empty == "" {
			ch, err := build()
			switch {
			case err != nil:
				c.Empty = "This chart could not be drawn: " + err.Error()
			case ch == nil:
				c.Empty = "No data."
			default:
				svg, err := ch.svg()
				if err != nil {
					c.Empty = "This chart could not be drawn: " + err.Error()
				}
				c.SVG = svg
			}
		}
		v.Charts = append(v.Charts, c)
	}
	per := "per " + roundDur(v.Bucket)
	add("Throughput",
		"Purchases completed "+per+", by how they completed: ok (delivered), fail (failed, no money moved) and info (may have happened). Shaded: fault windows, numbered as in the table below.",
		func() (*chart, error) { return throughputChart(throughput(ops, tb), tb, spans, per) }, noHist)
	add("Latency",
		"Percentiles of the purchases completed "+per+", from invocation to completion, every outcome; log scale. A gap is a bucket where none completed.",
		func() (*chart, error) { return latencyChart(latencies(ops, tb), tb, spans) }, noHist)
	add("Payments and purchases",
		"Cumulative: purchases completed ok and payments the payer settled. Payments above purchases is money spent on nothing delivered, unless a purchase is still to be recovered; a reused token delivers without a payment.",
		func() (*chart, error) { return paymentsChart(samples, tb, spans) }, noSeries)
	add("Memory",
		"Resident set size of the harness and of each node's process; dashed, the harness's anonymous part (heap and stacks: what a leak grows; the rest is its binary's pages, mapped in as they are used).",
		func() (*chart, error) { return usageChart("RSS (MiB)", samples, tb, spans, rssOf, true, anonOf) }, noSeries)
	add("Open files and goroutines",
		"Open files of the harness and of each node, and the harness's goroutines: a line that only climbs is a leak.",
		func() (*chart, error) { return countsChart(samples, tb, spans) }, noSeries)
	add("Data size",
		"Size of each node's data directory.",
		func() (*chart, error) {
			return usageChart("data (MiB)", samples, tb, spans, dataOf, false, nil)
		}, noSeries)
	return v
}

func soakSummary(ops []history.Op, samples []history.Sample, faults int) []soakRow {
	var ok, fail, info, open int
	for _, op := range ops {
		switch {
		case op.Complete == nil:
			open++
		case op.Complete.Type == history.OK:
			ok++
		case op.Complete.Type == history.Fail:
			fail++
		default:
			info++
		}
	}
	rows := []soakRow{
		{"purchases", fmt.Sprintf("%d: %d ok, %d fail, %d info, %d never completed", len(ops), ok, fail, info, open)},
		{"fault windows", fmt.Sprint(faults)},
	}
	if n := len(samples); n > 0 {
		last := samples[n-1]
		rows = append(rows,
			soakRow{"shed", fmt.Sprintf("%d (offered while every slot was busy)", last.Shed)},
			soakRow{"payments", fmt.Sprintf("%d settled, %d sat paid, %d sat fees", last.Payments, last.PaidMsat/1000, last.FeesMsat/1000)})
		for _, s := range samples {
			if s.Invalid > 0 {
				rows = append(rows, soakRow{"first invalid", "seen at " + roundDur(s.Time)})
				break
			}
		}
	}
	return rows
}

// bucketSize is the width of a chart's time bucket: a 120th of the run,
// in whole seconds, at least one second.
func bucketSize(extent time.Duration) time.Duration {
	return max(time.Second, (extent / 120).Round(time.Second))
}

// buckets cut [0, Extent] into N buckets of Size; the last one also takes
// times past its end.
type buckets struct {
	Size, Extent time.Duration
	N            int
}

func newBuckets(extent, size time.Duration) buckets {
	n := int((extent + size - 1) / size)
	return buckets{Size: size, Extent: extent, N: max(n, 1)}
}

func (b buckets) index(t time.Duration) int {
	return min(max(int(t/b.Size), 0), b.N-1)
}

// start is bucket i's start, in seconds (the charts' x unit).
func (b buckets) start(i int) float64 { return (time.Duration(i) * b.Size).Seconds() }

// purchases are the history's purchase operations.
func purchases(h history.History) []history.Op {
	var out []history.Op
	for _, op := range h.Ops() {
		if op.Invoke.F == history.Purchase {
			out = append(out, op)
		}
	}
	return out
}

// outcomeCounts is one bucket's completed purchases by completion type.
type outcomeCounts struct{ OK, Fail, Info int }

// throughput counts the purchases completed in each bucket, by
// completion type. An operation never completed is in no bucket.
func throughput(ops []history.Op, b buckets) []outcomeCounts {
	out := make([]outcomeCounts, b.N)
	for _, op := range ops {
		if op.Complete == nil {
			continue
		}
		c := &out[b.index(op.Complete.Time)]
		switch op.Complete.Type {
		case history.OK:
			c.OK++
		case history.Fail:
			c.Fail++
		default:
			c.Info++
		}
	}
	return out
}

// latencyStats is one bucket's latency percentiles; N is 0 when no
// purchase completed in it.
type latencyStats struct {
	N             int
	P50, P95, P99 time.Duration
}

// latencies computes, per bucket of completion time, the percentiles of
// the purchases' latencies (invocation to completion).
func latencies(ops []history.Op, b buckets) []latencyStats {
	per := make([][]time.Duration, b.N)
	for _, op := range ops {
		if op.Complete == nil {
			continue
		}
		i := b.index(op.Complete.Time)
		per[i] = append(per[i], op.Complete.Time-op.Invoke.Time)
	}
	out := make([]latencyStats, b.N)
	for i, ls := range per {
		if len(ls) == 0 {
			continue
		}
		slices.Sort(ls)
		out[i] = latencyStats{N: len(ls), P50: percentile(ls, 0.50), P95: percentile(ls, 0.95), P99: percentile(ls, 0.99)}
	}
	return out
}

// percentile is the nearest-rank percentile p (0 < p <= 1) of sorted,
// which must not be empty: the smallest value at least p of the values
// are at or below.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// span is a fault window on a chart's time axis, in seconds.
type span struct {
	From, To float64
	Label    string
}

func faultSpans(h history.History, extent time.Duration) []span {
	var out []span
	for i, w := range h.Faults() {
		to := extent
		if !w.Open {
			to = w.Stop.Time
		}
		out = append(out, span{From: w.Start.Time.Seconds(), To: to.Seconds(), Label: fmt.Sprint(i + 1)})
	}
	return out
}

// Chart geometry and colours. 675x195 pt is 900x260 px; the legend takes
// a column on the right so that it never hides data.
var (
	chartW, chartH = vg.Length(675), vg.Length(195)
	legendW        = vg.Length(105)
	// chartLeft and chartRight are the margins of the data area.
	chartLeft, chartRight = vg.Length(52), vg.Length(8)

	faultColor = color.NRGBA{R: 0x82, G: 0x50, B: 0xdf, A: 0x2e} // the scripted page's fault purple, shaded
	okColor    = rgb(0x2da44e)
	failColor  = rgb(0x8c959f)
	infoColor  = rgb(0xd4a72c)
	inkColor   = rgb(0x24292f)
	bgColor    = rgb(0xfafafa)
	gridColor  = rgb(0xe4e4e4)
	// palette colours the nodes, in name order.
	palette = []color.Color{rgb(0x0969da), rgb(0xbf3989), rgb(0x1b7c83), rgb(0xbc4c00), rgb(0x6e7781), rgb(0x953800), rgb(0x1a7f37)}
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// chart is a time chart under construction: a plot whose x axis is the
// run's time in seconds, and its legend, drawn beside it.
type chart struct {
	p      *plot.Plot
	legend plot.Legend
}

func newChart(ylabel string, b buckets) *chart {
	p := plot.New()
	sans := func(size vg.Length) font.Font {
		f := font.From(plot.DefaultFont, size)
		f.Variant = "Sans"
		return f
	}
	p.BackgroundColor = bgColor
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(8.5)
		a.Label.TextStyle.Color = inkColor
		a.Tick.Label.Font = sans(7.5)
		a.Tick.Label.Color = inkColor
		a.LineStyle.Color = rgb(0x999999)
		a.Tick.LineStyle.Color = rgb(0x999999)
	}
	p.X.Label.Text = "time since the run began"
	p.X.Min, p.X.Max = 0, b.Extent.Seconds()
	p.X.Tick.Marker = durTicks{}
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Y.Tick.Marker = plainTicks{}
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridColor, gridColor
	p.Add(grid)
	leg := plot.NewLegend()
	leg.TextStyle.Font = sans(7.5)
	leg.TextStyle.Color = inkColor
	leg.Top, leg.Left = true, true
	leg.ThumbnailWidth = 14
	leg.Padding = 2
	return &chart{p: p, legend: leg}
}

// shade shades the fault windows, under the data drawn after it.
func (c *chart) shade(spans []span) {
	if len(spans) == 0 {
		return
	}
	sty := c.legend.TextStyle
	sty.Color = rgb(0x6639ba)
	sty.YAlign = draw.YTop
	b := &bands{Spans: spans, Color: faultColor, Label: sty}
	c.p.Add(b)
	c.legend.Add("fault window", b)
}

// line adds one series; a NaN in ys is a gap. A stretch of one point is
// drawn as a dot.
func (c *chart) line(name string, sty draw.LineStyle, xs, ys []float64, step plotter.StepKind) error {
	var seg plotter.XYs
	var thumb plot.Thumbnailer
	flush := func() error {
		defer func() { seg = nil }()
		switch len(seg) {
		case 0:
			return nil
		case 1:
			s, err := plotter.NewScatter(seg)
			if err != nil {
				return err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: 1.5, Shape: draw.CircleGlyph{}}
			c.p.Add(s)
			return nil
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			return err
		}
		l.LineStyle, l.StepStyle = sty, step
		c.p.Add(l)
		if thumb == nil {
			thumb = l
		}
		return nil
	}
	for i := range xs {
		if math.IsNaN(ys[i]) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		seg = append(seg, plotter.XY{X: xs[i], Y: ys[i]})
	}
	if err := flush(); err != nil {
		return err
	}
	if thumb == nil {
		l := &plotter.Line{LineStyle: sty}
		thumb = l
	}
	c.legend.Add(name, thumb)
	return nil
}

// svg draws the chart and returns its SVG element, ready to inline.
func (c *chart) svg() (template.HTML, error) {
	cv := vgsvg.New(chartW, chartH)
	dc := draw.New(cv)
	dc.SetColor(bgColor)
	dc.Fill(dc.Rectangle.Path())
	// Every chart's data area spans the same x, so that a time lines up
	// from one chart to the next: pad the axes' side out to chartLeft and
	// the other to chartRight (an axis wider than that keeps its width).
	if _, log := c.p.Y.Scale.(plot.LogScale); !log && c.p.Y.Max > c.p.Y.Min {
		c.p.Y.Max += (c.p.Y.Max - c.p.Y.Min) * 0.08 // headroom for the window numbers
	}
	area := draw.Crop(dc, 0, -legendW, 0, -6)
	data := c.p.DataCanvas(area)
	if pad := chartLeft - (data.Min.X - area.Min.X); pad > 0 {
		area = draw.Crop(area, pad, 0, 0, 0)
	}
	if pad := chartRight - (area.Max.X - data.Max.X); pad > 0 {
		area = draw.Crop(area, 0, -pad, 0, 0)
	}
	c.p.Draw(area)
	c.legend.Draw(draw.Crop(dc, chartW-legendW+4, 0, 0, -8))
	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return "", err
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:] // drop the XML declaration and comment, out of place inline
	}
	// gonum/plot escapes every text it draws (html.EscapeString), and the
	// rest is its own markup.
	return template.HTML(s), nil
}

// bands shades time spans over the whole height of a plot's data area,
// each numbered at its top where the number fits.
type bands struct {
	Spans []span
	Color color.Color
	Label text.Style
}

func (b *bands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	lastEnd := vg.Length(math.Inf(-1))
	for _, s := range b.Spans {
		x0, x1 := max(trX(s.From), c.Min.X), min(trX(s.To), c.Max.X)
		if x1 < x0 {
			continue
		}
		if x1-x0 < 1 {
			x1 = x0 + 1 // a short window is still seen
		}
		c.FillPolygon(b.Color, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
		if s.Label == "" {
			continue
		}
		w := b.Label.Width(s.Label)
		if x0+2 < lastEnd+3 || x0+2+w > c.Max.X {
			continue // it would overlap the previous number
		}
		c.FillText(b.Label, vg.Point{X: x0 + 2, Y: c.Max.Y - 2}, s.Label)
		lastEnd = x0 + 2 + w
	}
}

// Thumbnail draws the legend's swatch.
func (b *bands) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	c.FillPolygon(b.Color, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}})
}

// durTicks marks a time axis in seconds with durations at a round step:
// 30s, 5m, 2h.
type durTicks struct{}

var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

func (durTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 10 {
			step = s
			break
		}
	}
	minor := step / 5
	if step%(5*time.Second) != 0 && step > time.Second {
		minor = step / 2
	}
	var ticks []plot.Tick
	first := time.Duration(math.Ceil(lo*float64(time.Second)/float64(minor))) * minor
	for t := first; t.Seconds() <= hi; t += max(minor, time.Second) {
		tk := plot.Tick{Value: t.Seconds()}
		if t%step == 0 {
			tk.Label = roundDur(t)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// plainTicks are gonum's default ticks, labelled without trailing zeros
// (75, not 75.00).
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if strings.Contains(t.Label, ".") && !strings.ContainsAny(t.Label, "eE") {
			ticks[i].Label = strings.TrimSuffix(strings.TrimRight(t.Label, "0"), ".")
		}
	}
	return ticks
}

// logDurTicks marks a log axis in seconds with durations: each power of
// ten, and 2 and 5 times it when the axis spans few decades.
type logDurTicks struct{}

func (logDurTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	decades := math.Log10(hi) - math.Log10(lo)
	for d := math.Floor(math.Log10(lo)); math.Pow10(int(d)) <= hi; d++ {
		base := math.Pow10(int(d))
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < lo || v > hi {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || (decades <= 2.5 && (m == 2 || m == 5)) {
				tk.Label = roundDur(time.Duration(v * float64(time.Second)))
			}
			ticks = append(ticks, tk)
		}
	}
	return ticks
}

// roundDur prints a duration short: 5m, 1h30m, 250ms.
func roundDur(d time.Duration) string {
	switch {
	case d >= time.Minute:
		d = d.Round(time.Second)
	case d >= time.Second:
		d = d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		d = d.Round(time.Millisecond)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func throughputChart(counts []outcomeCounts, b buckets, spans []span, per string) (*chart, error) {
	c := newChart("purchases "+per, b)
	c.shade(spans)
	// Steps: bucket i's count from its start to the next one's.
	xs := make([]float64, b.N+1)
	for i := range xs {
		xs[i] = min(b.start(i), b.Extent.Seconds())
	}
	for _, s := range []struct {
		name  string
		color color.Color
		get   func(outcomeCounts) int
		dash  []vg.Length
	}{
		{"ok", okColor, func(c outcomeCounts) int { return c.OK }, nil},
		{"fail", failColor, func(c outcomeCounts) int { return c.Fail }, nil},
		{"info", infoColor, func(c outcomeCounts) int { return c.Info }, []vg.Length{4, 2}},
	} {
		ys := make([]float64, b.N+1)
		for i, cnt := range counts {
			ys[i] = float64(s.get(cnt))
		}
		ys[b.N] = ys[b.N-1]
		sty := draw.LineStyle{Color: s.color, Width: 1.3, Dashes: s.dash}
		if err := c.line(s.name, sty, xs, ys, plotter.PostStep); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func latencyChart(stats []latencyStats, b buckets, spans []span) (*chart, error) {
	floor := time.Millisecond // a log axis has no zero
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for _, s := range stats {
		if s.N > 0 {
			lo, hi = min(lo, max(s.P50, floor)), max(hi, max(s.P99, floor))
		}
	}
	if hi == 0 {
		return nil, nil
	}
	c := newChart("latency (log)", b)
	c.p.Y.Scale = plot.LogScale{}
	c.p.Y.Tick.Marker = logDurTicks{}
	c.p.Y.Min = math.Pow10(int(math.Floor(math.Log10(lo.Seconds()))))
	c.p.Y.Max = math.Pow10(int(math.Ceil(math.Log10(hi.Seconds()))))
	if c.p.Y.Max <= c.p.Y.Min {
		c.p.Y.Max = c.p.Y.Min * 10
	}
	c.shade(spans)
	xs := make([]float64, b.N)
	for i := range xs {
		xs[i] = min((time.Duration(i)*b.Size + b.Size/2).Seconds(), b.Extent.Seconds())
	}
	for _, s := range []struct {
		name  string
		color color.Color
		width vg.Length
		get   func(latencyStats) time.Duration
	}{
		// Top down, as they lie. The lower is drawn thinner over the
		// higher, so that a p95 equal to the p99 (a bucket of few
		// purchases) shows both.
		{"p99", rgb(0xcf222e), 2.6, func(s latencyStats) time.Duration { return s.P99 }},
		{"p95", rgb(0xfb8f44), 1.1, func(s latencyStats) time.Duration { return s.P95 }},
		{"p50", rgb(0x0969da), 1.2, func(s latencyStats) time.Duration { return s.P50 }},
	} {
		ys := make([]float64, b.N)
		for i, st := range stats {
			ys[i] = math.NaN()
			if st.N > 0 {
				ys[i] = max(s.get(st), floor).Seconds()
			}
		}
		if err := c.line(s.name, draw.LineStyle{Color: s.color, Width: s.width}, xs, ys, plotter.NoStep); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func paymentsChart(samples []history.Sample, b buckets, spans []span) (*chart, error) {
	c := newChart("count (cumulative)", b)
	c.shade(spans)
	xs, ok, paid := make([]float64, len(samples)), make([]float64, len(samples)), make([]float64, len(samples))
	for i, s := range samples {
		xs[i], ok[i], paid[i] = s.Time.Seconds(), float64(s.OK), float64(s.Payments)
	}
	// Wide under thin, so that both show where they agree.
	if err := c.line("purchases ok", draw.LineStyle{Color: rgb(0x8ddb8c), Width: 3.2}, xs, ok, plotter.PostStep); err != nil {
		return nil, err
	}
	if err := c.line("payments settled", draw.LineStyle{Color: rgb(0x0969da), Width: 1.1, Dashes: []vg.Length{5, 2}}, xs, paid, plotter.PostStep); err != nil {
		return nil, err
	}
	return c, nil
}

const mib = 1 << 20

// maxPoints is how many samples a chart draws at most: a chart is some
// 900 pixels wide, and a day's soak samples every 5s.
const maxPoints = 600

// thin folds runs of consecutive samples into one each, so that at most
// about n are left: the run's last sample (its time and counters), with
// each gauge at its highest in the run, so that a spike still shows.
func thin(samples []history.Sample, n int) []history.Sample {
	if len(samples) <= n {
		return samples
	}
	step := (len(samples) + n - 1) / n
	out := make([]history.Sample, 0, n)
	for i := 0; i < len(samples); i += step {
		run := samples[i:min(i+step, len(samples))]
		s := run[len(run)-1]
		s.Nodes = make(map[string]history.Usage, len(s.Nodes))
		for _, r := range run {
			s.Harness = maxUsage(s.Harness, r.Harness)
			for name, u := range r.Nodes {
				s.Nodes[name] = maxUsage(s.Nodes[name], u)
			}
		}
		out = append(out, s)
	}
	return out
}

func maxUsage(a, b history.Usage) history.Usage {
	return history.Usage{
		RSSBytes: max(a.RSSBytes, b.RSSBytes), AnonBytes: max(a.AnonBytes, b.AnonBytes), OpenFiles: max(a.OpenFiles, b.OpenFiles),
		Goroutines: max(a.Goroutines, b.Goroutines), DataBytes: max(a.DataBytes, b.DataBytes),
	}
}

func rssOf(u history.Usage) float64  { return gauge(float64(u.RSSBytes) / mib) }
func anonOf(u history.Usage) float64 { return gauge(float64(u.AnonBytes) / mib) }
func dataOf(u history.Usage) float64 { return gauge(float64(u.DataBytes) / mib) }

// gauge is a reading, or NaN (a gap) for a zero: a gauge that was not
// read (no process has no memory, no files, no goroutine).
func gauge(v float64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return v
}

// nodeNames are the nodes the samples saw, in name order.
func nodeNames(samples []history.Sample) []string {
	seen := map[string]bool{}
	for _, s := range samples {
		for n := range s.Nodes {
			seen[n] = true
		}
	}
	return sortedKeys(seen)
}

// usageChart draws one gauge of each node (and of the harness, when
// harness is set) over time; nil if no sample had a reading.
func usageChart(ylabel string, samples []history.Sample, b buckets, spans []span, get func(history.Usage) float64, harness bool, anon func(history.Usage) float64) (*chart, error) {
	c := newChart(ylabel, b)
	c.shade(spans)
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = s.Time.Seconds()
	}
	drawn := false
	series := func(name string, sty draw.LineStyle, u func(history.Sample) (history.Usage, bool), get func(history.Usage) float64) error {
		ys := make([]float64, len(samples))
		found := false
		for i, s := range samples {
			ys[i] = math.NaN()
			if us, ok := u(s); ok {
				ys[i] = get(us)
				found = found || !math.IsNaN(ys[i])
			}
		}
		if !found {
			return nil
		}
		drawn = true
		return c.line(name, sty, xs, ys, plotter.NoStep)
	}
	if harness {
		if err := series("harness", draw.LineStyle{Color: inkColor, Width: 1.4},
			func(s history.Sample) (history.Usage, bool) { return s.Harness, true }, get); err != nil {
			return nil, err
		}
		if anon != nil {
			// The part a leak grows, beside the whole.
			if err := series("harness anon", draw.LineStyle{Color: inkColor, Width: 1, Dashes: []vg.Length{vg.Points(4), vg.Points(2)}},
				func(s history.Sample) (history.Usage, bool) { return s.Harness, true }, anon); err != nil {
				return nil, err
			}
		}
	}
	for i, n := range nodeNames(samples) {
		if err := series(n, draw.LineStyle{Color: palette[i%len(palette)], Width: 1.2},
			func(s history.Sample) (history.Usage, bool) { u, ok := s.Nodes[n]; return u, ok }, get); err != nil {
			return nil, err
		}
	}
	if !drawn {
		return nil, nil
	}
	return c, nil
}

// countsChart draws the harness's goroutines and open files and each
// node's open files.
func countsChart(samples []history.Sample, b buckets, spans []span) (*chart, error) {
	c := newChart("count", b)
	c.shade(spans)
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = s.Time.Seconds()
	}
	drawn := false
	series := func(name string, sty draw.LineStyle, get func(history.Sample) float64) error {
		ys := make([]float64, len(samples))
		found := false
		for i, s := range samples {
			ys[i] = get(s)
			found = found || !math.IsNaN(ys[i])
		}
		if !found {
			return nil
		}
		drawn = true
		return c.line(name, sty, xs, ys, plotter.NoStep)
	}
	if err := series("harness goroutines", draw.LineStyle{Color: inkColor, Width: 1.4},
		func(s history.Sample) float64 { return gauge(float64(s.Harness.Goroutines)) }); err != nil {
		return nil, err
	}
	if err := series("harness files", draw.LineStyle{Color: inkColor, Width: 1.2, Dashes: []vg.Length{4, 2}},
		func(s history.Sample) float64 { return gauge(float64(s.Harness.OpenFiles)) }); err != nil {
		return nil, err
	}
	for i, n := range nodeNames(samples) {
		if err := series(n+" files", draw.LineStyle{Color: palette[i%len(palette)], Width: 1.2},
			func(s history.Sample) float64 {
				u, ok := s.Nodes[n]
				if !ok {
					return math.NaN()
				}
				return gauge(float64(u.OpenFiles))
			}); err != nil {
			return nil, err
		}
	}
	if !drawn {
		return nil, nil
	}
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
