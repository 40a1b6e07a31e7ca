// Package sim is the chaos simulator: the property tier that runs
// thousands of steps a second and replays a seed exactly.
//
// It is single-threaded and deterministic in the manner of FoundationDB's
// and TigerBeetle's simulators. One driver owns a virtual clock, a block
// height and a queue of timed events. What matters of Lightning for L402
// is modelled, not emulated: the payee's invoices (hold invoices
// included) with their expiry, the payer's payments with LND's
// at-most-once-per-hash rule and the statuses TrackPaymentV2 reports,
// HTLCs that travel a peer link, wait in a mailbox while it is down (60 s,
// as LND's switch does), are held by hold invoices and are failed back
// when the payee's height comes within 19 blocks of their CLTV expiry;
// each node's view of the chain, which lags while its link to btcd is
// cut (the payer then sets expiries from a stale height, which the payee
// refuses as too soon, and a lagging payee times held HTLCs out late);
// routing and balance failures; node crashes and restarts that break
// every open RPC stream.
//
// The real code runs on that model unchanged: the fake provider (its
// Lightning seam is the payee model, its clock the virtual one), and the
// reference client, or any mutant of it, whose LND payer is
// client.LNDPayer over model implementations of lnd's lnrpc and routerrpc
// clients, whose clock is the virtual one, and whose HTTP transport
// carries requests over a modelled link straight into the provider's
// handler. Faults are the harness's own fault values injected through
// their Inject on this package's harness.Backend: toxics become message
// delay, loss (a request that ran, whose answer never comes), resets and
// refusals; kills, restarts, knobs, drains and held-invoice resolution
// act on the model.
//
// One client process runs at a time, on its own goroutine, but never at
// the same time as the driver: it runs until it blocks in a seam (an RPC,
// a stream, an HTTP exchange, a clock wait), hands control back, and is
// resumed when the model says it can go on. A context deadline the client
// sets itself on the real clock is read as the same span of virtual time.
// A crash is runtime.Goexit at the process's next seam: its deferred
// calls run, as the kernel's would release its locks, and nothing after.
// Two processes of one journal run one after the other: the journal
// (bbolt) lets only one process open it.
//
// ClientBuyer runs the reference client, or a mutant of client/mutant by
// name, in a simulated process; Worlds makes a fresh World per rapid
// check with it, for property.Property and property.Explore:
//
//	Worlds(name) ──> New(Config{Seed, Buy: ClientBuyer(name)}) ──> mutant.Buy(ctx, name, Rig)
package sim
