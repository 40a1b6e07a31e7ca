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
//
// It also holds the two worlds of property-based chaos (harness/property):
// LiveWorld, the real tier (a regtest network through toxiproxy, the exec
// client), and SimWorlds, the simulator with the reference client or a
// mutant, and the tests that run the property on them, compare them
// (the differential check) and replay the sequences the simulator found
// (testdata/sequences). rapid prints each run's replay line:
//
//	go test ./scenarios -run '^TestPropertySim$' -rapid.seed=1 -rapid.checks=100 -rapid.steps=30
//	go test ./scenarios -run '^TestPropertyReal$' -rapid.seed=7 -rapid.checks=2 -rapid.steps=12
package scenarios
