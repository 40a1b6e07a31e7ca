// Package property is property-based chaos: random interleavings of
// purchases, faults, crashes, block production and the passing of time,
// drawn and shrunk by pgregory.net/rapid, checked by the harness's
// checkers after every step.
//
// One model, two tiers. A Step is data (JSON): buy, crash, pair, fault,
// heal, mine, wait. A World carries steps out: harness/sim is the
// deterministic simulator (virtual clock, thousands of steps a second),
// and the live world in package scenarios is a real regtest network with
// toxiproxy links and the exec client. Both record the same history, so
// the same checkers judge both, and Classes compares them: the
// differential check that keeps the simulator honest.
//
//	rapid.T ──Actions──> Step ──Machine.Apply──> World ──> history + truth ──> check
//
// Faults are drawn from Faults(), a fixed subset of harness/fault's
// catalogue that both tiers model; they are injected through their own
// Inject on the world's harness.Backend, so one fault value means the
// same on both tiers.
package property
