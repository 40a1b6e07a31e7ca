package certify

import (
	"fmt"
	"slices"
)

// Level is how much a rule weighs in a certificate.
type Level string

const (
	// Must: the L402 protocol requires it; a client that breaks it does
	// not interoperate. A failure fails the certification.
	Must Level = "MUST"
	// Should: recommended; a failure is reported, the certification
	// stands.
	Should Level = "SHOULD"
	// Safety: this project's at-most-once rules, judged against LND's
	// ledgers: money moved twice, or a claim that contradicts them. A
	// failure fails the certification.
	Safety Level = "SAFETY"
)

// Gates reports whether a failure at this level fails the certification.
func (l Level) Gates() bool { return l == Must || l == Safety }

// Capability is something a client declares it speaks (in its
// descriptor). Rules and cases that need a capability the client lacks
// are not applicable, never passed.
type Capability string

const (
	// HTTP: GET over HTTP(S), the adapter protocol's purchase.
	HTTP Capability = "http"
	// Post: POST with a body and an Idempotency-Key.
	Post Capability = "post"
	// GRPC: unary gRPC calls, L402 as Aperture speaks it (the challenge
	// in the status and trailer, the credential in the metadata).
	GRPC Capability = "grpc"
	// CrashPoints: the client dies where L402_CRASH_AT says, at the named
	// points of its critical section (docs/adapter-protocol.md).
	CrashPoints Capability = "crash-points"
)

// Capabilities lists the known capabilities.
func Capabilities() []Capability { return []Capability{HTTP, Post, GRPC, CrashPoints} }

// Rule is one requirement a certificate answers: a stable ID, its level,
// where it comes from, and what judges it (checkers, on the cases it
// applies to).
type Rule struct {
	ID     string `json:"id"`
	Level  Level  `json:"level"`
	Title  string `json:"title"`
	Source string `json:"source"`
	// Checkers judge the rule on each case it applies to: the harness's
	// checkers (harness/check) and certification's own (this package).
	Checkers []string `json:"checkers"`
	// Scenarios limits the cases to these scenarios (empty: every
	// scenario); Dialects to these dialects (empty: every dialect).
	Scenarios []string `json:"scenarios,omitempty"`
	Dialects  []string `json:"dialects,omitempty"`
	// Needs are the capabilities the rule is about: it does not apply to
	// a client without them, and is judged on the cases whose traffic
	// uses them.
	Needs []Capability `json:"needs,omitempty"`
}

// AppliesTo reports whether the rule judges a case.
func (r Rule) AppliesTo(c Case) bool { return r.judges(c.Scenario.Name, c.Dialect.Name, c.Needs()) }

// judges reports whether the rule judges a case of scenario in dialect
// whose traffic needs these capabilities.
func (r Rule) judges(scenario, dialect string, needs []Capability) bool {
	if len(r.Scenarios) > 0 && !slices.Contains(r.Scenarios, scenario) {
		return false
	}
	if len(r.Dialects) > 0 && !slices.Contains(r.Dialects, dialect) {
		return false
	}
	// A rule about a capability is judged where the traffic uses it.
	for _, n := range r.Needs {
		if !slices.Contains(needs, n) {
			return false
		}
	}
	return true
}

// The scenarios a rule is judged on by name (scenarios.All).
var (
	crashScenarios = []string{"crash-before-dispatch", "crash-htlc-held", "crash-after-settlement",
		"hold-settled-after-give-up", "payer-lnd-killed-in-flight", "payer-lnd-restart-in-flight", "partition-payer-lnd-in-flight",
		"crash-at-intent", "crash-at-dispatched", "crash-at-payment-sent", "crash-at-preimage", "crash-at-settled",
		"crash-at-credential-sent", "crash-at-delivered"}
	dialectScenarios = []string{"token-reuse", "token-revoked"}
	// challengeScenarios judge the reading of a dialect's challenge: a
	// purchase on a fresh challenge, and the reuse of its token. A
	// client that cannot take a new challenge after its token is revoked
	// fails L402-AUTH-01, not the dialect's rule.
	challengeScenarios = []string{"token-reuse"}
)

// Rules is the rule catalogue, in the order certificates list it. IDs are
// stable: a rule that changes meaning gets a new ID.
func Rules() []Rule {
	return []Rule{
		// The protocol: paying and presenting.
		{ID: "L402-PAY-01", Level: Must, Title: "Pay the challenge's invoice before presenting its credential: every credential carries the preimage of a payment that succeeded",
			Source: "L402 spec, authentication flow; bLIP-0026", Checkers: []string{PaidBeforeCredential{}.Name()}},
		{ID: "L402-RETRY-01", Level: Must, Title: "Re-issue the original request, with its method, path and body, on the credentialed retry",
			Source: "L402 spec, authentication flow; RFC 7235 section 2", Checkers: []string{SameRequest{}.Name()}},
		{ID: "L402-INV-01", Level: Must, Title: "Verify that the invoice pays the hash the macaroon commits to before paying",
			Source: "L402 spec, macaroon identifier (payment hash); bLIP-0026", Checkers: []string{"price-cap"}, Scenarios: []string{"hash-mismatch"}},
		{ID: "L402-INV-02", Level: Must, Title: "Refuse an amountless invoice without paying",
			Source: "L402 spec, invoice; BOLT 11 (amount field)", Checkers: []string{"price-cap"}, Scenarios: []string{"amountless-invoice"}},
		{ID: "L402-INV-03", Level: Must, Title: "Refuse an expired invoice without paying",
			Source: "BOLT 11 (expiry field); lnd refuses to pay expired invoices", Checkers: []string{NoExpiredPayment{}.Name()}, Scenarios: []string{"invoice-expired"}},
		{ID: "L402-PRICE-01", Level: Must, Title: "Refuse an invoice above the price the caller allowed",
			Source: "L402 spec, client-side pricing; this project's adapter protocol (L402_MAX_COST_SAT)", Checkers: []string{"price-cap"}, Scenarios: []string{"overpriced-invoice"}},

		// The protocol: the dialects servers speak.
		{ID: "L402-HDR-01", Level: Must, Title: "Accept the current challenge: the L402 scheme with version and token= parameters",
			Source: "L402 spec, WWW-Authenticate (current form)", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectL402}},
		{ID: "L402-HDR-02", Level: Must, Title: "Accept the macaroon= parameter of the first L402 form",
			Source: "L402 spec, WWW-Authenticate (macaroon= form); Aperture", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectLegacy}},
		{ID: "L402-HDR-03", Level: Should, Title: "Accept the LSAT scheme where L402 appears (servers from before the rename)",
			Source: "bLIP-0026 (LSAT renamed L402); Aperture", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectLSAT}},
		{ID: "L402-HDR-04", Level: Must, Title: "Choose one challenge among several WWW-Authenticate headers (LSAT and L402 side by side)",
			Source: "RFC 7235 section 4.1 (several challenges); Aperture sends both", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectAperture}},
		{ID: "L402-HDR-05", Level: Must, Title: "Treat the scheme and parameter names case-insensitively",
			Source: "RFC 7235 sections 2.1 and 2.2", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectCase}},
		{ID: "L402-HDR-06", Level: Must, Title: "Ignore unknown challenge parameters",
			Source: "RFC 7235 section 2.2; L402 spec (extensible challenge)", Checkers: []string{Delivered{}.Name()}, Scenarios: challengeScenarios, Dialects: []string{DialectExtraParams}},
		{ID: "L402-GRPC-01", Level: Must, Title: "gRPC: read the challenge from the call's status and trailer, and send the credential in the request metadata",
			Source: "Aperture's gRPC L402 (the pattern Loop and Pool use); bLIP-0026", Checkers: []string{Delivered{}.Name(), PaidBeforeCredential{}.Name()},
			Scenarios: challengeScenarios, Dialects: []string{DialectGRPC}, Needs: []Capability{GRPC}},
		{ID: "L402-AUTH-01", Level: Must, Title: "Answer a 401 or a 402 to a credentialed request (a revoked or expired token) by taking the new challenge",
			Source: "L402 spec, token revocation; RFC 7235 section 3.1 (401)", Checkers: []string{Rechallenged{}.Name()}, Scenarios: []string{"token-revoked"}},
		{ID: "L402-TOKEN-01", Level: Should, Title: "Store the credential and reuse it while it is good instead of paying again",
			Source: "L402 spec, token reuse", Checkers: []string{"token-reuse"}},
		{ID: "L402-RETRY-02", Level: Should, Title: "Honour Retry-After, retry within bounds, and never retry a permanent error",
			Source: "RFC 9110 section 10.2.3 (Retry-After); this project's retry discipline", Checkers: []string{"retry-discipline"}},

		// At most once, judged against LND's ledgers.
		{ID: "SAFE-01", Level: Safety, Title: "Pay at most once per purchase: of the payments for one purchase's challenges, at most one succeeds",
			Source: "this project (at-most-once)", Checkers: []string{"at-most-once"}},
		{ID: "SAFE-02", Level: Safety, Title: "Never start a second payment for a purchase while one is in flight or its fate is unknown",
			Source: "this project (at-most-once); lnd payment lifecycle", Checkers: []string{"no-concurrent-payment"}},
		{ID: "SAFE-03", Level: Safety, Title: "Persist the intent before paying; after a crash or restart resolve it (track the payment) before any new payment",
			Source: "this project (at-most-once); lnd TrackPaymentV2", Checkers: []string{"at-most-once", "no-concurrent-payment", "eventual-resolution"}, Scenarios: crashScenarios},
		{ID: "SAFE-04", Level: Safety, Title: "Never lose a settled payment: a paid purchase is delivered or reported unknown, never failed",
			Source: "this project (no lost payment)", Checkers: []string{"no-lost-payment"}},
		{ID: "SAFE-05", Level: Safety, Title: "Report outcomes truthfully: failed only when no money moved and none will",
			Source: "this project (truthful outcome); adapter protocol v1", Checkers: []string{"truthful-outcome"}},
		{ID: "SAFE-06", Level: Safety, Title: "Pay only invoices it should, within the price cap and the budget, fees included",
			Source: "this project (price cap)", Checkers: []string{"price-cap"}},
		{ID: "SAFE-07", Level: Safety, Title: "Run a paid operation's side effect once: the retry of a POST carries the same Idempotency-Key",
			Source: "this project (idempotent side effects); IETF draft Idempotency-Key header", Checkers: []string{"idempotent-side-effects"}, Needs: []Capability{Post}},
		{ID: "SAFE-08", Level: Safety, Title: "Resolve every purchase left in doubt once the faults heal",
			Source: "this project (eventual resolution)", Checkers: []string{"eventual-resolution"}},
		{ID: "SAFE-09", Level: Safety, Title: "Leave the network clean: no HTLC left pending, and the money adds up",
			Source: "this project (hygiene); lnd channel balances", Checkers: []string{"hygiene"}},
	}
}

// RuleByID returns the rule with id.
func RuleByID(id string) (Rule, error) {
	for _, r := range Rules() {
		if r.ID == id {
			return r, nil
		}
	}
	return Rule{}, fmt.Errorf("%w: no rule %q", ErrUsage, id)
}
