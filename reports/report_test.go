package reports_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/reports"
	"github.com/stretchr/testify/require"
)

var started = time.Date(2025, 11, 23, 17, 0, 0, 0, time.UTC)

// replay is the line a driver records to rerun a scenario with a seed.
func replay(scenario string, seed int64) string {
	return fmt.Sprintf("go run ./cmd/chaos run -scenario='^%s$' -seed=%d", regexp.QuoteMeta(scenario), seed)
}

// sampleHistory: one purchase paid twice across a partition, the second
// payment inside the fault window.
func sampleHistory(key string) history.History {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	h := history.History{
		{Time: ms(0), Process: 0, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: 1},
		{Time: ms(100), Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "partition client-provider"},
		{Time: ms(150), Process: history.Nemesis, Type: history.Info, F: history.Phase, Detail: "payment in flight"},
		{Time: ms(300), Process: 0, Type: history.Info, F: history.Purchase, Key: key, Attempt: 1,
			Value: &history.Result{Outcome: history.Unknown, PaymentHash: strings.Repeat("a", 64)}},
		{Time: ms(350), Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: "partition client-provider"},
		{Time: ms(400), Process: 1, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: 2},
		{Time: ms(600), Process: 1, Type: history.OK, F: history.Purchase, Key: key, Attempt: 2,
			Value: &history.Result{Outcome: history.Delivered, PaymentHash: strings.Repeat("b", 64)}},
		{Time: ms(700), Process: 2, Type: history.Invoke, F: history.Purchase, Key: key + "-open", Attempt: 1},
	}
	for i := range h {
		h[i].Index = int64(i)
	}
	return h
}

func invalidRun(name string) *check.RunResult {
	return &check.RunResult{
		Scenario: name, Description: "a reset after the payment", Seed: 8123, Replay: replay(name, 8123),
		Started: started, Duration: 12 * time.Second, Client: "exec chaos client",
		History: sampleHistory("k1"),
		Results: []check.Result{
			{Checker: "at-most-once", Validity: check.Invalid, Message: "purchase k1 paid twice: aaaaaaaa bbbbbbbb",
				Purchase: "k1", Hashes: []string{strings.Repeat("a", 64), strings.Repeat("b", 64)}, Events: []int64{3, 6}},
			{Checker: "side-effects", Validity: check.Valid},
			{Checker: "price-cap", Validity: check.Unknown, Message: "payer payments not collected"},
		},
		Coverage: []check.CoverageResult{{Name: "paid before reset", Reached: true}},
	}
}

func validRun(name string) *check.RunResult {
	return &check.RunResult{
		Scenario: name, Seed: 8123, Replay: replay(name, 8123), Started: started.Add(12 * time.Second), Duration: 3 * time.Second,
		Client:   "exec chaos client",
		Results:  []check.Result{{Checker: "at-most-once", Validity: check.Valid}, {Checker: "side-effects", Validity: check.Valid}},
		Coverage: []check.CoverageResult{{Name: "held", Reached: true}},
	}
}

func brokenRun(name string) *check.RunResult {
	return &check.RunResult{
		Scenario: name, Seed: 8123, Replay: replay(name, 8123), Started: started.Add(15 * time.Second), Duration: time.Second,
		Err:      fmt.Errorf("start backend: %w", errors.New("lnd did not become ready")),
		Results:  []check.Result{{Checker: "at-most-once", Validity: check.Unknown, Message: "no history"}},
		Coverage: []check.CoverageResult{{Name: "held", Reached: false}},
	}
}

func sampleRuns() []*check.RunResult {
	return []*check.RunResult{invalidRun("reset-after-payment"), validRun("hold-invoice"), brokenRun("partition")}
}

func TestNew(t *testing.T) {
	r := reports.New(sampleRuns(), reports.Meta{Version: "v1.2.3", Seed: 8123})
	require.Equal(t, reports.Tool, r.Tool)
	require.Equal(t, "exec chaos client", r.Client, "the client comes from the runs when Meta has none")
	require.Equal(t, started, r.Started)
	require.Equal(t, 16*time.Second, r.Duration)
	require.Equal(t, check.Invalid, r.Verdict)
	require.Len(t, r.Runs, 3)

	inv := r.Runs[0]
	require.Equal(t, check.Invalid, inv.Verdict)
	require.Equal(t, replay("reset-after-payment", 8123), inv.Replay)
	require.Equal(t, 8, inv.Events)
	require.Equal(t, check.Valid, r.Runs[1].Verdict)
	require.Equal(t, check.Unknown, r.Runs[2].Verdict)
	require.Equal(t, "start backend: lnd did not become ready", r.Runs[2].Error)
	require.Equal(t, reports.Count{Valid: 1, Invalid: 1, Unknown: 1}, r.Scenarios())
}

func TestMerge(t *testing.T) {
	run := func(v check.Validity) reports.RunReport { return reports.RunReport{Verdict: v} }
	for _, tc := range []struct {
		runs []reports.RunReport
		want check.Validity
	}{
		{nil, check.Unknown},
		{[]reports.RunReport{run(check.Valid), run(check.Valid)}, check.Valid},
		{[]reports.RunReport{run(check.Valid), run(check.Unknown)}, check.Unknown},
		{[]reports.RunReport{run(check.Unknown), run(check.Invalid), run(check.Valid)}, check.Invalid},
	} {
		require.Equal(t, tc.want, reports.Merge(tc.runs))
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := reports.New(sampleRuns(), reports.Meta{Version: "v1.2.3", Seed: 8123})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteJSON(&buf, r))
	require.Contains(t, buf.String(), "\n  \"tool\": \"l402chaos\"", "indented")
	require.Contains(t, buf.String(), `"verdict": "invalid"`, "verdicts by name")
	require.Less(t, strings.Index(buf.String(), `"tool"`), strings.Index(buf.String(), `"runs"`), "stable field order")

	got, err := reports.ReadJSON(&buf)
	require.NoError(t, err)
	require.Equal(t, r, got)

	// Twice the same bytes: no map order leaks in.
	var a, b bytes.Buffer
	require.NoError(t, reports.WriteJSON(&a, r))
	require.NoError(t, reports.WriteJSON(&b, got))
	require.Equal(t, a.String(), b.String())
}

func TestJSONEmptyListsAreArrays(t *testing.T) {
	r := reports.New([]*check.RunResult{{Scenario: "x"}}, reports.Meta{})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteJSON(&buf, r))
	require.Contains(t, buf.String(), `"results": []`)
	require.Contains(t, buf.String(), `"coverage": []`)
}

// The JUnit shape as a CI parser reads it, declared here on its own so
// the test does not trust the writer's types.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Time     float64  `xml:"time,attr"`
	Suites   []struct {
		Name      string  `xml:"name,attr"`
		Tests     int     `xml:"tests,attr"`
		Failures  int     `xml:"failures,attr"`
		Errors    int     `xml:"errors,attr"`
		Skipped   int     `xml:"skipped,attr"`
		Time      float64 `xml:"time,attr"`
		Timestamp string  `xml:"timestamp,attr"`
		Props     []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Classname string       `xml:"classname,attr"`
			Name      string       `xml:"name,attr"`
			Time      float64      `xml:"time,attr"`
			Failure   *junitDetail `xml:"failure"`
			Error     *junitDetail `xml:"error"`
			Skipped   *junitDetail `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type junitDetail struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func TestJUnit(t *testing.T) {
	r := reports.New(sampleRuns(), reports.Meta{Version: "v1.2.3", Seed: 8123})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteJUnit(&buf, r))
	require.True(t, strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`))

	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	require.Equal(t, "l402chaos", s.Name)
	require.Equal(t, "2025-11-23T17:00:00", s.Timestamp)

	// Cases: 3 results + coverage; 2 results + coverage; 1 result +
	// coverage + harness.
	require.Equal(t, 10, s.Tests)
	require.Len(t, s.Cases, 10)
	require.Equal(t, 1, s.Failures, "only the invalid result fails")
	require.Equal(t, 1, s.Errors, "the harness failure is an error")
	require.Equal(t, 3, s.Skipped, "unknown results and unreached coverage are skipped")
	require.Equal(t, []int{s.Tests, s.Failures, s.Errors, s.Skipped}, []int{doc.Tests, doc.Failures, doc.Errors, doc.Skipped})
	require.InDelta(t, 16.0, s.Time, 0.001)
	require.InDelta(t, s.Time, doc.Time, 0.001)

	var sum float64
	counted := map[string]int{}
	for _, c := range s.Cases {
		sum += c.Time
		n := 0
		for kind, d := range map[string]*junitDetail{"failure": c.Failure, "error": c.Error, "skipped": c.Skipped} {
			if d != nil {
				n++
				counted[kind]++
			}
		}
		require.LessOrEqual(t, n, 1, "%s/%s: one outcome per testcase", c.Classname, c.Name)
	}
	require.InDelta(t, s.Time, sum, 0.001, "testcase times add up to the suite's")
	require.Equal(t, map[string]int{"failure": 1, "error": 1, "skipped": 3}, counted)

	inv := s.Cases[0]
	require.Equal(t, "reset-after-payment", inv.Classname)
	require.Equal(t, "at-most-once", inv.Name)
	require.NotNil(t, inv.Failure)
	require.Equal(t, "purchase k1 paid twice: aaaaaaaa bbbbbbbb", inv.Failure.Message)
	require.Contains(t, inv.Failure.Body, "history events: #3 #6")
	require.Contains(t, inv.Failure.Body, "replay: "+replay("reset-after-payment", 8123))
	require.Contains(t, inv.Failure.Body, strings.Repeat("b", 64))

	cov := s.Cases[3]
	require.Equal(t, "coverage", cov.Name)
	require.Nil(t, cov.Skipped)
	require.InDelta(t, 12.0, cov.Time, 0.001)

	var harnessCase, skippedCoverage bool
	for _, c := range s.Cases {
		if c.Classname == "partition" && c.Name == "harness" {
			harnessCase = true
			require.NotNil(t, c.Error)
			require.Equal(t, "start backend: lnd did not become ready", c.Error.Message)
		}
		if c.Classname == "partition" && c.Name == "coverage" {
			skippedCoverage = true
			require.NotNil(t, c.Skipped)
			require.Contains(t, c.Skipped.Message, "not reached: held")
		}
	}
	require.True(t, harnessCase)
	require.True(t, skippedCoverage)
}

// TestJUnitHostileText: control characters and markup in a witness still
// give well-formed XML.
func TestJUnitHostileText(t *testing.T) {
	run := invalidRun(`<x a="1">&`)
	run.Results[0].Message = "bad \x00\x1b[31m <failure> ]]> & \"quoted\"\nsecond line"
	r := reports.New([]*check.RunResult{run}, reports.Meta{})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteJUnit(&buf, r))
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	c := doc.Suites[0].Cases[0]
	require.Equal(t, `<x a="1">&`, c.Classname)
	require.Contains(t, c.Failure.Message, `<failure> ]]> & "quoted"`)
	require.Contains(t, c.Failure.Message, "\nsecond line", "newlines in attributes survive")
}

func TestTable(t *testing.T) {
	r := reports.New(sampleRuns(), reports.Meta{Seed: 8123})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteTable(&buf, r))
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Regexp(t, `^SCENARIO\s+CHECKER\s+VERDICT\s+WITNESS$`, lines[0])

	require.Regexp(t, `(?m)^reset-after-payment\s+at-most-once\s+invalid\s+purchase k1 paid twice: aaaaaaaa bbbbbbbb \[#3 #6\]$`, out)
	require.Regexp(t, `(?m)^reset-after-payment\s+price-cap\s+unknown\s+payer payments not collected$`, out)
	require.NotContains(t, out, "side-effects", "valid rows only when verbose")
	require.Regexp(t, `(?m)^reset-after-payment\s+=\s+INVALID\s+3 checks: 1 valid, 1 invalid, 1 unknown; coverage 1/1; seed 8123`, out)
	require.Contains(t, out, replay("reset-after-payment", 8123))

	require.Regexp(t, `(?m)^hold-invoice\s+=\s+VALID\s+2 checks: 2 valid`, out)
	require.NotContains(t, out, replay("hold-invoice", 8123), "a valid run needs no replay line")

	require.Regexp(t, `(?m)^partition\s+harness\s+unknown\s+start backend: lnd did not become ready$`, out)
	require.Regexp(t, `(?m)^partition\s+coverage\s+unknown\s+not reached: held$`, out)
	require.Regexp(t, `(?m)^\(all\)\s+=\s+INVALID\s+3 scenarios: 1 valid, 1 invalid, 1 unknown$`, out)

	buf.Reset()
	require.NoError(t, reports.WriteTable(&buf, r, reports.WithVerbose(true)))
	out = buf.String()
	require.Regexp(t, `(?m)^reset-after-payment\s+side-effects\s+valid`, out)
	require.Regexp(t, `(?m)^hold-invoice\s+coverage\s+valid\s+reached: held$`, out)
	require.Contains(t, out, replay("hold-invoice", 8123))
}

func TestTableKeepsOneLinePerRow(t *testing.T) {
	run := invalidRun("s")
	run.Results[0].Message = "line one\nline two\tthree\x1b[2J"
	var buf bytes.Buffer
	require.NoError(t, reports.WriteTable(&buf, reports.New([]*check.RunResult{run}, reports.Meta{})))
	require.Regexp(t, `(?m)^s\s+at-most-once\s+invalid\s+line one line two three \[2J \[#3 #6\]$`, buf.String())
	require.NotContains(t, buf.String(), "\x1b")
}

func TestHTML(t *testing.T) {
	runs := sampleRuns()
	hostile := invalidRun(`<script>alert("x")</script>`)
	hostile.Description = `<img src=x onerror=alert(1)>`
	hostile.Results[0].Message = `</td><script>steal()</script>`
	hostile.History[1].Fault = `<b>fault</b>`
	hostile.History[4].Fault = `<b>fault</b>`
	runs = append(runs, hostile)
	r := reports.New(runs, reports.Meta{Version: "v1.2.3", Seed: 8123})
	histories := map[string]history.History{
		"reset-after-payment": runs[0].History,
		hostile.Scenario:      hostile.History,
	}
	var buf bytes.Buffer
	require.NoError(t, reports.WriteHTML(&buf, r, histories))
	out := buf.String()

	require.True(t, strings.HasPrefix(out, "<!DOCTYPE html>"))
	// Self-contained: nothing is fetched, nothing runs.
	require.NotRegexp(t, `(?i)<(script|link|img|iframe)|\ssrc\s*=\s*"|@import|url\(`, out)

	// The verdict table: scenario, checker, verdict, witness.
	require.Contains(t, out, "<th>scenario</th><th>checker</th><th>verdict</th><th>witness</th>")
	require.Regexp(t, `<td><a href="#s0">reset-after-payment</a></td><td>at-most-once</td><td class="verdict v-invalid">invalid</td><td>purchase k1 paid twice: aaaaaaaa bbbbbbbb <a class="mono" href="#s0-e3">#3</a> <a class="mono" href="#s0-e6">#6</a></td>`, out)
	require.Contains(t, out, "start backend: lnd did not become ready")

	// Replay commands, escaped but whole.
	require.Contains(t, out, "go run ./cmd/chaos run -scenario=&#39;^reset-after-payment$&#39; -seed=8123")

	// Hostile strings are text, never markup.
	require.Contains(t, out, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	require.Contains(t, out, "&lt;img src=x onerror=alert(1)&gt;")
	require.Contains(t, out, "&lt;/td&gt;&lt;script&gt;steal()&lt;/script&gt;")
	require.Contains(t, out, "&lt;b&gt;fault&lt;/b&gt;")

	// The timeline: lanes, fault windows, the witness's events
	// highlighted and listed.
	require.Contains(t, out, "<svg")
	require.Contains(t, out, ">nemesis</text>")
	require.Contains(t, out, ">process 1</text>")
	require.Contains(t, out, `class="fault"`)
	require.Contains(t, out, `class="info hl"`, "the attempt the witness names (#3) is highlighted")
	require.Contains(t, out, `class="ok hl"`, "and so is the second payment (#6)")
	require.Contains(t, out, `class="open"`, "an operation that never completed")
	require.Contains(t, out, `<tr id="s0-e3">`)
	require.Contains(t, out, `<tr id="s0-e6">`)
	require.NotContains(t, out, `<tr id="s0-e0">`, "only the witness's events are listed")
	require.Contains(t, out, "No history was recorded for this run.", "runs without a history say so")
}

func TestWriteDir(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "reset-after-payment-by-runner")
	require.NoError(t, os.MkdirAll(runDir, 0o755))
	runs := sampleRuns()
	// The runner wrote the first run's files and dropped its history.
	f, err := os.Create(filepath.Join(runDir, history.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, runs[0].History.WriteJSONL(f))
	require.NoError(t, f.Close())
	runs[0].Dir, runs[0].History = runDir, nil
	// The second run kept its history in memory only.
	runs[1].History = sampleHistory("k2")
	runs[1].Truth = &history.Truth{Payer: "alice", Payee: "bob"}
	runs[1].Scenario = "../escape/attempt"

	r := reports.New(runs, reports.Meta{Seed: 8123})
	out := filepath.Join(dir, "report")
	require.NoError(t, reports.WriteDir(out, r, runs))
	require.Empty(t, r.Runs[1].Dir, "the caller's report is left as it was")

	for _, name := range []string{reports.FileResults, reports.FileJUnit, reports.FileHTML} {
		require.FileExists(t, filepath.Join(out, name))
	}
	sub := filepath.Join(out, ".._escape_attempt")
	f, err = os.Open(filepath.Join(sub, history.HistoryFile))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	h, err := history.ReadJSONL(f)
	require.NoError(t, err)
	require.Equal(t, runs[1].History, h)
	truth, err := history.ReadTruth(filepath.Join(sub, history.TruthFile))
	require.NoError(t, err)
	require.Equal(t, "alice", truth.Payer)

	rf, err := os.Open(filepath.Join(out, reports.FileResults))
	require.NoError(t, err)
	t.Cleanup(func() { rf.Close() })
	got, err := reports.ReadJSON(rf)
	require.NoError(t, err)
	require.Equal(t, runDir, got.Runs[0].Dir)
	require.Equal(t, sub, got.Runs[1].Dir, "results.json points at the files written here")
	require.Equal(t, 8, got.Runs[1].Events)

	page, err := os.ReadFile(filepath.Join(out, reports.FileHTML))
	require.NoError(t, err)
	require.Contains(t, string(page), `<tr id="s0-e3">`, "the timeline of a run read back from its dir")
}

// TestJUnitBodyKeepsLines: the failure body is CDATA, one line per fact,
// and a "]]>" or a NUL in a witness cannot break it.
func TestJUnitBodyKeepsLines(t *testing.T) {
	run := invalidRun("s")
	run.Results[0].Message = "nul \x00 and ]]> end"
	var buf bytes.Buffer
	require.NoError(t, reports.WriteJUnit(&buf, reports.New([]*check.RunResult{run}, reports.Meta{})))
	require.Contains(t, buf.String(), "<![CDATA[")
	require.NotContains(t, buf.String(), "\x00")
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(buf.Bytes(), &doc))
	body := doc.Suites[0].Cases[0].Failure.Body
	require.Equal(t, "nul \uFFFD and ]]> end", strings.Split(body, "\n")[0])
	require.Contains(t, strings.Split(body, "\n"), "history events: #3 #6")
}
