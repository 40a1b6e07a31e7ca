// Package check judges a history against the ground truth with the
// at-most-once invariants of an L402 client.
//
//	history.jsonl ─┐
//	               ├─▶ Checker.Check ─▶ Result{Valid | Invalid | Unknown, witness}
//	truth.json ────┘
//
// Every checker is tri-state. Invalid comes with a minimal witness: the
// purchase, the payment hashes and the history indices involved. When the
// harness failed to collect what a checker needs, the answer is Unknown,
// never a verdict against the client.
//
// # The checkers
//
// All returns them in this order; ByName picks some; Recheck runs them
// all again on a run's history.jsonl and truth.json.
//
//	at-most-once             a purchase has at most one succeeded payment
//	no-concurrent-payment    no payment while another of the purchase is unresolved
//	no-lost-payment          a settled payment is delivered, or its preimage kept
//	truthful-outcome         "failed" and "delivered" agree with the ledgers
//	price-cap                no amountless, mismatched or overpriced invoice paid; budget kept
//	idempotent-side-effects  one side effect per Idempotency-Key and per purchase
//	retry-discipline         Retry-After honoured, no retry of a permanent refusal, ≤ 20 requests a run
//	token-reuse              no payment while the instance held a valid token of the service
//	eventual-resolution      nothing in flight or held after healing; every purchase resolved
//	hygiene                  no HTLC pending; balances moved by exactly what was paid
//
// A checker reports its first violation (purchases in plan order, then
// payments by creation time) and says how many more it found.
//
// # Which payment belongs to which purchase
//
// The provider's ledger names the purchase of every request, and so of
// every 402 challenge; a payer payment belongs to the purchase whose
// challenge carried its hash. A reused invoice (an invoice already paid,
// challenged again) carries one hash to two purchases: the payment belongs
// to the last challenge issued at or before the payment was created, the
// only one it can answer. Payments no challenge explains (the network's
// own set-up) belong to no purchase; only eventual-resolution and hygiene
// look at them.
//
// History times are durations since the run began; ledger times are
// wall-clock times, converted with Truth.HistoryTime. A witness's events
// are the runs (Invoke and completion) of the purchase whose span overlaps
// the payments in question, or all its runs when none does.
//
// # Judgement calls
//
// Where the invariants leave room, the checkers lean towards Unknown or
// Valid rather than a false Invalid:
//
//   - Any Truth.Errors makes every checker Unknown: an error string does
//     not say which fact is missing. An empty payment list while invoices
//     settled, or an empty request list while the provider delivered or
//     invoices were made, is taken as a collection failure too. A client's
//     own claims never count as such evidence.
//   - A payment resolves when lnd says so (Resolved), else when its last
//     HTLC attempt did; a failed payment that never made an attempt (no
//     route) resolved as it was created: no HTLC ever left.
//   - A "delivered" report may precede the ledger's delivery by up to a
//     second: the provider records a delivery after writing the answer.
//     Only OK and Fail completions are claims; an Info completion is the
//     harness saying the report was not usable.
//   - The ledger does not say which process sent a request. Retry rules
//     (a) and (b) judge two requests only when at most one run of the
//     purchase spans them, and a new Invoke in between waives both (a
//     fresh process never saw the Retry-After); overlapping runs share
//     their request limits.
//   - A token counts as held from its challenge for TokenTTL less a second
//     (the expiry caveat is in whole seconds), or forever when the service
//     has no TTL, and only if it was delivered before the challenge the
//     new payment answers: a purchase that asked for a challenge before
//     the token existed could not have used it. A request presenting the
//     token counts as refused if the credential was invalid or the answer
//     was 401 or 402 (a paid credential answered with a fresh challenge).
//   - Hygiene counts only payments created, and invoices settled, after
//     the history began: payments made while the network was set up are
//     in lnd's list but not in the balances' difference.
package check
