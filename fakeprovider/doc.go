// Package fakeprovider is an L402 provider that behaves like a correct one
// (the role Aperture plays in production) until it is told to misbehave at
// the HTTP/L402 level, where toxiproxy's TCP faults cannot reach.
//
//	client ──HTTP/gRPC──▶ Provider ──Lightning──▶ LND (bob)
//	                        │  ▲
//	           ledger ◀─────┘  └───── control API (knobs, hold invoices,
//	   (ground truth)                 restart, ledger export)
//
// A request goes through these steps; knobs act at the marked points:
//
//	route /<service>/... ─▶ parse credential (malformed: 400)
//	  ─▶ [delay] [error-before, retry-after, settlement-failure]
//	  ─▶ no credential: 402 challenge  [expired-, amountless-, overpriced-,
//	                                    reused-invoice, hash-mismatch, hold]
//	  ─▶ verify: root key, HMAC chain, preimage, caveats
//	       (invalid: 401, or 402 with a fresh challenge, per profile)
//	  ─▶ [reject-paid]  ─▶ per-request token already spent? 402
//	  ─▶ process: GET reads; POST runs its side effect once per
//	     Idempotency-Key (replay: stored answer; other body: 422)
//	  ─▶ [error-after, drop-after]  ─▶ answer; delivery recorded once
//	     written in full
//
// Tokens are minted and checked with aperture's mint and l402 packages
// (identifier: version, payment hash, token id; a random root key per
// macaroon; services and <service>_valid_until caveats), so a token here
// is a token Aperture would mint. Only the Authorization header parser is
// our own, because it must accept what clients in the wild send and say
// precisely what is wrong with what it cannot.
//
// Challenges come in four header generations (HeaderStyle): the current
// `L402 version="0", token=..., invoice=...`, the legacy `L402
// macaroon=..., invoice=...`, `LSAT ...`, and Aperture's pair of LSAT then
// L402 headers, with optional case variants and unknown parameters.
//
// The ledger records every request (time, transport, method, path,
// purchase key, the credential presented and why it was refused, the
// status, the challenge issued, the side effect run, the knobs that
// fired), every invoice with its state as last read from LND, every side
// effect and every delivery. It never holds a macaroon, preimage or root
// key. Ledger() refreshes unfinished invoices from the node first.
//
// A restart (Restart, or POST /restart) closes the HTTP and gRPC
// listeners, cutting open connections, and reopens them on the same
// ports; with forget it also drops root keys, stored answers and spent
// tokens. The control API stays up throughout, since it is the harness's
// lever.
//
// Note for clients written in Go: net/http's Transport resends a request
// that carries an Idempotency-Key when a reused connection fails before
// any answer, without telling its caller. The provider sees both sends.
package fakeprovider
