package fakeprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// The ledger is the provider's ground truth, the record that checkers hold
// a client's claims against. It keeps every request, challenge, invoice,
// side effect and delivery, in order. It never holds a macaroon, preimage
// or root key: tokens are named by their id, payments by their hash.

// CredentialRecord is the credential a request presented.
type CredentialRecord struct {
	Scheme      string `json:"scheme"`
	TokenID     string `json:"token_id,omitempty"`
	PaymentHash string `json:"payment_hash,omitempty"`
	Valid       bool   `json:"valid"`
	Reason      string `json:"reason,omitempty"` // why it was refused
}

// ChallengeRecord is a 402 challenge the provider issued.
type ChallengeRecord struct {
	Service string `json:"service"`
	TokenID string `json:"token_id"`
	// PaymentHash is the hash the macaroon commits to; InvoiceHash is the
	// invoice's. They differ only under the hash-mismatch knob.
	PaymentHash string `json:"payment_hash"`
	InvoiceHash string `json:"invoice_hash"`
	Invoice     string `json:"invoice"`
	AmountMsat  int64  `json:"amount_msat"`
	Hold        bool   `json:"hold,omitempty"`
	Knob        string `json:"knob,omitempty"` // the challenge knob applied
}

// Request is one HTTP or gRPC request and what the provider did with it.
type Request struct {
	Seq        int64             `json:"seq"`
	Time       time.Time         `json:"time"`
	Transport  string            `json:"transport"` // "http" or "grpc"
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Service    string            `json:"service,omitempty"`
	Key        string            `json:"key,omitempty"`         // Idempotency-Key: the purchase
	BodySHA256 string            `json:"body_sha256,omitempty"` // the request body's digest, when it had one
	Credential *CredentialRecord `json:"credential,omitempty"`
	Status     int               `json:"status"`
	Challenge  *ChallengeRecord  `json:"challenge,omitempty"`
	SideEffect int64             `json:"side_effect,omitempty"` // seq of the side effect it executed
	Replayed   bool              `json:"replayed,omitempty"`    // a stored idempotent response
	Knobs      []string          `json:"knobs,omitempty"`       // "id:kind" of the knobs that fired
	RetryAfter Duration          `json:"retry_after,omitempty"` // the Retry-After the answer carried
	Error      string            `json:"error,omitempty"`
}

// InvoiceRecord is an invoice the provider minted, with the state last
// read from its node.
type InvoiceRecord struct {
	PaymentHash    string       `json:"payment_hash"`
	PaymentRequest string       `json:"payment_request"`
	AmountMsat     int64        `json:"amount_msat"`
	Hold           bool         `json:"hold,omitempty"`
	State          InvoiceState `json:"state"`
	PaidMsat       int64        `json:"paid_msat"`
	Created        time.Time    `json:"created"`
	Expiry         Duration     `json:"expiry"`
	Settled        *time.Time   `json:"settled,omitempty"`
	Service        string       `json:"service"`
	RequestSeq     int64        `json:"request_seq"`
	Error          string       `json:"error,omitempty"` // the last failure to read it
}

// SideEffect is a POST operation the provider executed.
type SideEffect struct {
	Seq         int64     `json:"seq"`
	RequestSeq  int64     `json:"request_seq"`
	Time        time.Time `json:"time"`
	Service     string    `json:"service"`
	Path        string    `json:"path"`
	Key         string    `json:"key,omitempty"`
	BodySHA256  string    `json:"body_sha256"`
	TokenID     string    `json:"token_id"`
	PaymentHash string    `json:"payment_hash"`
}

// Delivery is a paid answer the provider wrote in full.
type Delivery struct {
	Seq         int64     `json:"seq"`
	RequestSeq  int64     `json:"request_seq"`
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Service     string    `json:"service"`
	Key         string    `json:"key,omitempty"`
	TokenID     string    `json:"token_id"`
	PaymentHash string    `json:"payment_hash"`
	Status      int       `json:"status"`
	BodySHA256  string    `json:"body_sha256"`
	Replayed    bool      `json:"replayed,omitempty"`
}

// Event is something that happened to the provider itself (a restart).
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// Snapshot is the exported ledger.
type Snapshot struct {
	Exported    time.Time       `json:"exported"`
	Requests    []Request       `json:"requests"`
	Invoices    []InvoiceRecord `json:"invoices"`
	SideEffects []SideEffect    `json:"side_effects"`
	Deliveries  []Delivery      `json:"deliveries"`
	Knobs       []Knob          `json:"knobs"`
	Events      []Event         `json:"events"`
}

// ledger is safe for concurrent use.
type ledger struct {
	mu          sync.Mutex
	seq         int64
	requests    []Request
	invoices    []*InvoiceRecord
	byHash      map[string]*InvoiceRecord
	sideEffects []SideEffect
	deliveries  []Delivery
	events      []Event
	running     map[int64]bool // requests begun and not yet recorded
	notify      func(Note)     // WithObserver; called outside the lock
}

func newLedger(notify func(Note)) *ledger {
	if notify == nil {
		notify = func(Note) {}
	}
	return &ledger{byHash: map[string]*InvoiceRecord{}, running: map[int64]bool{}, notify: notify}
}

// NoteKind says what a Note is about.
type NoteKind string

const (
	// NoteChallenge: a 402 challenge with a new invoice was issued.
	NoteChallenge NoteKind = "challenge"
	// NoteSideEffect: a POST's side effect was executed (before its
	// answer is written).
	NoteSideEffect NoteKind = "side-effect"
	// NoteDelivery: a paid answer was written in full.
	NoteDelivery NoteKind = "delivery"
	// NoteRequest: a request was answered and recorded.
	NoteRequest NoteKind = "request"
)

// Note tells an observer (WithObserver) what just entered the ledger, the
// moment it did: the harness triggers faults on these.
type Note struct {
	// Seq numbers the provider's notes from 1, in the order they were
	// made (see Provider.Notes).
	Seq         int64    `json:"seq,omitempty"`
	Kind        NoteKind `json:"kind"`
	Path        string   `json:"path,omitempty"`
	Key         string   `json:"key,omitempty"`
	PaymentHash string   `json:"payment_hash,omitempty"`
	Hold        bool     `json:"hold,omitempty"`
	Status      int      `json:"status,omitempty"`
}

// begin numbers a new request and marks it running until addRequest.
func (l *ledger) begin() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.running[l.seq] = true
	return l.seq
}

func (l *ledger) addRequest(r Request) {
	l.mu.Lock()
	delete(l.running, r.Seq)
	l.requests = append(l.requests, r)
	l.mu.Unlock()
	l.notify(Note{Kind: NoteRequest, Path: r.Path, Key: r.Key, Status: r.Status})
}

// settled reports whether every request begun up to seq mark is recorded.
// A client can read its answer a moment before the provider has recorded
// the delivery; an export waits for that moment to pass.
func (l *ledger) settled(mark int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.running {
		if s <= mark {
			return fmt.Errorf("request %d still running", s)
		}
	}
	return nil
}

func (l *ledger) mark() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

func (l *ledger) addInvoice(r InvoiceRecord) {
	l.mu.Lock()
	if _, ok := l.byHash[r.PaymentHash]; ok {
		l.mu.Unlock()
		return // a reused invoice is recorded once
	}
	rec := r
	l.invoices = append(l.invoices, &rec)
	l.byHash[r.PaymentHash] = &rec
	l.mu.Unlock()
	l.notify(Note{Kind: NoteChallenge, PaymentHash: r.PaymentHash, Hold: r.Hold})
}

func (l *ledger) addSideEffect(s SideEffect) int64 {
	l.mu.Lock()
	l.seq++
	s.Seq = l.seq
	l.sideEffects = append(l.sideEffects, s)
	l.mu.Unlock()
	l.notify(Note{Kind: NoteSideEffect, Path: s.Path, Key: s.Key, PaymentHash: s.PaymentHash})
	return s.Seq
}

func (l *ledger) addDelivery(d Delivery) {
	l.mu.Lock()
	l.seq++
	d.Seq = l.seq
	l.deliveries = append(l.deliveries, d)
	l.mu.Unlock()
	l.notify(Note{Kind: NoteDelivery, Path: d.Path, Key: d.Key, PaymentHash: d.PaymentHash, Status: d.Status})
}

func (l *ledger) addEvent(kind, detail string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, Event{Time: now, Kind: kind, Detail: detail})
}

func (l *ledger) setInvoice(hash string, inv *Invoice, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.byHash[hash]
	if !ok {
		return
	}
	if err != nil {
		rec.Error = err.Error()
		return
	}
	rec.Error = ""
	rec.State = inv.State
	rec.PaidMsat = inv.PaidMsat
	if !inv.Settled.IsZero() {
		t := inv.Settled
		rec.Settled = &t
	}
}

// paidInvoice returns the newest invoice known settled, for the
// reused-invoice knob.
func (l *ledger) paidInvoice() (InvoiceRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.invoices) - 1; i >= 0; i-- {
		if l.invoices[i].State == InvoiceSettled {
			return *l.invoices[i], true
		}
	}
	return InvoiceRecord{}, false
}

func (l *ledger) invoice(hash string) (InvoiceRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, ok := l.byHash[hash]
	if !ok {
		return InvoiceRecord{}, false
	}
	return *rec, true
}

func (l *ledger) openInvoices() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.invoices {
		if !r.State.Final() {
			out = append(out, r.PaymentHash)
		}
	}
	return out
}

// refresh reads the state of every invoice not yet final from the node.
// Failures are kept on the record and joined into the error; what could be
// read is updated.
func (l *ledger) refresh(ctx context.Context, ln Lightning) error {
	var errs []error
	for _, h := range l.openInvoices() {
		hash, err := lntypes.MakeHashFromStr(h)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inv, err := ln.LookupInvoice(ctx, hash)
		l.setInvoice(h, inv, err)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (l *ledger) snapshot(now time.Time, ks []Knob) Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Snapshot{
		Exported:    now,
		Requests:    append([]Request{}, l.requests...),
		SideEffects: append([]SideEffect{}, l.sideEffects...),
		Deliveries:  append([]Delivery{}, l.deliveries...),
		Invoices:    make([]InvoiceRecord, 0, len(l.invoices)),
		Knobs:       ks,
		Events:      append([]Event{}, l.events...),
	}
	for _, r := range l.invoices {
		s.Invoices = append(s.Invoices, *r)
	}
	return s
}

// MarshalIndent is the snapshot as indented JSON, for files.
func (s Snapshot) MarshalIndent() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

// forget drops the records of the purchases asking for paths: requests,
// side effects, deliveries and their invoices. It keeps what other
// purchases may still rely on: a refused credential is a fact about its
// token, and the newest settled invoice is what the reused-invoice knob
// serves. It returns the hashes of the dropped invoices and challenges
// and the idempotency keys of the dropped requests.
func (l *ledger) forget(paths map[string]bool) (hashes, keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dropped := map[int64]bool{}
	kept := l.requests[:0]
	for _, r := range l.requests {
		refused := r.Credential != nil && (!r.Credential.Valid || r.Status == 401 || r.Status == 402)
		if !paths[r.Path] || refused {
			kept = append(kept, r)
			continue
		}
		dropped[r.Seq] = true
		if r.Key != "" {
			keys = append(keys, r.Key)
		}
		if c := r.Challenge; c != nil {
			hashes = append(hashes, c.InvoiceHash)
			if c.PaymentHash != c.InvoiceHash {
				hashes = append(hashes, c.PaymentHash)
			}
		}
	}
	clear(l.requests[len(kept):])
	l.requests = kept
	l.sideEffects = slices.DeleteFunc(l.sideEffects, func(s SideEffect) bool { return paths[s.Path] })
	l.deliveries = slices.DeleteFunc(l.deliveries, func(d Delivery) bool { return paths[d.Path] })
	newest := -1
	for i, r := range l.invoices {
		if r.State == InvoiceSettled {
			newest = i
		}
	}
	keptInv := make([]*InvoiceRecord, 0, len(l.invoices))
	for i, r := range l.invoices {
		if dropped[r.RequestSeq] && i != newest {
			delete(l.byHash, r.PaymentHash)
			continue
		}
		keptInv = append(keptInv, r)
	}
	l.invoices = keptInv
	return hashes, keys
}
