// Package certify turns scenario runs into a certificate: what an L402
// client may claim to do safely.
//
//	Rules() ─┐
//	Plan ──> cases (scenario × dialect, skipped when not applicable)
//	     ──> Runner.Run (harness.Runner + certification's checkers)
//	     ──> Judge (per rule, per dialect) ──> Certificate ──> json, md, html, JUnit
//
// A rule is data: a stable ID, a level (MUST, SHOULD, SAFETY), a source,
// the checkers that judge it and the cases it applies to (by scenario,
// dialect and the capability the case's traffic uses). Judging is a fold:
// any case that breaks the rule fails it, with the checker's witness and
// the case's replay line; a checker that could not see, a harness error
// or an adapter error makes it unknown (never a verdict against the
// client); a case that never reached its dangerous moment proves nothing;
// a rule about a capability the client does not declare is not
// applicable, never passed.
//
// Dialects are the ways a correct server speaks (header generations,
// case, unknown parameters, 401, gRPC): the whole catalogue runs in the
// current one and the dialect scenarios in each other, so a client that
// reads only one form fails the rule of the form it cannot read and no
// other.
//
// The package never takes a *testing.T: `chaos certify` and
// certify/certifytest (Run(t, ...), for a client's own go test) both drive
// it.
package certify
