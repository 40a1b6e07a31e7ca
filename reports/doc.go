// Package reports renders finished runs for people and for CI.
//
//	[]*check.RunResult ──New──▶ Report ─┬─WriteTable──▶ terminal (non-valid rows, a summary per scenario)
//	     │                              ├─WriteJSON───▶ results.json (stable field order, ReadJSON reads it back)
//	     │                              ├─WriteJUnit──▶ junit.xml (one testsuite, a testcase per checker result)
//	     └── History ───────────────────┴─WriteHTML───▶ report.html (one self-contained page with timelines)
//
// WriteDir writes the three files into a report directory; each run's
// record (history.jsonl and truth.json, history.WriteRecord) sits in the
// run's own directory, written by the driver (or by WriteDir when the
// driver kept it in memory only). Recheck reads the records of a run or
// report directory back and judges them again, offline: chaos check.
//
// WriteSoak renders a soak's run directory (history.jsonl, series.jsonl)
// as soak.html: throughput, latency percentiles, payments and resource
// use over time with fault windows shaded, charts drawn with gonum/plot
// as inline SVG; the page fetches nothing.
//
// Verdicts keep the harness's three values all the way to CI. Invalid is
// a failure with its witness; Unknown (a checker could not judge, the
// harness failed, coverage was not reached) is a skip or an error, never a
// failure against the client. Every run carries its seed and the one
// command line that replays it.
//
// A report depends on a run only through check.RunResult and the run
// record; it imports harness/check and harness/history, never the
// harness that ran it, and starts nothing.
package reports
