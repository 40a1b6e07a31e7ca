// Package catalog lists the mutants of scenarios/mutant (deliberately
// broken L402 clients, one bug each) with the checker of harness/check
// that must catch each, and builds the l402-mutant binary, so that tests
// in other packages can run every mutant through the exec adapter and
// assert it is caught:
//
//	catalog.All() ──> Mutant{Name, Bug, CaughtBy}
//	catalog.Build(ctx, dir) ──go build──> dir/l402-mutant
//	                                         │
//	harness exec adapter ── l402-mutant -bug <Name> ──> history ──> CaughtBy says invalid
//
// The command itself is a main package and cannot be imported; this
// package is its importable face. The list is an explicit slice, the
// same the command's -list prints, and the command refuses any name not
// in it.
package catalog
