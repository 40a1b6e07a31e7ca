// Package mutant holds the deliberately broken L402 clients, one bug
// each: the reference client (package client, as `chaos client` runs it)
// with exactly one safety property sabotaged, runnable in-process, and
// the table of them, each with the checker of harness/check that must
// catch it. The mutants exist to prove that the harness's checkers catch
// what they claim to: a checker that passes a mutant is broken, and a
// harness refactor is not finished until every mutant is still caught.
//
//	All() ──> Mutant{Name, Bug, CaughtBy}
//	Buy(ctx, Name, Rig{Env, Payer, Options, Transport, Log}) ──> *client.Outcome, error
//	Build(ctx, dir) ──go build──> dir/l402-mutant
//	                                 │
//	harness exec adapter ── l402-mutant -bug <Name> ──> history ──> CaughtBy says invalid
//
// Two ways to run a mutant. The l402-mutant command (cmd/l402-mutant),
// which Build compiles, is a thin wrapper that reads the exec adapter
// environment, dials LND and calls Buy, so tests in other packages can
// run every mutant through the exec adapter against a real network. A
// simulator (harness/sim) calls Buy directly with its own payer, clock
// and HTTP transport.
//
// name "" is the reference client itself; every other name is a mutant
// of All. The list is an explicit slice, the same the command's -list
// prints, and Buy and the command refuse any name not in it.
//
// # How a bug is planted
//
// Never by copying the library: each sabotage goes through one of its
// public seams, so everything else stays the reference client and the
// bug is isolated.
//
//	                Rig.Options, then cap, logger, HTTP client, then the mutant's options
//	                 v
//	Rig.Env ──> client.Client ──Payer──> failOnTimeout? ──> Rig.Payer
//	                 │   │
//	                 │   └──HTTP──> stripRetryAfter? retry400? stripIdempotencyKey? ──> Rig.Transport
//	                 └──journal──> Env.StateDir, or a scratch directory removed on return
//
// Every request goes through Rig.Transport (http.DefaultTransport when
// nil), the reference client's included: Buy always gives the client an
// HTTP client of its own, with the reference client's 60s timeout, over
// Rig.Transport or the mutant's wrapper around it. Buy starts no
// goroutine and no timer of its own; the only waits are the client's
// (on the clock given in Rig.Options), its HTTP client's timeout, the
// journal's open timeout, and fail-on-timeout's context deadline.
//
// # The mutants
//
// The list, with the checker of harness/check that must catch each, is
// All (catalog.go); the sabotages are in sabotage.go.
//
//   - pay-after-5xx: when the purchase ends paid but undelivered after
//     a 5xx answer to the credentialed request (the provider's
//     error-after knob on paid requests, outlasting the retries), it
//     starts over as a brand-new purchase in a fresh journal, fetches
//     without a credential and pays the new challenge: two payments for
//     one key. Caught by at-most-once.
//   - memory-journal: journals in a scratch directory instead of
//     Env.StateDir, removed when the attempt returns, so what an attempt
//     dispatched and the preimage it got are forgotten. Killed while its
//     HTLC is held and run again, it pays a new challenge while the
//     first payment is still in flight. Caught by at-most-once, and by
//     no-concurrent-payment when the first HTLC is still held.
//   - fail-on-timeout: a Payer wrapper whose SendPayment gives up after
//     3s (a context deadline, or when ctx ends, if sooner) and turns
//     every error and every non-final state into a definitive PayFailed:
//     it never tracks. With a hold invoice held longer, the purchase is
//     reported failed while the payment settles later, and the journal
//     says unpaid, so the preimage is lost. It makes at most one payment
//     per attempt (WithMaxPayments(1)) so that the false failure is what
//     shows, not a second payment. Caught by truthful-outcome, and by
//     no-lost-payment.
//   - ignore-retry-after: an http.RoundTripper that deletes Retry-After
//     from every response, so a 429 or 503 is retried on the client's
//     own backoff (from 200ms) instead of the server's. Caught by
//     retry-discipline.
//   - retry-400: an http.RoundTripper that turns a 400 into a 503
//     without Retry-After, so a permanent error is retried until the
//     retry policy gives up. Caught by retry-discipline.
//   - pay-any-amount: WithMaxCost(math.MaxInt64) after the cap from
//     Env.MaxCostSat, so an overpriced invoice is paid. The library
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
// directory made inside Env.StateDir and removed when Buy returns. A
// process killed with SIGKILL cannot remove it; it stays inside the
// state directory, which the harness removes, and no later run ever
// reads it. Its name is random (os.MkdirTemp) but never read back, so
// it decides nothing.
package mutant
