package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/regtest"
)

// TestRecorderSeesRefusedPaymentRequests calls the payer's LND as a
// client does, through the client-lnd link (its proxy, then the
// recorder): a payment LND refuses before it exists (an amountless
// invoice without an amount) is in the truth's payment requests with the
// node's answer, beside one that paid; other calls pass untouched.
func TestRecorderSeesRefusedPaymentRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, b := startBackend(t, ctx)
	ends := env.Endpoints()
	conn, err := regtest.Dial(ends.PayerRPC, ends.PayerTLSCert, ends.PayerMacaroon)
	require.NoError(t, err)
	defer conn.Close()
	ln, router := lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn)

	info, err := ln.GetInfo(ctx, &lnrpc.GetInfoRequest{})
	require.NoError(t, err, "an ordinary call passes through")
	require.NotEmpty(t, info.GetIdentityPubkey())

	bob := b.Network().Node(regtest.Bob)
	free, err := bob.AddInvoice(ctx, 0, "amountless")
	require.NoError(t, err)
	stream, err := router.SendPaymentV2(ctx, &routerrpc.SendPaymentRequest{PaymentRequest: free.PaymentRequest, TimeoutSeconds: 10, FeeLimitMsat: 1000})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Error(t, err, "lnd refuses an amountless invoice without an amount")

	paid, err := bob.AddInvoice(ctx, 100, "paid")
	require.NoError(t, err)
	stream, err = router.SendPaymentV2(ctx, &routerrpc.SendPaymentRequest{PaymentRequest: paid.PaymentRequest, TimeoutSeconds: 30, FeeLimitMsat: 1000})
	require.NoError(t, err)
	for {
		p, err := stream.Recv()
		require.NoError(t, err)
		if p.GetStatus() == lnrpc.Payment_SUCCEEDED {
			break
		}
		require.NotEqual(t, lnrpc.Payment_FAILED, p.GetStatus(), "%v", p.GetFailureReason())
	}

	truth, err := env.Truth(ctx, history.Plan{})
	require.NoError(t, err)
	require.True(t, truth.PayRequestsRecorded)
	require.Len(t, truth.PayRequests, 2)
	refused, ok := truth.PayRequests[0], truth.PayRequests[1]
	require.True(t, refused.Decoded)
	require.Zero(t, refused.AmountMsat, "amountless")
	require.NotEqual(t, "OK", refused.Status)
	require.Equal(t, int64(100_000), ok.AmountMsat)
	require.Equal(t, "OK", ok.Status)
	for _, p := range truth.Payments {
		require.NotEqual(t, refused.Hash, p.Hash, "the refused request left no payment")
	}
}
