// Package live is the real system the harness runs against: a regtest
// network (package regtest) whose hops pass through in-process toxiproxy
// proxies, the fake provider on the payee node, watchers that turn
// payment phases into triggers, and the ground truth read back from the
// nodes and the provider's ledger.
//
//	Start ──> Backend: Links (toxiproxy, one proxy per hop, groups)
//	              │    phases (challenge, payment in flight, ...)
//	              │    Truth (payments, invoices, ledger, balances)
//	              └──> harness.Runner, the faults of harness/fault
//
//	NewWorld ──> World: a Backend, the exec client, a wall clock
//	              └──> property.Machine (the real tier of property-based chaos)
//
// Start is the harness.StartFunc of the scripted scenarios. World is the
// same backend as a property.World: purchases run through the exec
// adapter (harness/adapter), so that crash steps can kill the client,
// and the truth is dated from the world's first clock reading, as on the
// simulator (harness/sim).
package live
