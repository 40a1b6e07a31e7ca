package fakeprovider

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// KnobKind names a fault the provider can be told to commit at the
// HTTP/L402 level, where TCP faults cannot reach.
type KnobKind string

// The knobs. Each says where in the request it acts.
const (
	// ErrorBefore answers Status (default 500) before any processing.
	ErrorBefore KnobKind = "error-before"
	// ErrorAfter runs the request (the side effect happens) and answers
	// Status (default 500) instead of the result: the answer is lost.
	ErrorAfter KnobKind = "error-after"
	// DropAfter runs the request and drops the connection without an
	// answer.
	DropAfter KnobKind = "drop-after"
	// Delay holds the answer back for Delay; with Gather N, until N
	// requests it matched have arrived or Delay has passed, whichever is
	// first: a barrier that makes concurrent requests overlap.
	Delay KnobKind = "delay"
	// RetryAfter answers Status (429 or 503, default 503) with a
	// Retry-After of RetryAfter (default 1s) before processing.
	RetryAfter KnobKind = "retry-after"
	// SettlementFailure answers a credentialed request 502 with
	// Retry-After (default 2s): the relay nonce-conflict pattern, where the
	// server could not yet confirm a valid payment.
	SettlementFailure KnobKind = "settlement-failure"
	// ExpiredInvoice challenges with an invoice that expires ExpiresIn
	// after it is minted; zero means already expired when sent.
	ExpiredInvoice KnobKind = "expired-invoice"
	// AmountlessInvoice challenges with an invoice that has no amount.
	AmountlessInvoice KnobKind = "amountless-invoice"
	// OverpricedInvoice challenges with an invoice for AmountSat (default
	// ten times the price) instead of the advertised price.
	OverpricedInvoice KnobKind = "overpriced-invoice"
	// HashMismatch challenges with a macaroon that commits to another
	// payment hash than the invoice's.
	HashMismatch KnobKind = "hash-mismatch"
	// ReusedInvoice challenges with a fresh macaroon over an invoice that
	// was already paid.
	ReusedInvoice KnobKind = "reused-invoice"
	// RejectPaid answers 402 with a fresh challenge to valid, paid
	// credentials: for For after arming (settle lag) or, with Rotate, by
	// rotating the token's root key so it never verifies again.
	RejectPaid KnobKind = "reject-paid"
	// HoldInvoice challenges with a hold invoice. Once the payer's HTLC is
	// accepted the provider holds it for For, then settles or cancels it
	// (Then); with Then "manual" it waits for the control API.
	HoldInvoice KnobKind = "hold-invoice"
)

// KnobKinds lists every knob kind.
func KnobKinds() []KnobKind {
	return []KnobKind{ErrorBefore, ErrorAfter, DropAfter, Delay, RetryAfter, SettlementFailure,
		ExpiredInvoice, AmountlessInvoice, OverpricedInvoice, HashMismatch, ReusedInvoice, RejectPaid, HoldInvoice}
}

// What a hold invoice becomes after its hold time.
const (
	ThenSettle = "settle"
	ThenCancel = "cancel"
	ThenManual = "manual"
)

// Match selects the requests a knob acts on. Empty fields match anything.
type Match struct {
	Method string `json:"method,omitempty"`
	// Path is a path.Match pattern, e.g. "/data/*".
	Path string `json:"path,omitempty"`
	// Key is a purchase: the request's Idempotency-Key.
	Key string `json:"key,omitempty"`
	// Credentialed matches only requests that present a credential.
	Credentialed bool `json:"credentialed,omitempty"`
}

func (m Match) validate() error {
	if m.Method != "" && m.Method != http.MethodGet && m.Method != http.MethodPost {
		return fmt.Errorf("%w: match.method %q: want GET or POST", ErrInvalidConfig, m.Method)
	}
	if m.Path != "" {
		if !strings.HasPrefix(m.Path, "/") {
			return fmt.Errorf("%w: match.path %q: want an absolute path pattern", ErrInvalidConfig, m.Path)
		}
		if _, err := path.Match(m.Path, "/"); err != nil {
			return fmt.Errorf("%w: match.path %q: %w", ErrInvalidConfig, m.Path, err)
		}
	}
	return nil
}

func (m Match) matches(r *reqInfo) bool {
	if m.Method != "" && m.Method != r.method {
		return false
	}
	if m.Path != "" {
		if ok, _ := path.Match(m.Path, r.path); !ok {
			return false
		}
	}
	if m.Key != "" && m.Key != r.key {
		return false
	}
	if m.Credentialed && !r.credentialed {
		return false
	}
	return true
}

// Knob is one armed fault. It is its own JSON form in the control API.
type Knob struct {
	ID    string   `json:"id,omitempty"` // set when armed
	Kind  KnobKind `json:"kind"`
	Match Match    `json:"match,omitempty"`
	// Times is how often it fires: 1 once, N times, 0 until disarmed or
	// reset.
	Times int `json:"times,omitempty"`

	Status     int      `json:"status,omitempty"`
	RetryAfter Duration `json:"retry_after,omitempty"`
	Delay      Duration `json:"delay,omitempty"`
	ExpiresIn  Duration `json:"expires_in,omitempty"`
	AmountSat  int64    `json:"amount_sat,omitempty"`
	For        Duration `json:"for,omitempty"`
	Then       string   `json:"then,omitempty"`
	Rotate     bool     `json:"rotate,omitempty"`
	// Gather makes a delay knob a barrier (see Delay).
	Gather int `json:"gather,omitempty"`

	Armed time.Time `json:"armed"`
	Fired int       `json:"fired"` // how often it has fired so far

	gate *gate // Gather's barrier, shared by the knob's copies
}

// gate opens once want requests have arrived.
type gate struct {
	mu   sync.Mutex
	n    int
	want int
	open chan struct{}
}

// arrive counts a request and returns the channel that closes when the
// gate opens.
func (g *gate) arrive() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	if g.n == g.want {
		close(g.open)
	}
	return g.open
}

// Validate checks a knob and fills in its defaults.
func (k *Knob) Validate() error {
	if !slices.Contains(KnobKinds(), k.Kind) {
		return fmt.Errorf("%w: knob kind %q (want one of %v)", ErrInvalidConfig, k.Kind, KnobKinds())
	}
	if err := k.Match.validate(); err != nil {
		return err
	}
	if k.Times < 0 {
		return fmt.Errorf("%w: %s: negative times", ErrInvalidConfig, k.Kind)
	}
	if k.Gather != 0 && (k.Kind != Delay || k.Gather < 2) {
		return fmt.Errorf("%w: %s: gather %d: a delay knob's barrier, of 2 requests or more", ErrInvalidConfig, k.Kind, k.Gather)
	}
	for name, d := range map[string]Duration{"retry_after": k.RetryAfter, "delay": k.Delay, "expires_in": k.ExpiresIn, "for": k.For} {
		if d < 0 {
			return fmt.Errorf("%w: %s: negative %s", ErrInvalidConfig, k.Kind, name)
		}
	}
	switch k.Kind {
	case ErrorBefore, ErrorAfter:
		if k.Status == 0 {
			k.Status = http.StatusInternalServerError
		}
		// Before processing, a permanent 4xx (a request the server will
		// never accept) is as useful a fault as a 5xx; 401/402 are the
		// L402 exchange itself and stay out.
		lo := 500
		if k.Kind == ErrorBefore {
			lo = 400
		}
		if k.Status < lo || k.Status > 599 || k.Status == 401 || k.Status == 402 {
			return fmt.Errorf("%w: %s: status %d: want %dxx-5xx, not 401/402", ErrInvalidConfig, k.Kind, k.Status, lo/100)
		}
	case RetryAfter:
		if k.Status == 0 {
			k.Status = http.StatusServiceUnavailable
		}
		if k.Status != http.StatusTooManyRequests && k.Status != http.StatusServiceUnavailable {
			return fmt.Errorf("%w: %s: status %d: want 429 or 503", ErrInvalidConfig, k.Kind, k.Status)
		}
		if k.RetryAfter == 0 {
			k.RetryAfter = Duration(time.Second)
		}
	case SettlementFailure:
		k.Status = http.StatusBadGateway
		if k.RetryAfter == 0 {
			k.RetryAfter = Duration(2 * time.Second)
		}
		k.Match.Credentialed = true
	case Delay:
		if k.Delay <= 0 {
			return fmt.Errorf("%w: %s: delay must be positive", ErrInvalidConfig, k.Kind)
		}
	case OverpricedInvoice:
		if k.AmountSat < 0 {
			return fmt.Errorf("%w: %s: negative amount_sat", ErrInvalidConfig, k.Kind)
		}
	case RejectPaid:
		if !k.Rotate && k.For == 0 && k.Times == 0 {
			return fmt.Errorf("%w: %s: set for (a settle-lag window), times, or rotate", ErrInvalidConfig, k.Kind)
		}
		k.Match.Credentialed = true
	case HoldInvoice:
		if k.Then == "" {
			k.Then = ThenSettle
		}
		if k.Then != ThenSettle && k.Then != ThenCancel && k.Then != ThenManual {
			return fmt.Errorf("%w: %s: then %q: want settle, cancel or manual", ErrInvalidConfig, k.Kind, k.Then)
		}
	}
	if k.RetryAfter > 0 && k.RetryAfter < Duration(time.Second) {
		return fmt.Errorf("%w: %s: retry_after is sent in whole seconds, want at least 1s", ErrInvalidConfig, k.Kind)
	}
	return nil
}

// knobs is the set of armed knobs.
type knobs struct {
	mu   sync.Mutex
	next int
	list []*Knob
}

func (ks *knobs) arm(k Knob, now time.Time) (Knob, error) {
	if err := k.Validate(); err != nil {
		return Knob{}, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.next++
	k.ID = fmt.Sprintf("k%d", ks.next)
	k.Armed = now
	k.Fired = 0
	if k.Gather > 0 {
		k.gate = &gate{want: k.Gather, open: make(chan struct{})}
	}
	ks.list = append(ks.list, &k)
	return k, nil
}

func (ks *knobs) snapshot() []Knob {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	out := make([]Knob, 0, len(ks.list))
	for _, k := range ks.list {
		out = append(out, *k)
	}
	return out
}

func (ks *knobs) disarm(id string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for i, k := range ks.list {
		if k.ID == id {
			ks.list = slices.Delete(ks.list, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("knob %q: %w", id, ErrNotFound)
}

func (ks *knobs) reset() {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.list = nil
}

// take fires the first armed knob of one of kinds that matches the
// request, counting the firing. A RejectPaid window that has passed does
// not fire.
func (ks *knobs) take(r *reqInfo, now time.Time, kinds ...KnobKind) (Knob, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, k := range ks.list {
		if !slices.Contains(kinds, k.Kind) || !k.Match.matches(r) {
			continue
		}
		if k.Times > 0 && k.Fired >= k.Times {
			continue
		}
		if k.Kind == RejectPaid && k.For > 0 && now.After(k.Armed.Add(time.Duration(k.For))) {
			continue
		}
		k.Fired++
		return *k, true
	}
	return Knob{}, false
}
