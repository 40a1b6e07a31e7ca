// Package property is property-based chaos: random interleavings of
// purchases, faults, crashes, block production and the passing of time,
// drawn and shrunk by pgregory.net/rapid, checked by the harness's
// checkers after every step.
//
// One model, two tiers. A Step is data (JSON): buy, crash, pair, fault,
// heal, mine, wait. A World carries steps out: harness/sim is the
// deterministic simulator (virtual clock, thousands of steps a second),
// and harness/live's World is a real regtest network with toxiproxy links
// and the exec client. The Machine is a driver of the one run loop,
// harness.Session: it turns each step into the Session's Plan, Begin and
// End, Inject and HealAll, and Judge, as the scripted Runner turns a
// scenario into them. Both record the same history, so
// the same checkers judge both, and Classes compares them: the
// differential check that keeps the simulator honest.
//
//	rapid.T ──Actions──> Step ──Machine.Apply──> harness.Session ──> World ──> history + truth ──> check
//
// rapid keeps its settings (checks, steps, seed, shrink time) in
// process-wide flags. Explore runs under them as they are: the program's
// main or the test, which own the process, set them
// (internal/rapidflags).
//
// Faults are drawn from Faults(), a fixed subset of harness/fault's
// catalogue that both tiers model; they are injected through their own
// Inject on the world's harness.Backend, so one fault value means the
// same on both tiers.
package property
