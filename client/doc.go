// Package client is the reference L402 client: it buys HTTP responses
// paid over Lightning and shows how a client must behave when money is
// at stake. Its one promise is at-most-once payment per purchase, kept
// across retries, server faults, node faults and crashes.
//
// # Flow
//
// Do(ctx, req, key) names a purchase by key (the caller's, the request's
// Idempotency-Key through Transport, or one derived from method, URL and
// body). Under a per-key lock it reads the purchase's journal and moves
// it forward:
//
//	request ──> 402 + WWW-Authenticate ──> ParseChallenges ──> Preferred
//	    │                                                       │
//	    │ 2xx (free, or a cached token)              DecodeInvoice + checks
//	    v                                                       │
//	 delivered                     journal "dispatched" ──> Payer.SendPayment
//	                                                            │
//	         request + Authorization: L402 <mac>:<preimage> <───┘ settled
//
// # Journal
//
// Every step is written to the journal (bbolt, fsync on, one atomic
// transaction per step) before the side effect it announces: "dispatched"
// is on disk before SendPayment is called, so a process killed at any
// instant leaves a journal that says what may have happened.
//
//	intent ──> challenge ──> dispatched ──> settled ──> delivered
//	  │  ^          │             │            │
//	  │  │          │             v            └──────> undelivered
//	  │  │          │          unpaid ─┐                (paid, preimage kept,
//	  │  │          │  (failed, or the │                 dead-lettered)
//	  │  │          │   node never saw │
//	  │  │          │   it: same       │
//	  │  │          │   invoice again) │
//	  │  │          v                  │
//	  └──┼──────> failed <─────────────┘ (no money moved; the key may
//	     └──────────┘                     start again with a new intent)
//
// token marks a purchase served by a credential another purchase paid
// for. Side tables move in the same transaction as the event: the open
// set, the token cache, the dead letters, the budget (spent plus what
// in-flight payments hold) and the generation of derived keys. Export
// gives a purchase's events as JSON without secrets.
//
// # Guarantees, and why
//
//   - At most once per key. While a payment is dispatched and unresolved
//     no other is started: it is tracked first. Succeeded: its preimage is
//     used. In flight: wait, bounded by ctx; if ctx ends the outcome is
//     Unknown, never Failed, because money may still move. Failed: a new
//     challenge may be paid. Not found: the node never saw it, so paying
//     is safe; the same invoice is paid again (not a fresh challenge)
//     while it is valid, so that a request still in a dead process's
//     socket buffer can only ever pay the same hash, which the node
//     deduplicates.
//   - A settled payment is never dropped. Its preimage is journaled before
//     anything else happens; if the server will not deliver, retries reuse
//     the same credential for WithPaidRejectWindow and the purchase ends
//     PaidNotDelivered with the preimage kept and a dead letter. Retrying
//     a request never pays again; a later Do with the key delivers again
//     with the same credential.
//   - Checks before paying: the invoice's hash must be the one the
//     macaroon commits to (else the payment buys nothing), the invoice
//     must carry an amount within WithMaxCost and the total WithBudget,
//     and must not expire within WithExpiryMargin. A refusal is journaled
//     with its reason.
//   - Retries: exponential backoff with full jitter (cenkalti/backoff for
//     the schedule, an injected random source for the jitter), Retry-After
//     as a floor, bounded by attempts and elapsed time. Permanent errors
//     are never retried. POST, PUT and PATCH carry the key as
//     Idempotency-Key on every try, and bodies are buffered so every try
//     sends the same bytes.
//   - Tokens are cached per service (scheme, host, first path segment) and
//     reused until their TTL or the macaroon's *_valid_until caveat; a
//     cached token the server rejects is dropped and the fresh challenge
//     that came with the rejection is paid.
//   - Errors are a taxonomy (Kind): Transient, Permanent, Ambiguous,
//     PaymentFailed, Duplicate, CredentialRejected, Refused. gRPC codes are
//     read with status.Code, never from messages. Logs carry hash
//     prefixes, never a macaroon, preimage or root key.
//
// A purchase already delivered is not bought again: Do with its key sends
// the request again with its credential (Outcome.Replayed) and pays
// nothing. Derived keys move to a new generation once delivered, so the
// same GET later is a new purchase (often served by the cached token).
//
// # Recovery
//
// Recover walks the unfinished purchases at start. It resolves every
// dispatched payment by tracking, delivers settled ones when the journal
// kept the request (bodies up to 64 KiB), and closes purchases that never
// paid. It never starts a payment.
//
// # Concurrency
//
// Calls with the same key are serialised by a per-key semaphore and an
// flock on a per-key lock file. bbolt already locks the journal file for
// one process (OpenStore gives up after WithOpenTimeout), so the file lock
// is a second line of defence that also holds if the journal is ever
// shared another way; the kernel drops it when a process dies.
//
// Calls with different keys run in parallel, and their journal steps are
// group-committed: steps that arrive while a transaction is being written
// share the next one (one fsync for all of them). There is no timer, so a
// lone purchase waits for nobody, and each step is still on disk before
// Do goes on.
//
// # Seams
//
// Payer is the node: NewLNDPayer uses lnd's DecodePayReq, SendPaymentV2
// (AlreadyExists is Duplicate, any other error after dispatch Ambiguous)
// and TrackPaymentV2 (NotFound means never dispatched). clienttest has a
// scriptable fake node, a clock that never sleeps, and an issuer of real
// L402 macaroons for tests. Clock, logger, random source and HTTP client
// are options.
//
// # Exec adapter protocol
//
// The harness drives clients as programs (docs/adapter-protocol.md).
// ReadAdapterEnv reads a purchase attempt from the environment,
// AdapterAttempt runs it (Recover, then Do) and ReportFor turns the result
// into the protocol's JSON line and exit code. chaos client and the
// mutants of client/mutant share them, so a mutant differs from the
// reference client only in its one bug. A purchase left open in the
// journal is never reported failed: if Do cannot even take its lock
// before the deadline, the attempt is unknown.
package client
