// Package scenarios is the catalogue of scripted chaos scenarios (All) and
// the tests that run them: every scenario against the reference client,
// and every deliberately broken client (client/mutant, run as the
// cmd/l402-mutant command) against the scenario that exposes its bug.
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
//	go test ./scenarios -run 'TestScenarios/cases/crash-htlc-held' -seed=42
//
// Its tests also run property-based chaos (harness/property) on its two
// worlds: live.World (harness/live), the real tier (a regtest network
// through toxiproxy, the exec client), and sim.Worlds (harness/sim), the
// simulator with the reference client or a mutant. They run the property
// on each, compare them (the differential check) and replay the sequences
// the simulator found (testdata/sequences). rapid prints each run's
// replay line:
//
//	go test ./scenarios -run '^TestPropertySim$' -rapid.seed=1 -rapid.checks=100 -rapid.steps=30
//	go test ./scenarios -run '^TestPropertyReal$' -rapid.seed=7 -rapid.checks=2 -rapid.steps=12
package scenarios
