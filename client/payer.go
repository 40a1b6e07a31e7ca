package client

import (
	"context"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// Payer is the client's view of a Lightning node: decode, pay, track.
// NewLNDPayer implements it on lnd; clienttest.Payer is a scriptable fake.
type Payer interface {
	// DecodeInvoice reads a BOLT11 string. It moves no money.
	DecodeInvoice(ctx context.Context, bolt11 string) (Invoice, error)

	// SendPayment dispatches a payment and waits for its final state or
	// for ctx to end. A nil error comes with PaySucceeded or PayFailed.
	// Errors are *Error: Duplicate when the node already has a payment
	// for this hash, Ambiguous for anything after dispatch (the payment
	// may be in flight: track it, never pay again).
	SendPayment(ctx context.Context, bolt11 string, opts SendOptions) (PaymentStatus, error)

	// TrackPayment reports the payment's current state without waiting:
	// PayNotFound when the node never saw the hash.
	TrackPayment(ctx context.Context, hash lntypes.Hash) (PaymentStatus, error)
}

// PaymentWaiter is an optional Payer ability: block until the payment
// reaches a final state or ctx ends. Without it the client polls
// TrackPayment every WithPollInterval.
type PaymentWaiter interface {
	WaitPayment(ctx context.Context, hash lntypes.Hash) (PaymentStatus, error)
}

// Invoice is what the client checks before paying.
type Invoice struct {
	Hash        lntypes.Hash `json:"hash"`
	AmountMsat  int64        `json:"amount_msat"` // 0 for an amountless invoice
	Expiry      time.Time    `json:"expiry"`      // creation time plus expiry
	Destination string       `json:"destination"`
}

// SendOptions bounds one payment.
type SendOptions struct {
	// MaxFeeMsat is the routing fee limit: 0 allows only fee-free routes,
	// a negative value takes the payer's default.
	MaxFeeMsat int64 `json:"max_fee_msat"`
	// Timeout bounds route finding; 0 takes the payer's default.
	Timeout time.Duration `json:"timeout,omitempty"`
	// OnSent, when set, is called once the payment request has gone to
	// the node, before its outcome is read (the CrashPaymentSent point).
	// A payer that cannot tell that moment need not call it.
	OnSent func() `json:"-"`
}

// PayState is where a payment stands at the node.
type PayState uint8

const (
	// PayNotFound: the node has no payment for the hash: it was never
	// dispatched, and paying is safe.
	PayNotFound PayState = iota
	// PayInFlight: HTLCs may be outstanding; wait, never pay again.
	PayInFlight
	// PaySucceeded: settled; the preimage is known.
	PaySucceeded
	// PayFailed: definitively failed; no money moved.
	PayFailed
)

func (s PayState) String() string {
	switch s {
	case PayNotFound:
		return "not-found"
	case PayInFlight:
		return "in-flight"
	case PaySucceeded:
		return "succeeded"
	case PayFailed:
		return "failed"
	}
	return fmt.Sprintf("paystate(%d)", uint8(s))
}

// Final reports whether the state can no longer change by itself.
func (s PayState) Final() bool { return s == PaySucceeded || s == PayFailed }

// PaymentStatus is a payment's state at the node.
type PaymentStatus struct {
	State      PayState
	Hash       lntypes.Hash
	Preimage   lntypes.Preimage // set when PaySucceeded
	AmountMsat int64
	FeeMsat    int64
	Reason     string // the node's failure reason when PayFailed
}
