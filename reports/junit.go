package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
)

// The JUnit XML shape most CI parsers (Jenkins, GitLab, GitHub test
// reporters, Surefire readers) accept: a <testsuites> root holding one
// <testsuite>, each <testcase> with at most one of <failure>, <error> or
// <skipped>.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  *junitText      `xml:"system-out,omitempty"`
}

type junitText struct {
	Body string `xml:",cdata"`
}

type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type JUnitCase struct {
	Classname string       `xml:"classname,attr"`
	Name      string       `xml:"name,attr"`
	Time      string       `xml:"time,attr"`
	Failure   *JUnitDetail `xml:"failure,omitempty"`
	Error     *JUnitDetail `xml:"error,omitempty"`
	Skipped   *JUnitDetail `xml:"skipped,omitempty"`
}

type JUnitDetail struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	// Body is CDATA, so its lines stay lines in the file.
	Body string `xml:",cdata"`
}

// The testcase names that are not checkers.
const (
	// CaseCoverage is the testcase, one per run, that says whether the
	// run reached its dangerous moments. It carries the run's time.
	CaseCoverage = "coverage"
	// CaseHarness is the testcase of a run whose harness failed.
	CaseHarness = "harness"
)

// WriteJUnit writes the report as JUnit XML (junit.xml): one testsuite
// named after the tool; per run, one testcase per checker result
// (classname the scenario, name the checker), one "coverage" testcase and,
// when the harness failed, one "harness" testcase.
//
// An Invalid result is a <failure> whose message is the witness and whose
// body adds the replay line and the history indices. An Unknown result
// (and coverage not reached) is <skipped>: the harness could not judge,
// which is never a failure against the client. A harness failure is an
// <error>. Checker testcases take no time (they judge a recorded
// history); the coverage testcase carries the run's duration, so the
// testcase times add up to the suite's.
func WriteJUnit(w io.Writer, r Report) error {
	suite := junitSuite{
		Name: r.Tool,
		Properties: []JUnitProperty{
			{Name: "seed", Value: fmt.Sprint(r.Seed)},
			{Name: "client", Value: r.Client},
			{Name: "version", Value: r.Version},
			{Name: "verdict", Value: r.Verdict.String()},
		},
	}
	if suite.Name == "" {
		suite.Name = Tool
	}
	if !r.Started.IsZero() {
		// ISO 8601 without a zone, as the JUnit schema wants.
		suite.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	var total time.Duration
	var out strings.Builder
	for _, run := range r.Runs {
		total += run.Duration
		fmt.Fprintf(&out, "%s: %s (seed %d): %s\n", run.Scenario, run.Verdict, run.Seed, run.Replay)
		for _, res := range run.Results {
			suite.Cases = append(suite.Cases, resultCase(run, res))
		}
		suite.Cases = append(suite.Cases, coverageCase(run))
		if run.Error != "" {
			suite.Cases = append(suite.Cases, JUnitCase{
				Classname: run.Scenario, Name: CaseHarness, Time: seconds(0),
				Error: &JUnitDetail{
					Message: run.Error, Type: "harness",
					Body: run.Error + "\n" + replayBody(run),
				},
			})
		}
	}
	suite.SystemOut = &junitText{Body: xmlText(out.String())}
	suite.Time = seconds(total)
	return writeSuite(w, suite)
}

// JUnitSuite is one test suite to write with WriteJUnitSuite: the shape
// of junit.xml, for other reports (a certificate's rules) to share.
type JUnitSuite struct {
	Name       string
	Timestamp  time.Time
	Properties []JUnitProperty
	Cases      []JUnitCase
	Time       time.Duration
}

// WriteJUnitSuite writes one suite as JUnit XML, counting its cases'
// failures, errors and skips.
func WriteJUnitSuite(w io.Writer, s JUnitSuite) error {
	suite := junitSuite{Name: s.Name, Properties: s.Properties, Cases: s.Cases, Time: seconds(s.Time)}
	if !s.Timestamp.IsZero() {
		suite.Timestamp = s.Timestamp.UTC().Format("2006-01-02T15:04:05")
	}
	return writeSuite(w, suite)
}

// writeSuite counts the suite's cases and writes it as the only suite of
// the document.
func writeSuite(w io.Writer, suite junitSuite) error {
	for _, c := range suite.Cases {
		for _, d := range []*JUnitDetail{c.Failure, c.Error, c.Skipped} {
			if d != nil {
				d.Body = xmlText(d.Body)
			}
		}
		suite.Tests++
		switch {
		case c.Failure != nil:
			suite.Failures++
		case c.Error != nil:
			suite.Errors++
		case c.Skipped != nil:
			suite.Skipped++
		}
	}
	doc := junitSuites{
		Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

func resultCase(run RunReport, res check.Result) JUnitCase {
	c := JUnitCase{Classname: run.Scenario, Name: res.Checker, Time: seconds(0)}
	switch res.Validity {
	case check.Valid:
	case check.Invalid:
		c.Failure = &JUnitDetail{Message: witnessMessage(res), Type: "invalid", Body: witnessBody(run, res)}
	default:
		msg := res.Message
		if msg == "" {
			msg = "the checker could not judge"
		}
		c.Skipped = &JUnitDetail{Message: "unknown: " + msg, Body: witnessBody(run, res)}
	}
	return c
}

func coverageCase(run RunReport) JUnitCase {
	c := JUnitCase{Classname: run.Scenario, Name: CaseCoverage, Time: seconds(run.Duration)}
	if miss := run.Unreached(); len(miss) > 0 {
		msg := "not reached: " + strings.Join(miss, ", ") + " (the run proves nothing about them)"
		c.Skipped = &JUnitDetail{Message: msg, Body: msg + "\n" + replayBody(run)}
	}
	return c
}

// witnessMessage is a result's witness on one line.
func witnessMessage(res check.Result) string {
	if res.Message != "" {
		return res.Message
	}
	return res.Checker + ": " + res.Validity.String()
}

// witnessBody is everything known about a result, for a reader who has
// only the CI page: the witness, the purchase, the hashes, the history
// indices, where the history is and how to replay.
func witnessBody(run RunReport, res check.Result) string {
	var b strings.Builder
	b.WriteString(witnessMessage(res) + "\n")
	if res.Purchase != "" {
		fmt.Fprintf(&b, "purchase: %s\n", res.Purchase)
	}
	if len(res.Hashes) > 0 {
		fmt.Fprintf(&b, "payment hashes: %s\n", strings.Join(res.Hashes, " "))
	}
	if len(res.Events) > 0 {
		fmt.Fprintf(&b, "history events: %s\n", eventRefs(res.Events))
	}
	b.WriteString(replayBody(run))
	return b.String()
}

func replayBody(run RunReport) string {
	s := fmt.Sprintf("seed: %d\nreplay: %s\n", run.Seed, run.Replay)
	if run.Dir != "" {
		s += "history: " + run.Dir + "\n"
	}
	return s
}

// eventRefs formats history indices as "#3 #9".
func eventRefs(events []int64) string {
	refs := make([]string, len(events))
	for i, e := range events {
		refs[i] = fmt.Sprintf("#%d", e)
	}
	return strings.Join(refs, " ")
}

// xmlText replaces the characters XML 1.0 cannot hold (encoding/xml
// writes CDATA as it is).
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
