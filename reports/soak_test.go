package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/internal/chromium"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// op is a purchase of a synthetic history: invoked at start, completed
// (unless open) at end.
type op struct {
	proc       int
	start, end time.Duration
	typ        history.Type
	open       bool
}

// fault is a fault window of a synthetic history.
type fault struct {
	name, detail string
	start, stop  time.Duration
}

// record builds a history the way a run records it: on a Recorder, on a
// virtual clock, events in time order.
func record(ops []op, faults []fault) history.History {
	type ev struct {
		at time.Duration
		e  history.Event
	}
	var evs []ev
	for i, o := range ops {
		key := fmt.Sprintf("k%d", i)
		evs = append(evs, ev{o.start, history.Event{Process: o.proc, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: 1}})
		if o.open {
			continue
		}
		res := history.Result{Outcome: history.Delivered, Status: 200, PaidMsat: 10_000}
		switch o.typ {
		case history.Fail:
			res = history.Result{Outcome: history.Failed, Error: "provider answered 503"}
		case history.Info:
			res = history.Result{Outcome: history.Unknown, Error: "timed out waiting for the payment"}
		}
		evs = append(evs, ev{o.end, history.Event{Process: o.proc, Type: o.typ, F: history.Purchase, Key: key, Attempt: 1, Value: &res}})
	}
	for _, f := range faults {
		evs = append(evs,
			ev{f.start, history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: f.name, Detail: f.detail}},
			ev{f.stop, history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: f.name}})
	}
	// Stable: an invocation recorded before a completion at the same
	// time keeps its place.
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := history.NewRecorderClock(func() time.Time { return t0 }, nil)
	for _, e := range evs {
		r.AddAt(e.e, t0.Add(e.at))
	}
	return r.History()
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func TestSoakBucketSize(t *testing.T) {
	for _, c := range []struct{ extent, want time.Duration }{
		{0, time.Second},
		{30 * time.Second, time.Second},
		{10 * time.Minute, 5 * time.Second},
		{7 * time.Minute, 4 * time.Second}, // 3.5s rounds to 4s
		{time.Hour, 30 * time.Second},
		{24 * time.Hour, 12 * time.Minute},
	} {
		require.Equal(t, c.want, bucketSize(c.extent), "extent %s", c.extent)
	}
	b := newBuckets(30*time.Second, 10*time.Second)
	require.Equal(t, 3, b.N)
	require.Equal(t, 2, b.index(30*time.Second), "the end belongs to the last bucket")
	require.Equal(t, 2, b.index(45*time.Second), "so does a time past it")
	require.Equal(t, 1, newBuckets(0, time.Second).N)
}

func TestSoakThroughputBuckets(t *testing.T) {
	h := record([]op{
		{proc: 0, start: sec(0), end: sec(1), typ: history.OK},
		{proc: 1, start: sec(2), end: sec(9.999), typ: history.Fail},
		{proc: 0, start: sec(3), end: sec(10), typ: history.OK}, // the start of bucket 1
		{proc: 2, start: sec(12), end: sec(29), typ: history.Info},
		{proc: 1, start: sec(20), end: sec(30), typ: history.OK}, // the end: the last bucket
		{proc: 3, start: sec(25), open: true},                    // never completed: in no bucket
	}, nil)
	b := newBuckets(30*time.Second, 10*time.Second)
	require.Equal(t, []outcomeCounts{{OK: 1, Fail: 1}, {OK: 1}, {OK: 1, Info: 1}}, throughput(purchases(h), b))
	// A phase or fault event is no purchase.
	require.Len(t, purchases(h), 6)
}

func TestSoakLatencyPercentiles(t *testing.T) {
	var ops []op
	// Bucket 0: latencies 1ms..100ms, completing at 5s.
	for i := 1; i <= 100; i++ {
		ops = append(ops, op{proc: i, start: sec(5) - time.Duration(i)*time.Millisecond, end: sec(5), typ: history.OK})
	}
	// Bucket 2: one purchase of 7s (a fail counts too).
	ops = append(ops, op{proc: 0, start: sec(14), end: sec(21), typ: history.Fail})
	b := newBuckets(30*time.Second, 10*time.Second)
	got := latencies(purchases(record(ops, nil)), b)
	ms := time.Millisecond
	require.Equal(t, []latencyStats{
		{N: 100, P50: 50 * ms, P95: 95 * ms, P99: 99 * ms},
		{}, // nothing completed: a gap
		{N: 1, P50: 7 * time.Second, P95: 7 * time.Second, P99: 7 * time.Second},
	}, got)

	// Nearest rank on small samples.
	d := []time.Duration{10, 20, 30, 40}
	require.Equal(t, time.Duration(20), percentile(d, 0.5))
	require.Equal(t, time.Duration(40), percentile(d, 0.95))
	require.Equal(t, time.Duration(10), percentile(d, 0.01))
}

func TestSoakDurationLabels(t *testing.T) {
	require.Equal(t, "5m", roundDur(5*time.Minute))
	require.Equal(t, "1h30m", roundDur(90*time.Minute))
	require.Equal(t, "2h", roundDur(2*time.Hour))
	require.Equal(t, "1m30s", roundDur(90*time.Second))
	require.Equal(t, "250ms", roundDur(250*time.Millisecond+300*time.Microsecond))
	var labels []string
	for _, tk := range (durTicks{}).Ticks(0, 600) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	require.Equal(t, []string{"0s", "1m", "2m", "3m", "4m", "5m", "6m", "7m", "8m", "9m", "10m"}, labels)
}

// faultFill is how the SVG of a chart fills a fault window's shading.
func faultFill(t *testing.T) string {
	t.Helper()
	c := newChart("", newBuckets(time.Minute, time.Second))
	c.shade([]span{{From: 1, To: 2}})
	svg, err := c.svg()
	require.NoError(t, err)
	m := regexp.MustCompile(`fill:#[0-9A-F]{6};fill-opacity:0\.1\d*`).FindString(string(svg))
	require.NotEmpty(t, m, "no translucent fill in %s", svg)
	return m
}

func TestSoakFaultWindowsShaded(t *testing.T) {
	dir := t.TempDir()
	h, samples := syntheticSoak(7, 2*time.Minute)
	writeSoakDir(t, dir, h, samples)
	require.NoError(t, WriteSoak(dir, SoakMeta{Seed: 7, Duration: 2 * time.Minute}))
	page := readPage(t, dir)
	// Six charts, each shading the two windows and showing the swatch
	// in its legend.
	require.Equal(t, 6, strings.Count(page, "<svg"))
	require.Equal(t, 6*(2+1), strings.Count(page, faultFill(t)), "fault shading")
	require.Contains(t, page, "partition client-provider")
	require.Contains(t, page, "latency client-lnd")
	require.NotContains(t, page, "No data.")
	require.NotContains(t, page, "could not be drawn")
}

func TestSoakEmptyDirRenders(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, WriteSoak(dir, SoakMeta{Seed: 3}))
	page := readPage(t, dir)
	require.NotContains(t, page, "<svg")
	require.Contains(t, page, "No history.jsonl in the run directory.")
	require.Contains(t, page, "No series.jsonl in the run directory.")
	require.Equal(t, 6, strings.Count(page, `<p class="nodata">No `+history.HistoryFile)+strings.Count(page, `<p class="nodata">No `+history.SeriesFile))
	require.Contains(t, page, "No faults were injected.")
	require.Contains(t, page, "No checker results.")
	require.Contains(t, page, ">unknown<", "the zero verdict is unknown")

	// Files that exist but hold nothing: still notes, no charts.
	dir = t.TempDir()
	require.NoError(t, history.WriteRecord(dir, nil, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, history.SeriesFile), nil, 0o644))
	require.NoError(t, WriteSoak(dir, SoakMeta{}))
	page = readPage(t, dir)
	require.NotContains(t, page, "<svg")
	require.Contains(t, page, "No purchases in the history.")
	require.Contains(t, page, "No samples in the series.")
}

func TestSoakUnreadableSeriesStillRenders(t *testing.T) {
	dir := t.TempDir()
	h, _ := syntheticSoak(1, time.Minute)
	require.NoError(t, history.WriteRecord(dir, h, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, history.SeriesFile), []byte("{not json}\n{}\n"), 0o644))
	err := WriteSoak(dir, SoakMeta{})
	require.Error(t, err)
	require.Contains(t, err.Error(), history.SeriesFile)
	page := readPage(t, dir)
	require.Contains(t, page, "The series could not be read")
	require.Equal(t, 2, strings.Count(page, "<svg"), "the history's charts are drawn")
}

func TestSoakPageSelfContained(t *testing.T) {
	dir := t.TempDir()
	h, samples := syntheticSoak(2, time.Minute)
	writeSoakDir(t, dir, h, samples)
	meta := soakMeta(h)
	meta.Client = `<script>alert("x")</script>`
	require.NoError(t, WriteSoak(dir, meta))
	page := readPage(t, dir)
	require.NotContains(t, page, "<script")
	require.NotContains(t, page, "<link")
	require.NotContains(t, page, "@import")
	require.NotContains(t, page, "url(")
	require.NotContains(t, page, "<?xml")
	require.NotRegexp(t, `\bsrc=`, page)
	for _, u := range regexp.MustCompile(`https?://[^"' )]+`).FindAllString(page, -1) {
		require.Contains(t, []string{"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, u, "a reference out of the page")
	}
	// The scripted runs' style sheet, so the pages look alike.
	require.Contains(t, string(reportCSS), ".v-invalid")
	require.Contains(t, page, ".v-invalid")
	// The witness and its events.
	require.Contains(t, page, "purchase k3 paid twice")
	require.NotEmpty(t, meta.Results[0].Events)
	require.Contains(t, page, fmt.Sprintf(`<tr id="e%d">`, meta.Results[0].Events[0]))
	require.Contains(t, page, meta.Replay)
}

func TestSoakPageInChromium(t *testing.T) {
	dir := t.TempDir()
	h, samples := syntheticSoak(42, 10*time.Minute)
	writeSoakDir(t, dir, h, samples)
	require.NoError(t, WriteSoak(dir, soakMeta(h)))
	page, err := filepath.Abs(filepath.Join(dir, FileSoak))
	require.NoError(t, err)

	out := filepath.Join(dir, "soak.png")
	if keep := os.Getenv("L402CHAOS_SCREENSHOT"); keep != "" {
		// To look at: the screenshot, and the page beside it.
		out = keep
		b, err := os.ReadFile(page)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(strings.TrimSuffix(keep, filepath.Ext(keep))+".html", b, 0o644))
	}
	img := chromium.Screenshot(t, page, out, 1200, 2400)
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(20_000), "a screenshot this small shows next to nothing")
	require.Equal(t, image.Pt(1200, 2400), img.Bounds().Size())
	colours, shaded := map[uint32]bool{}, 0
	want := blend(faultColor, bgColor)
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
			if near(r>>8, want[0]) && near(g>>8, want[1]) && near(b>>8, want[2]) {
				shaded++
			}
		}
	}
	require.Greater(t, len(colours), 50, "the page is (nearly) one colour")
	// The fault windows are shaded in the charts the viewport shows.
	require.Greater(t, shaded, 5_000, "fault shading (%v) in the screenshot", want)
	t.Logf("screenshot %s: %d bytes, %d colours, %d shaded pixels", out, st.Size(), len(colours), shaded)
}

// blend is c drawn over an opaque background, in 8-bit channels.
func blend(c, bg interface{ RGBA() (r, g, b, a uint32) }) [3]uint32 {
	r, g, b, a := c.RGBA() // premultiplied
	br, bgG, bb, _ := bg.RGBA()
	mix := func(v, under uint32) uint32 { return (v + under*(0xffff-a)/0xffff) >> 8 }
	return [3]uint32{mix(r, br), mix(g, bgG), mix(b, bb)}
}

func near(a, b uint32) bool { return a+4 >= b && b+4 >= a }

// syntheticSoak is a soak's record over d of virtual time: four client
// processes buying one after the other, two fault windows (a partition
// a fifth of the way in, slow payments past the half) during which
// purchases fail, end in doubt or take long; and a series every 5s.
func syntheticSoak(seed uint64, d time.Duration) (history.History, []history.Sample) {
	rng := rand.New(rand.NewPCG(seed, seed))
	faults := []fault{
		{name: "partition client-provider", detail: "down", start: d / 5, stop: d/5 + d/10},
		{name: "latency client-lnd", detail: "delay 2s", start: d * 6 / 10, stop: d*6/10 + d/15},
	}
	in := func(t time.Duration) int {
		for i, f := range faults {
			if t >= f.start && t <= f.stop {
				return i
			}
		}
		return -1
	}
	var ops []op
	for p := range 4 {
		t := time.Duration(rng.Int64N(int64(time.Second)))
		for {
			start := t + time.Duration(rng.ExpFloat64()*float64(1200*time.Millisecond))
			lat := time.Duration((0.15 + rng.ExpFloat64()*0.2) * float64(time.Second))
			typ := history.OK
			switch in(start) {
			case 0: // partitioned: most fail fast, some end in doubt
				switch x := rng.Float64(); {
				case x < 0.6:
					typ, lat = history.Fail, lat/3
				case x < 0.8:
					typ, lat = history.Info, 5*time.Second+lat
				}
			case 1: // slow payments
				lat += 2*time.Second + time.Duration(rng.Int64N(int64(3*time.Second)))
				if rng.Float64() < 0.1 {
					typ = history.Info
				}
			default:
				if rng.Float64() < 0.03 {
					typ = history.Fail
				}
			}
			if start+lat > d {
				ops = append(ops, op{proc: p, start: start, open: true})
				break
			}
			ops = append(ops, op{proc: p, start: start, end: start + lat, typ: typ})
			t = start + lat
		}
	}
	h := record(ops, faults)

	var samples []history.Sample
	var ok, fail, info, extra int64
	i := 0
	for at := time.Duration(0); at <= d; at += 5 * time.Second {
		for ; i < len(h) && h[i].Time <= at; i++ {
			e := h[i]
			if e.F != history.Purchase {
				continue
			}
			switch e.Type {
			case history.OK:
				ok++
			case history.Fail:
				fail++
			case history.Info:
				info++
				if rng.Float64() < 0.5 {
					extra++ // paid, never delivered
				}
			}
		}
		f := at.Minutes()
		s := history.Sample{
			Time: at, OK: ok, Fail: fail, Info: info, InFlight: 4,
			Payments: ok + extra, PaidMsat: (ok + extra) * 10_000, FeesMsat: (ok + extra) * 10,
			Harness: history.Usage{RSSBytes: int64((60 + 2*f + 4*rng.Float64()) * (1 << 20)), OpenFiles: 40 + int(f), Goroutines: 60 + rng.IntN(20)},
			Nodes: map[string]history.Usage{
				"alice": {RSSBytes: int64((180 + 3*f) * (1 << 20)), OpenFiles: 70 + rng.IntN(5), DataBytes: int64((40 + 1.5*f) * (1 << 20))},
				"bob":   {RSSBytes: int64((170 + 2*f) * (1 << 20)), OpenFiles: 65 + rng.IntN(5), DataBytes: int64((38 + 1.2*f) * (1 << 20))},
				"btcd":  {RSSBytes: int64((55 + 0.5*f) * (1 << 20)), OpenFiles: 25, DataBytes: int64((12 + 0.1*f) * (1 << 20))},
			},
		}
		if in(at) >= 0 {
			s.FaultsActive = 1
		}
		samples = append(samples, s)
	}
	return h, samples
}

// soakMeta is the meta of a finished soak with one invalid checker.
func soakMeta(h history.History) SoakMeta {
	var ev []int64
	for _, e := range h {
		if e.Key == "k3" {
			ev = append(ev, e.Index)
		}
	}
	return SoakMeta{
		Version: "v0.0.0-test", Seed: 42, Client: "exec chaos client",
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 10 * time.Minute,
		Verdict:  check.Invalid,
		Results: []check.Result{
			{Checker: "at-most-once", Validity: check.Invalid, Message: "purchase k3 paid twice: 1a2b3c4d 5e6f7a8b", Events: ev},
			{Checker: "no-lost-payment", Validity: check.Valid},
			{Checker: "hygiene", Validity: check.Unknown, Message: "pending HTLCs not collected"},
		},
		Replay: "go run ./cmd/chaos soak -duration=10m -seed=42",
		Params: map[string]string{"rate": "2/s", "concurrency": "4", "nemesis": "random"},
	}
}

func writeSoakDir(t *testing.T, dir string, h history.History, samples []history.Sample) {
	t.Helper()
	require.NoError(t, history.WriteRecord(dir, h, nil))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, s := range samples {
		require.NoError(t, enc.Encode(s))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, history.SeriesFile), buf.Bytes(), 0o644))
}

func readPage(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, FileSoak))
	require.NoError(t, err)
	return string(b)
}

func TestSoakThinKeepsSpikesAndTheEnd(t *testing.T) {
	var samples []history.Sample
	for i := range 1000 {
		s := history.Sample{Time: time.Duration(i) * 5 * time.Second, OK: int64(i),
			Harness: history.Usage{Goroutines: 50},
			Nodes:   map[string]history.Usage{"alice": {RSSBytes: 100}}}
		if i == 333 {
			s.Harness.Goroutines = 5000
			s.Nodes["alice"] = history.Usage{RSSBytes: 900}
		}
		samples = append(samples, s)
	}
	got := thin(samples, 100)
	require.Len(t, got, 100)
	require.Equal(t, samples[999].Time, got[99].Time)
	require.Equal(t, int64(999), got[99].OK, "counters are the run's last")
	var spikes int
	for _, s := range got {
		if s.Harness.Goroutines == 5000 && s.Nodes["alice"].RSSBytes == 900 {
			spikes++
		}
	}
	require.Equal(t, 1, spikes, "a spike inside a folded run still shows")
	require.Equal(t, int64(100), samples[339].Nodes["alice"].RSSBytes, "the input is left as it was")
	require.Len(t, thin(samples[:10], 100), 10)
}
