// Command l402-mutant is a deliberately broken L402 client: the reference
// client (package client, as chaos client runs it) with exactly one
// safety property sabotaged. It exists to prove that the harness's
// checkers catch what they claim to: a checker that passes a mutant is
// broken, and a harness refactor is not finished until every mutant is
// still caught.
//
//	l402-mutant -bug NAME   one purchase attempt, exec adapter protocol v1
//	l402-mutant -list       the mutants and the checker that must catch each
//
// It speaks the exec adapter protocol v1 (docs/adapter-protocol.md)
// exactly like chaos client: the purchase in the environment, one JSON
// report as the last line of stdout, exit 0 delivered, 1 failed, 2
// unknown. An unknown or missing -bug is a usage error, exit 64. Both
// programs read the environment with client.ReadAdapterEnv and report
// with client.ReportFor, so they differ only in the sabotage.
//
// # How a bug is planted
//
// Never by copying the library: each sabotage goes through one of its
// public seams, so everything else stays the reference client and the
// bug is isolated.
//
//	                 ┌─────────── options (WithMaxCost, WithTokenTTL, ...)
//	                 v
//	L402_* env ──> client.Client ──Payer──> failOnTimeout? ──> LND
//	                 │   │
//	                 │   └──HTTP──> stripRetryAfter? retry400? stripIdempotencyKey? ──> provider
//	                 └──journal──> L402_STATE_DIR, or a scratch directory removed at exit
//
// # The mutants
//
// The list, with the checker of harness/check that must catch each, is
// package catalog's All; the sabotages are in sabotage.go.
//
//   - pay-after-5xx: when the purchase ends paid but undelivered after
//     a 5xx answer to the credentialed request (the provider's
//     error-after knob on paid requests, outlasting the retries), it
//     starts over as a brand-new purchase in a fresh journal, fetches
//     without a credential and pays the new challenge: two payments for
//     one key. Caught by at-most-once.
//   - memory-journal: journals in a scratch directory instead of
//     L402_STATE_DIR, removed at exit, so what an attempt dispatched
//     and the preimage it got are forgotten. Killed while its HTLC is
//     held and run again, it pays a new challenge while the first
//     payment is still in flight. Caught by at-most-once, and by
//     no-concurrent-payment when the first HTLC is still held.
//   - fail-on-timeout: a Payer wrapper whose SendPayment gives up after
//     3s (or when ctx ends, if sooner) and turns every error and every
//     non-final state into a definitive PayFailed: it never tracks. With
//     a hold invoice held longer, the purchase is reported failed while
//     the payment settles later, and the journal says unpaid, so the
//     preimage is lost. It makes at most one payment per attempt
//     (WithMaxPayments(1)) so that the false failure is what shows,
//     not a second payment. Caught by truthful-outcome, and by
//     no-lost-payment.
//   - ignore-retry-after: an http.RoundTripper that deletes Retry-After
//     from every response, so a 429 or 503 is retried on the client's
//     own backoff (from 200ms) instead of the server's. Caught by
//     retry-discipline.
//   - retry-400: an http.RoundTripper that turns a 400 into a 503
//     without Retry-After, so a permanent error is retried until the
//     retry policy gives up. Caught by retry-discipline.
//   - pay-any-amount: WithMaxCost(math.MaxInt64) after the cap from
//     L402_MAX_COST_SAT, so an overpriced invoice is paid. The library
//     still refuses amountless and hash-mismatched invoices; this
//     mutant is about price only. Caught by price-cap.
//   - no-idempotency-key: an http.RoundTripper that strips
//     Idempotency-Key from every request, so a POST resent after a lost
//     answer runs its side effect twice. Caught by
//     idempotent-side-effects.
//   - no-token-reuse: WithTokenTTL(0), so a paid token expires as it is
//     stored and a second purchase of a per-token service pays again.
//     The journal is the real one, so each purchase is still paid at
//     most once: only token-reuse must catch it. (memory-journal would
//     also never reuse a token, but it breaks at-most-once too; this
//     one isolates the token cache.)
//
// # Scratch journals
//
// memory-journal, and pay-after-5xx's second start, journal in a fresh
// directory made inside L402_STATE_DIR and removed when the process
// exits. A process killed with SIGKILL cannot remove it; it stays inside
// the state directory, which the harness removes, and no later run ever
// reads it.
package main
