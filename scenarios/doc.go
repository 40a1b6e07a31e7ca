// Package scenarios is the catalogue of scripted chaos scenarios (All) and
// the tests that run them: every scenario against the reference client,
// and every deliberately broken client (scenarios/mutant) against the
// scenario that exposes its bug.
//
//	All() ─▶ harness.Runner ─▶ live backend (regtest + toxiproxy + provider)
//	                        └▶ client under test (exec adapter or in-process)
//	                        ─▶ history + truth ─▶ check.All() ─▶ verdict
//
// Each scenario names the dangerous moment it must reach (Coverage): a run
// that did not reach it proves nothing and fails as such. Seeds are printed
// with a one-line replay command:
//
//	go run ./cmd/chaos run -scenario='^crash-htlc-held$' -seed=42
//	go test ./scenarios -run 'TestScenarios/crash-htlc-held' -seed=42
package scenarios
