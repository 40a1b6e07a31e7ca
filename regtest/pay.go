package regtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
)

// PaymentError is a payment that ended FAILED, with LND's reason.
type PaymentError struct {
	Hash   string
	Reason lnrpc.PaymentFailureReason
}

func (e *PaymentError) Error() string {
	return fmt.Sprintf("payment %s failed: %v", short(e.Hash), e.Reason)
}

// AddInvoice creates an invoice for amt satoshis on the node.
func (n *Node) AddInvoice(ctx context.Context, amt int64, memo string) (*lnrpc.AddInvoiceResponse, error) {
	inv, err := n.LN().AddInvoice(ctx, &lnrpc.Invoice{Value: amt, Memo: memo})
	if err != nil {
		return nil, fmt.Errorf("%s: add invoice: %w", n.name, err)
	}
	return inv, nil
}

// Pay pays a BOLT11 invoice and waits for the final outcome. A FAILED
// payment is a *PaymentError; any other error leaves the outcome unknown.
func (n *Node) Pay(ctx context.Context, invoice string) (*lnrpc.Payment, error) {
	return n.pay(ctx, &routerrpc.SendPaymentRequest{
		PaymentRequest:    invoice,
		TimeoutSeconds:    60,
		FeeLimitSat:       10_000,
		NoInflightUpdates: true,
	})
}

func (n *Node) pay(ctx context.Context, req *routerrpc.SendPaymentRequest) (*lnrpc.Payment, error) {
	stream, err := n.Router().SendPaymentV2(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: send payment: %w", n.name, err)
	}
	for {
		p, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: payment stream ended without an outcome", n.name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: payment update: %w", n.name, err)
		}
		switch p.Status {
		case lnrpc.Payment_SUCCEEDED:
			return p, nil
		case lnrpc.Payment_FAILED:
			return p, &PaymentError{Hash: p.PaymentHash, Reason: p.FailureReason}
		}
	}
}

// probe sends an HTLC for amt satoshis from n to dest with a random payment
// hash. dest rejects it as unknown, which proves a route carries HTLCs
// end to end without moving money. The failed payment is then deleted so
// it does not show up in the node's payment history.
func (n *Node) probe(ctx context.Context, dest string, amt int64) error {
	destKey, err := hex.DecodeString(dest)
	if err != nil {
		return wait.Permanent(fmt.Errorf("probe: bad destination %q", dest))
	}
	hash, addr := make([]byte, 32), make([]byte, 32)
	rand.Read(hash)
	rand.Read(addr)
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	_, err = n.pay(ctx, &routerrpc.SendPaymentRequest{
		Dest:              destKey,
		Amt:               amt,
		PaymentHash:       hash,
		PaymentAddr:       addr,
		FinalCltvDelta:    40,
		TimeoutSeconds:    int32(probeTimeout.Seconds()) - 2,
		FeeLimitSat:       1000,
		NoInflightUpdates: true,
		DestFeatures: []lnrpc.FeatureBit{
			lnrpc.FeatureBit_TLV_ONION_REQ, lnrpc.FeatureBit_PAYMENT_ADDR_REQ,
		},
	})
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rpcTimeout)
		defer cancel()
		n.LN().DeletePayment(dctx, &lnrpc.DeletePaymentRequest{PaymentHash: hash})
	}()
	var pe *PaymentError
	switch {
	case errors.As(err, &pe) && pe.Reason == lnrpc.PaymentFailureReason_FAILURE_REASON_INCORRECT_PAYMENT_DETAILS:
		return nil
	case err == nil:
		return wait.Permanent(fmt.Errorf("probe with a random hash succeeded"))
	default:
		return fmt.Errorf("probe %s -> %s: %w", n.name, short(dest), err)
	}
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
