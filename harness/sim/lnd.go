package sim

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/lightningnetwork/lnd/lnwire"
	"github.com/lightningnetwork/lnd/zpay32"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
)

var regtestParams = &chaincfg.RegressionNetParams

// rpcDelay is one RPC's time on a healthy link: time always moves
// between two things a process does, as it does on a real machine.
const rpcDelay = time.Millisecond

// errUnavailable is what an RPC to a node that cannot be reached gets.
func errUnavailable(what string) error {
	return status.Error(codes.Unavailable, what)
}

// payerRPC is the client's gRPC connection to the payer (alice) through
// the client-lnd link. Each call checks the link and the node; a stream
// lives as long as the connection's epoch (a link cut or a restart ends
// it).
type payerRPC struct{ w *World }

// call is the request half of an RPC: it fails at once when the payer
// cannot be reached and waits out the link's latency. It runs on the
// process goroutine.
func (r payerRPC) call(ctx context.Context) error {
	w := r.w
	l := w.links[harness.LinkPayer]
	switch {
	case !l.up:
		return errUnavailable("connection refused")
	case !w.nodes["alice"].up:
		return errUnavailable("connection refused: alice is down")
	}
	return r.answer(ctx, w.payerEpoch)
}

// answer is the response half: latency, a blackhole, a reset, or a link
// cut while it travelled.
func (r payerRPC) answer(ctx context.Context, epoch int) error {
	w := r.w
	l := w.links[harness.LinkPayer]
	if l.blackhole {
		return w.wait(ctx, func() bool { return false })
	}
	if l.reset {
		return errUnavailable("connection reset by peer")
	}
	if err := w.sleep(ctx, rpcDelay+l.delay); err != nil {
		return err
	}
	if w.payerEpoch != epoch {
		return errUnavailable("transport is closing")
	}
	return nil
}

// lightningClient is lnrpc.LightningClient; only DecodePayReq is modelled.
type lightningClient struct {
	lnrpc.LightningClient
	rpc payerRPC
}

func (c lightningClient) DecodePayReq(ctx context.Context, in *lnrpc.PayReqString, _ ...grpc.CallOption) (*lnrpc.PayReq, error) {
	if err := c.rpc.call(ctx); err != nil {
		return nil, err
	}
	inv, err := c.rpc.w.decode(in.GetPayReq())
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	pr := &lnrpc.PayReq{
		Destination: hex.EncodeToString(inv.Destination.SerializeCompressed()),
		Timestamp:   inv.Timestamp.Unix(),
		Expiry:      int64(inv.Expiry() / time.Second),
		CltvExpiry:  int64(inv.MinFinalCLTVExpiry()),
	}
	if inv.PaymentHash != nil {
		pr.PaymentHash = hex.EncodeToString(inv.PaymentHash[:])
	}
	if inv.MilliSat != nil {
		pr.NumMsat = int64(*inv.MilliSat)
		pr.NumSatoshis = int64(inv.MilliSat.ToSatoshis())
	}
	if inv.Description != nil {
		pr.Description = *inv.Description
	}
	return pr, nil
}

// routerClient is routerrpc.RouterClient; SendPaymentV2 and
// TrackPaymentV2 are modelled.
type routerClient struct {
	routerrpc.RouterClient
	rpc payerRPC
}

func (c routerClient) SendPaymentV2(ctx context.Context, in *routerrpc.SendPaymentRequest, _ ...grpc.CallOption) (routerrpc.Router_SendPaymentV2Client, error) {
	w := c.rpc.w
	if err := c.rpc.call(ctx); err != nil {
		return nil, err
	}
	epoch := w.payerEpoch
	inv, err := w.decode(in.GetPaymentRequest())
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	hash := lntypes.Hash(*inv.PaymentHash)
	if p := w.ln.payments[hash]; p != nil {
		switch p.status {
		case lnrpc.Payment_SUCCEEDED:
			return nil, status.Error(codes.AlreadyExists, "invoice is already paid")
		case lnrpc.Payment_IN_FLIGHT, lnrpc.Payment_INITIATED:
			return nil, status.Error(codes.AlreadyExists, "payment is in transition")
		}
	}
	if !w.clock.now.Before(inv.Timestamp.Add(inv.Expiry())) {
		return nil, status.Error(codes.Unknown, "invoice expired")
	}
	amt := in.GetAmtMsat()
	if amt == 0 {
		amt = in.GetAmt() * 1000
	}
	if inv.MilliSat != nil && *inv.MilliSat > 0 {
		amt = int64(*inv.MilliSat)
	}
	if amt <= 0 {
		return nil, status.Error(codes.Unknown, "amount must be specified when paying a zero amount invoice")
	}
	p := &payment{hash: hash, bolt11: in.GetPaymentRequest(), amount: amt, status: lnrpc.Payment_IN_FLIGHT, created: w.clock.now}
	if old := w.ln.payments[hash]; old == nil {
		w.ln.porder = append(w.ln.porder, hash)
	} else {
		p.htlcs = old.htlcs // LND keeps the failed attempts of a retried hash
	}
	w.ln.payments[hash] = p
	w.ln.start(p, true)
	return &paymentStream{w: w, ctx: ctx, epoch: epoch, hash: hash, finalOnly: in.GetNoInflightUpdates(), gen: -1}, nil
}

func (c routerClient) TrackPaymentV2(ctx context.Context, in *routerrpc.TrackPaymentRequest, _ ...grpc.CallOption) (routerrpc.Router_TrackPaymentV2Client, error) {
	if err := c.rpc.call(ctx); err != nil {
		return nil, err
	}
	hash, err := lntypes.MakeHash(in.GetPaymentHash())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &paymentStream{w: c.rpc.w, ctx: ctx, epoch: c.rpc.w.payerEpoch, hash: hash, gen: -1}, nil
}

// paymentStream is a TrackPaymentV2 or SendPaymentV2 stream: the current
// state first (unless finalOnly), then every change, ending after a final
// state.
type paymentStream struct {
	grpc.ClientStream
	w         *World
	ctx       context.Context
	epoch     int
	hash      lntypes.Hash
	finalOnly bool
	gen       int
	done      bool
}

func (s *paymentStream) Recv() (*lnrpc.Payment, error) {
	w := s.w
	if s.done {
		return nil, io.EOF
	}
	var p *payment
	ready := func() bool {
		if w.payerEpoch != s.epoch {
			return true
		}
		p = w.ln.payments[s.hash]
		if p == nil {
			return true
		}
		if s.finalOnly {
			return p.final()
		}
		return p.gen != s.gen
	}
	if err := w.wait(s.ctx, ready); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	if w.payerEpoch != s.epoch {
		return nil, errUnavailable("transport is closing")
	}
	if p == nil {
		return nil, status.Error(codes.NotFound, "payment isn't initiated")
	}
	s.gen = p.gen
	out := w.ln.rpcPayment(p)
	if p.final() {
		s.done = true
	}
	if err := (payerRPC{w}).answer(s.ctx, s.epoch); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *paymentStream) Header() (metadata.MD, error) { return nil, nil }
func (s *paymentStream) Trailer() metadata.MD         { return nil }
func (s *paymentStream) CloseSend() error             { return nil }
func (s *paymentStream) Context() context.Context     { return s.ctx }

// rpcPayment is a payment as lnrpc reports it.
func (l *lightning) rpcPayment(p *payment) *lnrpc.Payment {
	out := &lnrpc.Payment{
		PaymentHash: p.hash.String(), ValueMsat: p.amount, Value: p.amount / 1000, Status: p.status,
		FailureReason: p.reason, CreationTimeNs: p.created.UnixNano(), PaymentRequest: p.bolt11,
	}
	if p.status == lnrpc.Payment_SUCCEEDED {
		out.PaymentPreimage = p.preimage.String()
	}
	for _, h := range p.htlcs {
		a := &lnrpc.HTLCAttempt{Status: h.status, AttemptTimeNs: h.sent.UnixNano()}
		if !h.resolved.IsZero() {
			a.ResolveTimeNs = h.resolved.UnixNano()
		}
		if h.status == lnrpc.HTLCAttempt_FAILED {
			a.Failure = &lnrpc.Failure{Code: h.failure}
		}
		out.Htlcs = append(out.Htlcs, a)
	}
	return out
}

// payee is the provider's fakeprovider.Lightning on the payee (bob). The
// provider calls it on the running process's goroutine, inside its HTTP
// handler, or from the driver (a fault resolving held invoices).
type payee struct{ w *World }

var errPayeeDown = errors.New("payee node is down: connection refused")

func (p payee) up() error {
	if !p.w.nodes["bob"].up {
		return errPayeeDown
	}
	return nil
}

func (p payee) AddInvoice(_ context.Context, req fakeprovider.InvoiceRequest) (*fakeprovider.Invoice, error) {
	if err := p.up(); err != nil {
		return nil, fmt.Errorf("add invoice: %w", err)
	}
	w := p.w
	expiry := time.Duration((req.Expiry+time.Second-1)/time.Second) * time.Second
	if expiry < time.Second {
		expiry = time.Second
	}
	inv := &invoice{
		amount: req.AmountMsat, memo: req.Memo, created: w.clock.now.Truncate(time.Second),
		expiry: expiry, state: fakeprovider.InvoiceOpen,
	}
	if req.Hold != (lntypes.Hash{}) {
		inv.hash, inv.hold = req.Hold, true
	} else {
		for i := 0; i < len(inv.preimage); i += 8 {
			binary.LittleEndian.PutUint64(inv.preimage[i:], w.rnd.Uint64())
		}
		inv.hash = inv.preimage.Hash()
	}
	if _, dup := w.ln.invoices[inv.hash]; dup {
		return nil, fmt.Errorf("add invoice: invoice with payment hash already exists")
	}
	bolt11, err := w.encode(inv)
	if err != nil {
		return nil, fmt.Errorf("add invoice: %w", err)
	}
	inv.bolt11 = bolt11
	w.ln.invoices[inv.hash] = inv
	w.ln.order = append(w.ln.order, inv.hash)
	w.clock.after(inv.created.Add(expiry).Sub(w.clock.now), w.ln.expireInvoices)
	return p.view(inv), nil
}

func (p payee) view(inv *invoice) *fakeprovider.Invoice {
	return &fakeprovider.Invoice{
		PaymentHash: inv.hash, PaymentRequest: inv.bolt11, AmountMsat: inv.amount, State: inv.state,
		PaidMsat: inv.paid, Created: inv.created, Expiry: inv.expiry, Settled: inv.settled,
	}
}

func (p payee) LookupInvoice(_ context.Context, hash lntypes.Hash) (*fakeprovider.Invoice, error) {
	if err := p.up(); err != nil {
		return nil, fmt.Errorf("lookup invoice: %w", err)
	}
	inv := p.w.ln.invoices[hash]
	if inv == nil {
		return nil, fmt.Errorf("lookup invoice: %w", fakeprovider.ErrInvoiceNotFound)
	}
	return p.view(inv), nil
}

func (p payee) SettleInvoice(_ context.Context, pre lntypes.Preimage) error {
	if err := p.up(); err != nil {
		return fmt.Errorf("settle invoice: %w", err)
	}
	l := p.w.ln
	inv := l.invoices[pre.Hash()]
	if inv == nil || inv.state != fakeprovider.InvoiceAccepted || inv.htlc == nil {
		return fmt.Errorf("settle invoice: invoice is not accepted")
	}
	h := inv.htlc
	inv.state, inv.preimage, inv.settled, inv.htlc = fakeprovider.InvoiceSettled, pre, p.w.clock.now, nil
	l.back(h, true, 0)
	return nil
}

func (p payee) CancelInvoice(_ context.Context, hash lntypes.Hash) error {
	if err := p.up(); err != nil {
		return fmt.Errorf("cancel invoice: %w", err)
	}
	l := p.w.ln
	inv := l.invoices[hash]
	switch {
	case inv == nil:
		return fmt.Errorf("cancel invoice: %w", fakeprovider.ErrInvoiceNotFound)
	case inv.state == fakeprovider.InvoiceSettled:
		return fmt.Errorf("cancel invoice: invoice already settled")
	}
	h := inv.htlc
	inv.state, inv.htlc, inv.paid = fakeprovider.InvoiceCanceled, nil, 0
	if h != nil {
		l.back(h, false, lnrpc.Failure_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS)
	}
	return nil
}

// decode reads a BOLT11 string with zpay32, checking its signature, once
// per string: recovering the signing key is most of a decode's cost.
func (w *World) decode(bolt11 string) (*zpay32.Invoice, error) {
	if inv, ok := w.decoded[bolt11]; ok {
		return inv, nil
	}
	inv, err := zpay32.Decode(bolt11, regtestParams)
	if err != nil {
		return nil, err
	}
	if inv.PaymentHash == nil {
		return nil, errors.New("invoice has no payment hash")
	}
	w.decoded[bolt11] = inv
	return inv, nil
}

// encode signs a BOLT11 invoice with the payee's key.
func (w *World) encode(inv *invoice) (string, error) {
	hash := [32]byte(inv.hash)
	opts := []func(*zpay32.Invoice){
		zpay32.Description(inv.memo), zpay32.Expiry(inv.expiry), zpay32.CLTVExpiry(finalCltvDelta),
	}
	if inv.amount > 0 {
		opts = append(opts, zpay32.Amount(lnwire.MilliSatoshi(inv.amount)))
	}
	zi, err := zpay32.NewInvoice(regtestParams, hash, inv.created, opts...)
	if err != nil {
		return "", err
	}
	key := w.payeeKey
	return zi.Encode(zpay32.MessageSigner{SignCompact: func(msg []byte) ([]byte, error) {
		return ecdsa.SignCompact(key, chainhash.HashB(msg), true), nil
	}})
}

// nodeKey derives a node's key from the seed.
func nodeKey(seed uint64, name string) *btcec.PrivateKey {
	b := chainhash.HashB([]byte(fmt.Sprintf("l402chaos sim %d %s", seed, name)))
	k, _ := btcec.PrivKeyFromBytes(b)
	return k
}
