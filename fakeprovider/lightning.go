package fakeprovider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrInvoiceNotFound is returned when the node does not know an invoice.
var ErrInvoiceNotFound = errors.New("invoice not found")

// InvoiceState is an invoice's state as LND reports it.
type InvoiceState string

// The states of an invoice. A hold invoice is ACCEPTED while the payer's
// HTLC is locked in and the provider has not yet settled or cancelled it.
const (
	InvoiceOpen     InvoiceState = "OPEN"
	InvoiceAccepted InvoiceState = "ACCEPTED"
	InvoiceSettled  InvoiceState = "SETTLED"
	InvoiceCanceled InvoiceState = "CANCELED"
)

// Final reports whether the state can no longer change.
func (s InvoiceState) Final() bool { return s == InvoiceSettled || s == InvoiceCanceled }

// InvoiceRequest asks the node for a new invoice.
type InvoiceRequest struct {
	AmountMsat int64 // 0 makes an amountless invoice
	Memo       string
	Expiry     time.Duration // rounded up to whole seconds, at least one
	// Hold, when non-zero, makes a hold invoice for this payment hash: the
	// node locks the payer's HTLC in (ACCEPTED) and waits for
	// SettleInvoice or CancelInvoice.
	Hold lntypes.Hash
}

// Invoice is an invoice as the node reports it.
type Invoice struct {
	PaymentHash    lntypes.Hash
	PaymentRequest string
	AmountMsat     int64
	State          InvoiceState
	PaidMsat       int64
	Created        time.Time
	Expiry         time.Duration
	Settled        time.Time
}

// Lightning is what the provider needs of its node: four calls, so that
// the simulator can run the provider on a model of Lightning.
type Lightning interface {
	AddInvoice(ctx context.Context, req InvoiceRequest) (*Invoice, error)
	LookupInvoice(ctx context.Context, hash lntypes.Hash) (*Invoice, error)
	SettleInvoice(ctx context.Context, preimage lntypes.Preimage) error
	CancelInvoice(ctx context.Context, hash lntypes.Hash) error
}

// LND is the Lightning implementation on a real LND node.
type LND struct {
	ln  lnrpc.LightningClient
	inv invoicesrpc.InvoicesClient
}

// NewLND returns the provider's view of an LND node. Hold invoices need
// lnd built with the invoicesrpc tag.
func NewLND(ln lnrpc.LightningClient, inv invoicesrpc.InvoicesClient) *LND {
	return &LND{ln: ln, inv: inv}
}

func expirySeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// AddInvoice adds a plain or hold invoice.
func (l *LND) AddInvoice(ctx context.Context, req InvoiceRequest) (*Invoice, error) {
	if req.AmountMsat < 0 {
		return nil, fmt.Errorf("add invoice: negative amount %d msat", req.AmountMsat)
	}
	expiry := expirySeconds(req.Expiry)
	var hash lntypes.Hash
	if req.Hold != (lntypes.Hash{}) {
		_, err := l.inv.AddHoldInvoice(ctx, &invoicesrpc.AddHoldInvoiceRequest{
			Memo: req.Memo, Hash: req.Hold[:], ValueMsat: req.AmountMsat, Expiry: expiry,
		})
		if err != nil {
			return nil, fmt.Errorf("add hold invoice: %w", err)
		}
		hash = req.Hold
	} else {
		resp, err := l.ln.AddInvoice(ctx, &lnrpc.Invoice{
			Memo: req.Memo, ValueMsat: req.AmountMsat, Expiry: expiry,
		})
		if err != nil {
			return nil, fmt.Errorf("add invoice: %w", err)
		}
		h, err := lntypes.MakeHash(resp.RHash)
		if err != nil {
			return nil, fmt.Errorf("add invoice: %w", err)
		}
		hash = h
	}
	return l.LookupInvoice(ctx, hash) // the request and state as the node stored them
}

// LookupInvoice reads an invoice's current state.
func (l *LND) LookupInvoice(ctx context.Context, hash lntypes.Hash) (*Invoice, error) {
	inv, err := l.ln.LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: hash[:]})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("lookup invoice %s: %w", short(hash), ErrInvoiceNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("lookup invoice %s: %w", short(hash), err)
	}
	out := &Invoice{
		PaymentHash:    hash,
		PaymentRequest: inv.PaymentRequest,
		AmountMsat:     inv.ValueMsat,
		PaidMsat:       inv.AmtPaidMsat,
		Created:        time.Unix(inv.CreationDate, 0),
		Expiry:         time.Duration(inv.Expiry) * time.Second,
	}
	switch inv.State {
	case lnrpc.Invoice_OPEN:
		out.State = InvoiceOpen
	case lnrpc.Invoice_ACCEPTED:
		out.State = InvoiceAccepted
	case lnrpc.Invoice_SETTLED:
		out.State = InvoiceSettled
		out.Settled = time.Unix(inv.SettleDate, 0)
	case lnrpc.Invoice_CANCELED:
		out.State = InvoiceCanceled
	default:
		return nil, fmt.Errorf("lookup invoice %s: unknown state %v", short(hash), inv.State)
	}
	return out, nil
}

// SettleInvoice settles an accepted hold invoice.
func (l *LND) SettleInvoice(ctx context.Context, preimage lntypes.Preimage) error {
	if _, err := l.inv.SettleInvoice(ctx, &invoicesrpc.SettleInvoiceMsg{Preimage: preimage[:]}); err != nil {
		return fmt.Errorf("settle invoice %s: %w", short(preimage.Hash()), err)
	}
	return nil
}

// CancelInvoice cancels an open or accepted invoice.
func (l *LND) CancelInvoice(ctx context.Context, hash lntypes.Hash) error {
	if _, err := l.inv.CancelInvoice(ctx, &invoicesrpc.CancelInvoiceMsg{PaymentHash: hash[:]}); err != nil {
		return fmt.Errorf("cancel invoice %s: %w", short(hash), err)
	}
	return nil
}

// short shows a hash prefix, enough to find it in a ledger.
func short(h lntypes.Hash) string { return h.String()[:12] }
