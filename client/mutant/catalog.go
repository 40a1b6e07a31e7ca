package mutant

// Mutant is one deliberately broken client.
type Mutant struct {
	// Name selects it: l402-mutant -bug <Name>.
	Name string `json:"name"`
	// Bug is what it does wrong.
	Bug string `json:"bug"`
	// CaughtBy is the name of the harness/check checker that must find
	// it invalid in a scenario that reaches the bug.
	CaughtBy string `json:"caught_by"`
}

// Args are the command-line arguments that run m.
func (m Mutant) Args() []string { return []string{"-bug", m.Name} }

// The mutants' names.
const (
	PayAfter5xx      = "pay-after-5xx"
	MemoryJournal    = "memory-journal"
	FailOnTimeout    = "fail-on-timeout"
	IgnoreRetryAfter = "ignore-retry-after"
	Retry400         = "retry-400"
	PayAnyAmount     = "pay-any-amount"
	NoIdempotencyKey = "no-idempotency-key"
	NoTokenReuse     = "no-token-reuse"
)

// The checkers that catch them (harness/check names).
const (
	AtMostOnce            = "at-most-once"
	TruthfulOutcome       = "truthful-outcome"
	RetryDiscipline       = "retry-discipline"
	PriceCap              = "price-cap"
	IdempotentSideEffects = "idempotent-side-effects"
	TokenReuse            = "token-reuse"
)

// All lists every mutant.
func All() []Mutant {
	return []Mutant{
		{PayAfter5xx, "after a 5xx answer to the paid request ends the purchase undelivered, starts it over with a fresh journal and pays a new challenge", AtMostOnce},
		{MemoryJournal, "keeps its journal (the dispatched payment, the preimage) only for the life of the process; restarted after a crash, it pays again", AtMostOnce},
		{FailOnTimeout, "gives up on a payment after 3s and reports it failed instead of tracking it; the payment settles later", TruthfulOutcome},
		{IgnoreRetryAfter, "drops Retry-After from every response, so it retries on its own short backoff", RetryDiscipline},
		{Retry400, "takes a 400 for a 503 without Retry-After, so it retries a permanent error", RetryDiscipline},
		{PayAnyAmount, "ignores L402_MAX_COST_SAT and pays an overpriced invoice", PriceCap},
		{NoIdempotencyKey, "sends POST without Idempotency-Key, so a resent request runs its side effect twice", IdempotentSideEffects},
		{NoTokenReuse, "never reuses a paid token: every purchase of a per-token service pays again", TokenReuse},
	}
}

// StrictChallenge is a dialect mutant: its bug shows only against a
// server that writes its challenge in another correct form than the
// current one, which certification's dialects do (chaos certify); the
// scenarios in the current dialect never see it, so All leaves it out.
const StrictChallenge = "strict-challenge"

// Delivered is the certification checker (package certify) that catches
// a dialect mutant: a correct server's purchase not delivered.
const Delivered = "delivered"

// Dialect lists the dialect mutants.
func Dialect() []Mutant {
	return []Mutant{
		{StrictChallenge, "reads only the current challenge as written today (one L402 header with token=, names in lower case): a legacy, LSAT, Aperture or upper-case challenge looks like none, so it gives up", Delivered},
	}
}

// ByName finds a mutant, of All or of Dialect.
func ByName(name string) (Mutant, bool) {
	for _, m := range append(All(), Dialect()...) {
		if m.Name == name {
			return m, true
		}
	}
	return Mutant{}, false
}
