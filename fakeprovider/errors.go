package fakeprovider

import "errors"

// Sentinels for what goes wrong. Errors are wrapped with %w and checked
// with errors.Is; the reason a credential was refused is one of the
// Err*Credential/Err*Token values and is written into the ledger.
var (
	// ErrInvalidConfig marks a configuration, profile or knob that cannot
	// be used.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNoCredential: the request carries no L402 or LSAT credential.
	ErrNoCredential = errors.New("no L402 credential")
	// ErrMalformedCredential: a credential that cannot be decoded (bad
	// base64 or hex, not a macaroon, oversized).
	ErrMalformedCredential = errors.New("malformed credential")
	// ErrUnknownToken: the macaroon was not minted here, or its root key
	// was revoked or rotated.
	ErrUnknownToken = errors.New("unknown or revoked token")
	// ErrBadSignature: the macaroon's HMAC chain does not verify (forged or
	// re-signed).
	ErrBadSignature = errors.New("macaroon signature does not verify")
	// ErrWrongPreimage: sha256(preimage) is not the payment hash the
	// macaroon commits to.
	ErrWrongPreimage = errors.New("preimage does not match the payment hash")
	// ErrCaveat: a caveat is not satisfied (another service, expired).
	ErrCaveat = errors.New("caveat not satisfied")
	// ErrTokenSpent: a per-request token was already used for another
	// request.
	ErrTokenSpent = errors.New("token already spent")
	// ErrNotFound: no such service, invoice, knob or token.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a request conflicts with the state (an Idempotency-Key
	// replayed with another body, a hold invoice in the wrong state).
	ErrConflict = errors.New("conflict")
)
