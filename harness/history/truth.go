package history

import (
	"strings"
	"time"
)

// Truth is what the ledgers said after the run, every fault healed: the
// facts the checkers hold a client's claims against. Times are wall-clock
// times from the machine that ran the network; Started converts them into
// history time.
type Truth struct {
	// Started is the wall-clock time of the history's first event.
	Started   time.Time `json:"started"`
	Collected time.Time `json:"collected"`
	// Plan is what the harness asked of the client.
	Plan Plan `json:"plan"`
	// Payer and Payee name the client's node and the provider's node.
	Payer string `json:"payer"`
	Payee string `json:"payee"`
	// Payments are the payer node's payments, incomplete and failed ones
	// included.
	Payments []Payment `json:"payments"`
	// PayRequests are the payment requests the client sent its node, as
	// a recorder on the client-lnd link saw them: those LND refused
	// before any payment existed included. PayRequestsRecorded says
	// whether a recorder was there (not on every backend).
	PayRequests         []PayRequest `json:"pay_requests,omitempty"`
	PayRequestsRecorded bool         `json:"pay_requests_recorded,omitempty"`
	// Invoices are the payee node's invoices, with the provider's view of
	// each (hold, the challenge it answered).
	Invoices []Invoice `json:"invoices"`
	// The provider's ledger.
	Requests    []Request    `json:"requests"`
	SideEffects []SideEffect `json:"side_effects"`
	Deliveries  []Delivery   `json:"deliveries"`
	// Pending are the HTLCs still pending on any channel of any node.
	Pending []HTLC `json:"pending"`
	// Closed are the channels closed during the run (a node went to
	// chain to time an HTLC out, say): their funds left the channel
	// balances.
	Closed []string `json:"closed,omitempty"`
	// Balances are each node's channel balances before and after the run.
	Before map[string]Balance `json:"before"`
	After  map[string]Balance `json:"after"`
	// Errors are the harness's own failures while collecting: any of them
	// makes a checker that needs the missing fact answer Unknown.
	Errors []string `json:"errors,omitempty"`
	// Sampled marks a truth read while the run went on (a soak samples
	// one every window, so that a harness that dies leaves a record): it
	// speaks for the history's events before index Through, except those
	// of the purchases in Busy, which were in flight as it was read.
	// ReadRecord cuts the history to match.
	Sampled bool     `json:"sampled,omitempty"`
	Through int64    `json:"through,omitempty"`
	Busy    []string `json:"busy,omitempty"`
}

// Plan is the traffic the harness drove.
type Plan struct {
	Purchases []PlannedPurchase `json:"purchases"`
	// BudgetMsat is the client's total budget; 0 for none.
	BudgetMsat int64 `json:"budget_msat,omitempty"`
	// Services are the provider's services and their pricing.
	Services []Service `json:"services"`
}

// Service is a provider service as the checkers need it.
type Service struct {
	Name string `json:"name"`
	// PerToken: one payment buys a token good for TokenTTL; otherwise
	// every request costs a payment.
	PerToken  bool          `json:"per_token"`
	TokenTTL  time.Duration `json:"token_ttl,omitempty"`
	PriceMsat int64         `json:"price_msat"`
}

// PlannedPurchase is one purchase key.
type PlannedPurchase struct {
	Key    string `json:"key"`
	Method string `json:"method"`
	URL    string `json:"url"`
	// Path is the URL's path at the provider: requests with it belong to
	// this purchase.
	Path        string `json:"path"`
	Service     string `json:"service"`
	MaxCostMsat int64  `json:"max_cost_msat"`
	// Instance is the client instance (state directory) that bought it:
	// tokens are shared within an instance only.
	Instance int `json:"instance"`
}

// Payment statuses, as lnd names them.
const (
	PaymentInitiated = "INITIATED"
	PaymentInFlight  = "IN_FLIGHT"
	PaymentSucceeded = "SUCCEEDED"
	PaymentFailed    = "FAILED"
)

// Payment is one payment of the payer node.
type Payment struct {
	Hash      string    `json:"hash"`
	Status    string    `json:"status"`
	ValueMsat int64     `json:"value_msat"`
	FeeMsat   int64     `json:"fee_msat"`
	Created   time.Time `json:"created"`
	// Resolved is when the last HTLC attempt resolved; zero while in
	// flight.
	Resolved      time.Time `json:"resolved,omitzero"`
	FailureReason string    `json:"failure_reason,omitempty"`
	Attempts      []Attempt `json:"attempts,omitempty"`
}

// PayRequest is one call by which the client asked its node to pay an
// invoice (routerrpc SendPaymentV2, lnrpc SendPaymentSync or
// SendPayment), and how the node answered.
type PayRequest struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	// Hash, AmountMsat and Expiry are the invoice's (AmountMsat 0:
	// amountless); Decoded is false when the invoice could not be read.
	Hash       string    `json:"hash,omitempty"`
	AmountMsat int64     `json:"amount_msat,omitempty"`
	Expiry     time.Time `json:"expiry,omitzero"`
	Decoded    bool      `json:"decoded"`
	// AmtMsat is the amount the call itself named (for an amountless
	// invoice).
	AmtMsat int64 `json:"amt_msat,omitempty"`
	// Status is the call's gRPC status code when it ended ("OK", or
	// why the node refused it); empty while it was still open.
	Status string `json:"status,omitempty"`
}

// Attempt is one HTLC attempt of a payment.
type Attempt struct {
	Status    string    `json:"status"`
	Attempted time.Time `json:"attempted"`
	Resolved  time.Time `json:"resolved,omitzero"`
	Failure   string    `json:"failure,omitempty"`
}

// Invoice states, as lnd names them.
const (
	InvoiceOpen     = "OPEN"
	InvoiceAccepted = "ACCEPTED"
	InvoiceSettled  = "SETTLED"
	InvoiceCanceled = "CANCELED"
)

// Invoice is one invoice of the payee node.
type Invoice struct {
	Hash        string        `json:"hash"`
	State       string        `json:"state"`
	ValueMsat   int64         `json:"value_msat"`
	AmtPaidMsat int64         `json:"amt_paid_msat"`
	Created     time.Time     `json:"created"`
	Settled     time.Time     `json:"settled,omitzero"`
	Expiry      time.Duration `json:"expiry"`
	Hold        bool          `json:"hold,omitempty"`
}

// Request is one request the provider answered.
type Request struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Method  string    `json:"method"`
	Path    string    `json:"path"`
	Service string    `json:"service,omitempty"`
	// Key is the Idempotency-Key header; Purchase is the purchase the
	// harness maps the request to (by its path).
	Key      string `json:"key,omitempty"`
	Purchase string `json:"purchase,omitempty"`
	// BodySHA256 is the request body's digest, when it had one.
	BodySHA256 string `json:"body_sha256,omitempty"`
	Status     int    `json:"status"`
	// RetryAfter is the Retry-After the answer carried.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Challenge, when the answer was a 402.
	InvoiceHash   string `json:"invoice_hash,omitempty"`
	MacaroonHash  string `json:"macaroon_hash,omitempty"` // differs from InvoiceHash under hash-mismatch
	AmountMsat    int64  `json:"amount_msat,omitempty"`   // the invoice's amount; 0 for amountless
	ChallengeKnob string `json:"challenge_knob,omitempty"`
	TokenID       string `json:"token_id,omitempty"` // the challenge's token
	// Credential, when the request carried one.
	CredentialHash  string   `json:"credential_hash,omitempty"`
	CredentialToken string   `json:"credential_token,omitempty"` // the token id
	CredentialValid bool     `json:"credential_valid,omitempty"`
	CredentialError string   `json:"credential_error,omitempty"`
	SideEffect      int64    `json:"side_effect,omitempty"`
	Replayed        bool     `json:"replayed,omitempty"`
	Knobs           []string `json:"knobs,omitempty"`
	Error           string   `json:"error,omitempty"`
}

// SideEffect is a POST operation the provider executed.
type SideEffect struct {
	Seq         int64     `json:"seq"`
	RequestSeq  int64     `json:"request_seq"`
	Time        time.Time `json:"time"`
	Path        string    `json:"path"`
	Key         string    `json:"key,omitempty"`
	Purchase    string    `json:"purchase,omitempty"`
	PaymentHash string    `json:"payment_hash"`
}

// Delivery is a paid answer the provider wrote in full.
type Delivery struct {
	Seq         int64     `json:"seq"`
	RequestSeq  int64     `json:"request_seq"`
	Time        time.Time `json:"time"`
	Path        string    `json:"path"`
	Key         string    `json:"key,omitempty"`
	Purchase    string    `json:"purchase,omitempty"`
	PaymentHash string    `json:"payment_hash"`
	TokenID     string    `json:"token_id"`
	Status      int       `json:"status"`
	BodySHA256  string    `json:"body_sha256"`
	Replayed    bool      `json:"replayed,omitempty"`
}

// HTLC is an HTLC still pending on a channel.
type HTLC struct {
	Node        string `json:"node"`
	Channel     string `json:"channel"`
	Hash        string `json:"hash"`
	AmountMsat  int64  `json:"amount_msat"`
	Incoming    bool   `json:"incoming"`
	ExpiryBlock uint32 `json:"expiry_block"`
}

// Balance is a node's channel balances.
type Balance struct {
	LocalMsat  int64 `json:"local_msat"`
	RemoteMsat int64 `json:"remote_msat"`
}

// HistoryTime converts a ledger time into history time.
func (t *Truth) HistoryTime(at time.Time) time.Duration { return at.Sub(t.Started) }

// Only is the truth as far as the purchases keep keeps are concerned:
// the ledger's requests, side effects and deliveries of the others, and
// the invoices and payments their challenges and credentials name, are
// left out, but for the requests that presented a token (kept, owned by
// no purchase: a token's fate concerns every purchase that holds it);
// everything else (payments no challenge explains, pending HTLCs,
// balances) stays. A long run judges what is live with it.
func (t *Truth) Only(keep func(purchase string) bool) *Truth {
	out := *t
	gone := map[string]bool{}
	out.Requests = nil
	for _, r := range t.Requests {
		if r.Purchase == "" || keep(r.Purchase) {
			out.Requests = append(out.Requests, r)
			continue
		}
		if r.CredentialToken != "" {
			// A token is shared by the purchases of a client: whether
			// the provider took or refused it is a fact about the
			// token, which the kept purchases may rely on. Kept, and
			// owned by no purchase.
			r.Purchase, r.Key = "", ""
			out.Requests = append(out.Requests, r)
		}
		for _, h := range []string{r.InvoiceHash, r.MacaroonHash, r.CredentialHash} {
			if h != "" {
				gone[strings.ToLower(h)] = true
			}
		}
	}
	out.SideEffects = nil
	for _, s := range t.SideEffects {
		if s.Purchase == "" || keep(s.Purchase) {
			out.SideEffects = append(out.SideEffects, s)
		}
	}
	out.Deliveries = nil
	for _, d := range t.Deliveries {
		if d.Purchase == "" || keep(d.Purchase) {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	out.Payments = nil
	for _, p := range t.Payments {
		if !gone[strings.ToLower(p.Hash)] {
			out.Payments = append(out.Payments, p)
		}
	}
	out.Invoices = nil
	for _, i := range t.Invoices {
		if !gone[strings.ToLower(i.Hash)] {
			out.Invoices = append(out.Invoices, i)
		}
	}
	out.Plan.Purchases = nil
	for _, p := range t.Plan.Purchases {
		if keep(p.Key) {
			out.Plan.Purchases = append(out.Plan.Purchases, p)
		}
	}
	return &out
}
