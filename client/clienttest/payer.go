package clienttest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/lightningnetwork/lnd/lntypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Behavior scripts what the fake node does with one SendPayment call.
type Behavior struct {
	// Fail ends the payment FAILED with Reason instead of succeeding.
	Fail   bool   `json:"fail,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Hang keeps the payment in flight until Settle or FailPayment, or
	// until the call's context ends (the payment stays in flight).
	Hang bool `json:"hang,omitempty"`
	// ErrAfterDispatch registers the payment (and settles or fails it as
	// scripted unless Hang) but returns this error: the caller cannot
	// tell what happened.
	ErrAfterDispatch error `json:"-"`
	// ErrBeforeDispatch returns this error without registering anything:
	// tracking then says not found.
	ErrBeforeDispatch error `json:"-"`
}

// Call is one SendPayment call as the fake node saw it.
type Call struct {
	Seq    int
	Bolt11 string
	Hash   lntypes.Hash
	// Prior is the hash's state before the call.
	Prior client.PayState
	// InFlight and Succeeded are the other hashes in those states when
	// the call arrived.
	InFlight  []lntypes.Hash
	Succeeded []lntypes.Hash
	// Registered: the call created a payment (not a duplicate, not an
	// error before dispatch).
	Registered bool
	// Duplicate: refused with AlreadyExists.
	Duplicate bool
}

type fakeInvoice struct {
	inv      client.Invoice
	preimage lntypes.Preimage
}

type payment struct {
	state  client.PayState
	amount int64
	pre    lntypes.Preimage
	reason string
}

// Payer is a fake Lightning node implementing client.Payer and
// client.PaymentWaiter. Invoices come from a table (AddInvoice); payments
// follow scripted Behaviors, by default succeeding at once. Like lnd it
// refuses a second payment for a hash in flight or settled with
// AlreadyExists, and allows one after a failure.
type Payer struct {
	mu       sync.Mutex
	invoices map[string]fakeInvoice
	payments map[lntypes.Hash]*payment
	script   map[lntypes.Hash][]Behavior
	def      Behavior
	calls    []Call
	changed  chan struct{}
	n        uint64

	onSend func(Call)
	onWait func(lntypes.Hash)
}

// NewPayer returns an empty fake node.
func NewPayer() *Payer {
	return &Payer{
		invoices: map[string]fakeInvoice{},
		payments: map[lntypes.Hash]*payment{},
		script:   map[lntypes.Hash][]Behavior{},
		changed:  make(chan struct{}),
	}
}

// AddInvoice makes a fake invoice for amountMsat that expires at expiry,
// with a fresh preimage, and returns its BOLT11 stand-in.
func (p *Payer) AddInvoice(amountMsat int64, expiry time.Time) (string, lntypes.Hash, lntypes.Preimage) {
	p.mu.Lock()
	p.n++
	n := p.n
	p.mu.Unlock()
	var seed [8]byte
	binary.BigEndian.PutUint64(seed[:], n)
	pre := lntypes.Preimage(sha256.Sum256(append([]byte("clienttest preimage "), seed[:]...)))
	hash := pre.Hash()
	bolt11 := fmt.Sprintf("lnfake%d%s", n, hash.String())
	p.AddInvoiceFor(bolt11, client.Invoice{Hash: hash, AmountMsat: amountMsat, Expiry: expiry, Destination: "fake"}, pre)
	return bolt11, hash, pre
}

// AddInvoiceFor puts an invoice in the table as given: its hash need not
// match the preimage, to test what the client refuses.
func (p *Payer) AddInvoiceFor(bolt11 string, inv client.Invoice, pre lntypes.Preimage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.invoices[bolt11] = fakeInvoice{inv: inv, preimage: pre}
}

// Script queues behaviors for the next SendPayment calls for hash.
func (p *Payer) Script(hash lntypes.Hash, bs ...Behavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.script[hash] = append(p.script[hash], bs...)
}

// SetDefault sets the behavior for calls with nothing scripted.
func (p *Payer) SetDefault(b Behavior) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.def = b
}

// OnSend calls f (outside the fake's lock) after each registered payment,
// before SendPayment waits or returns.
func (p *Payer) OnSend(f func(Call)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onSend = f
}

// OnWait calls f when WaitPayment starts waiting for an in-flight hash.
func (p *Payer) OnWait(f func(lntypes.Hash)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onWait = f
}

// Settle settles an in-flight payment.
func (p *Payer) Settle(hash lntypes.Hash) error {
	return p.finish(hash, false, "")
}

// FailPayment fails an in-flight payment with reason.
func (p *Payer) FailPayment(hash lntypes.Hash, reason string) error {
	return p.finish(hash, true, reason)
}

// Preregister records a payment for hash as if someone had already sent
// it, in the given state: the next SendPayment for it is a duplicate.
func (p *Payer) Preregister(hash lntypes.Hash, st client.PayState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay := &payment{state: st}
	for _, inv := range p.invoices {
		if inv.inv.Hash == hash {
			pay.amount, pay.pre = inv.inv.AmountMsat, inv.preimage
		}
	}
	p.payments[hash] = pay
	p.broadcast()
}

func (p *Payer) finish(hash lntypes.Hash, fail bool, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pay := p.payments[hash]
	if pay == nil || pay.state != client.PayInFlight {
		return fmt.Errorf("payment %s is not in flight", hash)
	}
	if fail {
		pay.state, pay.reason = client.PayFailed, reason
	} else {
		pay.state = client.PaySucceeded
	}
	p.broadcast()
	return nil
}

// broadcast wakes waiters; p.mu is held.
func (p *Payer) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Calls returns every SendPayment call so far.
func (p *Payer) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// State is the node's state for hash.
func (p *Payer) State(hash lntypes.Hash) client.PayState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pay := p.payments[hash]; pay != nil {
		return pay.state
	}
	return client.PayNotFound
}

// Succeeded lists the hashes whose payments settled.
func (p *Payer) Succeeded() []lntypes.Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []lntypes.Hash
	for h, pay := range p.payments {
		if pay.state == client.PaySucceeded {
			out = append(out, h)
		}
	}
	return out
}

// DecodeInvoice looks the invoice up in the table.
func (p *Payer) DecodeInvoice(ctx context.Context, bolt11 string) (client.Invoice, error) {
	if err := ctx.Err(); err != nil {
		return client.Invoice{}, &client.Error{Op: "decode invoice", Kind: client.Transient, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	inv, ok := p.invoices[bolt11]
	if !ok {
		return client.Invoice{}, &client.Error{Op: "decode invoice", Kind: client.Permanent, Err: errors.New("unknown invoice")}
	}
	return inv.inv, nil
}

// SendPayment follows the script for the invoice's hash.
func (p *Payer) SendPayment(ctx context.Context, bolt11 string, opts client.SendOptions) (client.PaymentStatus, error) {
	const op = "send payment"
	p.mu.Lock()
	inv, ok := p.invoices[bolt11]
	if !ok {
		p.mu.Unlock()
		return client.PaymentStatus{}, &client.Error{Op: op, Kind: client.Ambiguous, Err: errors.New("unknown invoice")}
	}
	hash := inv.inv.Hash
	call := Call{Seq: len(p.calls), Bolt11: bolt11, Hash: hash}
	for h, pay := range p.payments {
		switch {
		case h == hash:
			call.Prior = pay.state
		case pay.state == client.PayInFlight:
			call.InFlight = append(call.InFlight, h)
		case pay.state == client.PaySucceeded:
			call.Succeeded = append(call.Succeeded, h)
		}
	}
	if call.Prior == client.PayInFlight || call.Prior == client.PaySucceeded {
		call.Duplicate = true
		p.calls = append(p.calls, call)
		p.mu.Unlock()
		return client.PaymentStatus{}, &client.Error{Op: op, Kind: client.Duplicate,
			Err: status.Error(codes.AlreadyExists, "payment is in transition or already succeeded")}
	}
	b := p.def
	if q := p.script[hash]; len(q) > 0 {
		b, p.script[hash] = q[0], q[1:]
	}
	if b.ErrBeforeDispatch != nil {
		p.calls = append(p.calls, call)
		p.mu.Unlock()
		return client.PaymentStatus{}, &client.Error{Op: op, Kind: client.Ambiguous, Err: b.ErrBeforeDispatch}
	}
	call.Registered = true
	p.calls = append(p.calls, call)
	pay := &payment{state: client.PayInFlight, amount: inv.inv.AmountMsat, pre: inv.preimage}
	p.payments[hash] = pay
	if !b.Hang {
		if b.Fail {
			pay.state, pay.reason = client.PayFailed, b.Reason
		} else {
			pay.state = client.PaySucceeded
		}
	}
	p.broadcast()
	onSend := p.onSend
	p.mu.Unlock()

	if onSend != nil {
		onSend(call)
	}
	if opts.OnSent != nil {
		opts.OnSent() // the payment is registered, its outcome unread
	}
	if b.ErrAfterDispatch != nil {
		return client.PaymentStatus{}, &client.Error{Op: op, Kind: client.Ambiguous, Err: b.ErrAfterDispatch}
	}
	st, err := p.waitFinal(ctx, hash)
	if err != nil {
		return client.PaymentStatus{}, &client.Error{Op: op, Kind: client.Ambiguous, Err: err}
	}
	return st, nil
}

// TrackPayment reports the current state.
func (p *Payer) TrackPayment(ctx context.Context, hash lntypes.Hash) (client.PaymentStatus, error) {
	if err := ctx.Err(); err != nil {
		return client.PaymentStatus{}, &client.Error{Op: "track payment", Kind: client.Transient, Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statusLocked(hash), nil
}

// WaitPayment waits for a final state or for ctx to end.
func (p *Payer) WaitPayment(ctx context.Context, hash lntypes.Hash) (client.PaymentStatus, error) {
	p.mu.Lock()
	onWait := p.onWait
	inFlight := p.statusLocked(hash).State == client.PayInFlight
	p.mu.Unlock()
	if inFlight && onWait != nil {
		onWait(hash)
	}
	st, err := p.waitFinal(ctx, hash)
	if err != nil {
		return client.PaymentStatus{}, &client.Error{Op: "wait payment", Kind: client.Transient, Err: err}
	}
	return st, nil
}

func (p *Payer) waitFinal(ctx context.Context, hash lntypes.Hash) (client.PaymentStatus, error) {
	for {
		p.mu.Lock()
		st := p.statusLocked(hash)
		ch := p.changed
		p.mu.Unlock()
		if st.State != client.PayInFlight {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return client.PaymentStatus{}, ctx.Err()
		}
	}
}

func (p *Payer) statusLocked(hash lntypes.Hash) client.PaymentStatus {
	pay := p.payments[hash]
	if pay == nil {
		return client.PaymentStatus{State: client.PayNotFound, Hash: hash}
	}
	st := client.PaymentStatus{State: pay.state, Hash: hash, AmountMsat: pay.amount, Reason: pay.reason}
	if pay.state == client.PaySucceeded {
		st.Preimage = pay.pre
	}
	return st
}
