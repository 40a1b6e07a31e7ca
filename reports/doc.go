// Package reports renders finished runs for people and for CI.
//
//	[]*harness.Run ──New──▶ Report ─┬─WriteTable──▶ terminal (non-valid rows, a summary per scenario)
//	     │                          ├─WriteJSON───▶ results.json (stable field order, ReadJSON reads it back)
//	     │                          ├─WriteJUnit──▶ junit.xml (one testsuite, a testcase per checker result)
//	     └── History ───────────────┴─WriteHTML───▶ report.html (one self-contained page with timelines)
//
// WriteDir writes the three files into a report directory; each run's
// history.jsonl and truth.json sit in the run's own directory, written by
// the runner (or by WriteDir when the runner kept them in memory only).
//
// Verdicts keep the harness's three values all the way to CI. Invalid is
// a failure with its witness; Unknown (a checker could not judge, the
// harness failed, coverage was not reached) is a skip or an error, never a
// failure against the client. Every run carries its seed and the one
// command line that replays it.
//
// A report depends on the run only through harness.Run, its check results
// and its history; it imports harness, harness/check and harness/history,
// and starts nothing.
package reports
