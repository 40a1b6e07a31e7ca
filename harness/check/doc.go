// Package check judges a history against the ground truth with the
// at-most-once invariants of an L402 client.
//
//	history.jsonl ─┐
//	               ├─▶ Checker.Check ─▶ Result{Valid | Invalid | Unknown, witness}
//	truth.json ────┘
//
// Every checker is tri-state. Invalid comes with a minimal witness: the
// purchase, the payment hashes and the history indices involved. When the
// harness failed to collect what a checker needs, the answer is Unknown,
// never a verdict against the client.
package check
