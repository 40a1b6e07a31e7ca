package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// LNDPayer pays through lnd's Lightning and Router services.
type LNDPayer struct {
	ln       lnrpc.LightningClient
	router   routerrpc.RouterClient
	feeLimit int64
	timeout  time.Duration
	maxParts uint32
}

// LNDOption configures an LNDPayer.
type LNDOption func(*LNDPayer) error

// WithLNDFeeLimit caps the routing fee of every payment: SendOptions may
// ask for less, never more, and a negative SendOptions.MaxFeeMsat takes
// this cap. Default 10,000 sat.
func WithLNDFeeLimit(msat int64) LNDOption {
	return func(p *LNDPayer) error {
		if msat <= 0 {
			return fmt.Errorf("fee limit must be positive, got %d msat", msat)
		}
		p.feeLimit = msat
		return nil
	}
}

// WithLNDTimeout is how long lnd keeps trying routes when SendOptions
// gives no timeout. Default 60s. It bounds route finding, not HTLCs
// already in flight: those resolve on the network's schedule.
func WithLNDTimeout(d time.Duration) LNDOption {
	return func(p *LNDPayer) error {
		if d < time.Second {
			return fmt.Errorf("payment timeout must be at least 1s, got %s", d)
		}
		p.timeout = d
		return nil
	}
}

// WithLNDMaxParts lets lnd split a payment into up to n parts (MPP).
// Default 1.
func WithLNDMaxParts(n uint32) LNDOption {
	return func(p *LNDPayer) error {
		if n == 0 {
			return errors.New("max parts must be at least 1")
		}
		p.maxParts = n
		return nil
	}
}

// NewLNDPayer builds a Payer on lnd's gRPC clients, e.g. a regtest.Node's
// LN() and Router().
func NewLNDPayer(ln lnrpc.LightningClient, router routerrpc.RouterClient, opts ...LNDOption) (*LNDPayer, error) {
	if ln == nil || router == nil {
		return nil, errors.New("new lnd payer: nil lightning or router client")
	}
	p := &LNDPayer{ln: ln, router: router, feeLimit: 10_000_000, timeout: 60 * time.Second, maxParts: 1}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, fmt.Errorf("new lnd payer: %w", err)
		}
	}
	return p, nil
}

// DecodeInvoice decodes with lnd's DecodePayReq.
func (p *LNDPayer) DecodeInvoice(ctx context.Context, bolt11 string) (Invoice, error) {
	const op = "decode invoice"
	pr, err := p.ln.DecodePayReq(ctx, &lnrpc.PayReqString{PayReq: bolt11})
	if err != nil {
		return Invoice{}, &Error{Op: op, Kind: ClassifyGRPC(err), Err: err}
	}
	hash, err := lntypes.MakeHashFromStr(pr.PaymentHash)
	if err != nil {
		return Invoice{}, errorf(op, Permanent, "payment hash: %w", err)
	}
	amt := pr.NumMsat
	if amt == 0 {
		amt = pr.NumSatoshis * 1000
	}
	return Invoice{
		Hash:        hash,
		AmountMsat:  amt,
		Expiry:      time.Unix(pr.Timestamp, 0).Add(time.Duration(pr.Expiry) * time.Second),
		Destination: pr.Destination,
	}, nil
}

// SendPayment pays with SendPaymentV2 and reads the stream to a final
// state. AlreadyExists is Duplicate; every other error is Ambiguous,
// because once the request may have reached lnd only tracking can tell.
func (p *LNDPayer) SendPayment(ctx context.Context, bolt11 string, opts SendOptions) (PaymentStatus, error) {
	const op = "send payment"
	fee, timeout := opts.MaxFeeMsat, opts.Timeout
	if fee < 0 || fee > p.feeLimit {
		fee = p.feeLimit
	}
	if timeout <= 0 {
		timeout = p.timeout
	}
	secs := int32(timeout / time.Second)
	if secs < 1 {
		secs = 1
	}
	stream, err := p.router.SendPaymentV2(ctx, &routerrpc.SendPaymentRequest{
		PaymentRequest:    bolt11,
		FeeLimitMsat:      fee,
		TimeoutSeconds:    secs,
		MaxParts:          p.maxParts,
		NoInflightUpdates: true,
	})
	if err != nil {
		return PaymentStatus{}, sendErr(op, err)
	}
	// The request is sent with the stream's opening.
	if opts.OnSent != nil {
		opts.OnSent()
	}
	for {
		pay, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("payment stream ended without a final state")
			}
			return PaymentStatus{}, sendErr(op, err)
		}
		st, err := statusOf(pay)
		if err != nil {
			return PaymentStatus{}, &Error{Op: op, Kind: Ambiguous, Err: err}
		}
		if st.State.Final() {
			return st, nil
		}
	}
}

func sendErr(op string, err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return &Error{Op: op, Kind: Duplicate, Err: err}
	}
	return &Error{Op: op, Kind: Ambiguous, Err: err}
}

// TrackPayment reads the first update of TrackPaymentV2: lnd sends the
// current state at once. gRPC NotFound means lnd never saw the hash.
func (p *LNDPayer) TrackPayment(ctx context.Context, hash lntypes.Hash) (PaymentStatus, error) {
	return p.track(ctx, hash, false)
}

// WaitPayment reads TrackPaymentV2 until a final state or ctx ends.
func (p *LNDPayer) WaitPayment(ctx context.Context, hash lntypes.Hash) (PaymentStatus, error) {
	return p.track(ctx, hash, true)
}

func (p *LNDPayer) track(ctx context.Context, hash lntypes.Hash, wait bool) (PaymentStatus, error) {
	const op = "track payment"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := p.router.TrackPaymentV2(ctx, &routerrpc.TrackPaymentRequest{PaymentHash: hash[:]})
	if err != nil {
		return trackErr(op, hash, err)
	}
	for {
		pay, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("track stream ended without a final state")
			}
			return trackErr(op, hash, err)
		}
		st, err := statusOf(pay)
		if err != nil {
			return PaymentStatus{}, &Error{Op: op, Kind: Transient, Err: err}
		}
		if st.State.Final() || !wait {
			return st, nil
		}
	}
}

func trackErr(op string, hash lntypes.Hash, err error) (PaymentStatus, error) {
	if status.Code(err) == codes.NotFound {
		return PaymentStatus{State: PayNotFound, Hash: hash}, nil
	}
	k := ClassifyGRPC(err)
	if k != Transient {
		// Whatever lnd said, the payment's state is still unknown.
		k = Transient
	}
	return PaymentStatus{}, &Error{Op: op, Kind: k, Err: err}
}

// statusOf converts an lnd payment update.
func statusOf(p *lnrpc.Payment) (PaymentStatus, error) {
	hash, err := lntypes.MakeHashFromStr(p.PaymentHash)
	if err != nil {
		return PaymentStatus{}, fmt.Errorf("payment hash %.16q: %w", p.PaymentHash, err)
	}
	st := PaymentStatus{Hash: hash, AmountMsat: p.ValueMsat, FeeMsat: p.FeeMsat}
	switch p.Status {
	case lnrpc.Payment_SUCCEEDED:
		pre, err := lntypes.MakePreimageFromStr(p.PaymentPreimage)
		if err != nil {
			return PaymentStatus{}, fmt.Errorf("payment %s: preimage: %w", short(hash), err)
		}
		if !pre.Matches(hash) {
			return PaymentStatus{}, fmt.Errorf("payment %s: preimage does not match hash", short(hash))
		}
		st.State, st.Preimage = PaySucceeded, pre
	case lnrpc.Payment_FAILED:
		st.State, st.Reason = PayFailed, p.FailureReason.String()
	default:
		// UNKNOWN is deprecated and INITIATED means a record without
		// HTLCs yet; both may still become HTLCs, so both are in flight.
		st.State = PayInFlight
	}
	return st, nil
}
