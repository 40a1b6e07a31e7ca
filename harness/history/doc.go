// Package history records what happened during a run, in Jepsen's model,
// and the ground truth collected after it.
//
// Every client operation is an Invoke followed by exactly one completion:
// OK (it happened), Fail (it did not, and never will) or Info (it may have
// happened: a payment whose result was not seen is Info, never Fail).
// Faults are events in the same history, on process -1, on the same
// monotonic clock, so a checker can ask whether two payments straddle a
// partition.
//
//	runner ──Invoke/OK/Fail/Info──▶ Recorder ──▶ History ──▶ history.jsonl
//	nemesis ─fault.start/stop────▶     ▲
//	                                   └── one clock: time since the run began
//
// Truth is what the ledgers said once every fault was healed: the payer
// node's payments, the payee node's invoices, the provider's ledger. It is
// written next to the history (truth.json) so checks re-run offline.
//
// This package is the leaf of the harness: it imports the standard library
// only.
package history
