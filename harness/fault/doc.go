// Package fault is the nemesis: one small file per fault, each a struct
// whose fields are its JSON form, each returning an idempotent Heal.
//
//	network   Latency Timeout Reset LimitData Bandwidth Slicer Down
//	          (toxiproxy toxics on a named link, toxicity always 1)
//	process   KillNode PauseNode RestartNode KillClient RestartProvider
//	          IsolateNode (containers: the node's container cut from
//	          the run's network)
//	lightning Knob (the provider's L7 knobs, hold invoices among them)
//	          ResolveHolds RevokeTokens Mine MineUntilCancel Drain
//	wrappers  After (fire on a payment phase) For (heal after a time)
//	          Until (heal on a payment phase)
//
// When a fault fires is the harness's decision, never toxiproxy's: the
// wrappers wait on payment phases the backend observes (an HTLC held at
// the payee, a payment in flight at the payer, a preimage received, a
// side effect executed), so a run replays from its seed.
//
//	traffic ─▶ backend phases ─▶ After(f, phase) ─▶ f.Inject ─▶ Heal
//	                                                   fault.start   fault.stop
//
// Catalogue lists one instance of every fault, for reports and for
// generators that pick faults at random.
package fault
