// Command l402-mutant is a deliberately broken L402 client: the reference
// client (package client, as chaos client runs it) with exactly one
// safety property sabotaged. It exists to prove that the harness's
// checkers catch what they claim to: a checker that passes a mutant is
// broken, and a harness refactor is not finished until every mutant is
// still caught.
//
//	l402-mutant -bug NAME   one purchase attempt, exec adapter protocol v1
//	l402-mutant -list       the mutants and the checker that must catch each
//
// It speaks the exec adapter protocol v1 (docs/adapter-protocol.md)
// exactly like chaos client: the purchase in the environment, one JSON
// report as the last line of stdout, exit 0 delivered, 1 failed, 2
// unknown. An unknown or missing -bug is a usage error, exit 64. Both
// programs read the environment with client.ReadAdapterEnv and report
// with client.ReportFor, so they differ only in the sabotage.
//
// The command is a thin wrapper; the sabotages live in the importable
// package client/mutant, so that a simulator can run the same mutants in
// process with its own payer, clock and transport:
//
//	flags, L402_* env ──ReadAdapterEnv──> AdapterEnv ─┐
//	LND_* env ──regtest.Dial──> client.NewLNDPayer ───┴──> mutant.Buy(ctx, NAME, Rig) ──ReportFor──> stdout
//
// The attempt is bounded by L402_TIMEOUT_SEC, and its HTTP requests go
// through http.DefaultTransport. The list of mutants, with the checker
// of harness/check that must catch each, is client/mutant's All; what
// each one does, and how, is described in that package. Tests build
// this command with mutant.Build.
//
// # Scratch journals
//
// memory-journal, and pay-after-5xx's second start, journal in a fresh
// directory made inside L402_STATE_DIR and removed when the process
// exits. A process killed with SIGKILL cannot remove it; it stays inside
// the state directory, which the harness removes, and no later run ever
// reads it.
package main
