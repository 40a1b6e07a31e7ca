// Package harness is the run loop of the chaos harness and the seams it
// drives: the Client under test, the Faults of the nemesis, and the
// Backend they act on (the live network in harness/live, the simulator
// in harness/sim).
//
// One loop, many drivers. A Session owns a run's history, the faults in
// place and their heals, the process counter, every key's attempts and
// last completion, and the plan the checkers read. A driver decides what
// happens next and asks the Session to do it: the scripted Runner from a
// Scenario (setup faults, faults in goroutines on payment phases, traffic
// groups), property.Machine from drawn steps, and the soak and sharded
// drivers to come from their generators. None of them injects, heals,
// attempts or judges by itself.
//
//	Scenario ──▶ Runner ─┐                        ┌─▶ Client.Purchase ──▶ provider, payer LND
//	Steps ─────▶ Machine ┼─▶ Session ─ Inject ───┼─▶ Fault.Inject ─────▶ Backend (links, nodes, chain, knobs)
//	generator ─▶ (soak) ─┘     │      HealAll    │
//	                           │      Attempt ───┘
//	                           │      Judge ─────▶ Backend.Truth ─▶ check.Run ─▶ check.RunResult
//	                           └─▶ history.Recorder ─▶ history.WriteRecord (history.jsonl, truth.json)
//
// Traffic rules live once, in traffic.go: the services (typed
// constants), the URL, method and body of a purchase, its price cap and
// timeout, and what the plan records of it. Timeouts of the loop are in
// timeouts.go; the Backend's seam types (links, nodes, toxics, phases) in
// backend.go; the nemesis's (Fault, Heal, Env) in nemesis.go. Optional
// abilities are interfaces found by type assertion: Killer on a Client,
// Scheduled on a Fault, TruthNower and Clock on a Backend.
//
// The package imports only harness/check and harness/history: never
// toxiproxy, lnd or the network (internal/archtest keeps it so).
package harness
