package adapter_test

import (
	"context"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
)

// TestReferenceClient buys the same resource through both adapters of the
// reference client, twice each over the same state: delivered and paid
// once, then delivered again from the journal without paying.
func TestReferenceClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Build the reference client while the network starts.
	type built struct {
		command []string
		err     error
	}
	binDir := t.TempDir()
	buildDone := make(chan built, 1)
	go func() {
		command, err := adapter.ReferenceCommand(ctx, binDir)
		buildDone <- built{command, err}
	}()
	var b built
	received := false
	t.Cleanup(func() {
		if !received {
			<-buildDone // before binDir is removed
		}
	})

	net := regtesttest.Start(t)
	p := fakeprovidertest.Start(t, net.Node(regtest.Bob), fakeprovider.DefaultConfig())
	alice := net.Node(regtest.Alice)
	b, received = <-buildDone, true
	require.NoError(t, b.err)

	payments := func() int {
		t.Helper()
		resp, err := alice.LN().ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true})
		require.NoError(t, err)
		return len(resp.Payments)
	}
	purchase := harness.Purchase{Key: "k1", URL: p.URL() + "/data/p/k1", MaxCostSat: 1000, Timeout: 30 * time.Second}
	firstBuy := func(t *testing.T, c harness.Client) history.Result {
		t.Helper()
		before := payments()
		res, err := c.Purchase(ctx, purchase)
		require.NoError(t, err)
		require.Equal(t, history.Delivered, res.Outcome, res.Error)
		require.Equal(t, 200, res.Status)
		require.Len(t, res.PaymentHash, 64)
		require.Equal(t, int64(100_000), res.PaidMsat)
		require.NotEmpty(t, res.BodySHA256)
		require.Equal(t, before+1, payments(), "one payment")
		return res
	}
	againBuy := func(t *testing.T, c harness.Client, first history.Result) {
		t.Helper()
		before := payments()
		res, err := c.Purchase(ctx, purchase)
		require.NoError(t, err)
		require.Equal(t, history.Delivered, res.Outcome, res.Error)
		require.Equal(t, first.BodySHA256, res.BodySHA256)
		require.Equal(t, before, payments(), "the same key with the same state pays nothing")
	}

	// A price (250 sat per request) over the cap: refused before paying,
	// so failed.
	overCap := func(t *testing.T, c harness.Client) history.Result {
		t.Helper()
		before := payments()
		p := harness.Purchase{Key: "order-1", Method: "POST", URL: p.URL() + "/ops/order", Body: []byte(`{"qty":1}`),
			MaxCostSat: 100, Timeout: 30 * time.Second}
		res, err := c.Purchase(ctx, p)
		require.NoError(t, err)
		require.Equal(t, history.Failed, res.Outcome)
		require.NotEmpty(t, res.Error)
		require.Empty(t, res.PaymentHash)
		require.Equal(t, before, payments())
		return res
	}

	t.Run("exec", func(t *testing.T) {
		e, err := adapter.NewExec(b.command, adapter.ExecConfig{
			StateRoot: t.TempDir(), RPCServer: alice.RPCAddr(), TLSCertPath: alice.TLSCertPath(), MacaroonPath: alice.AdminMacaroonPath(),
		}, adapter.WithLogger(regtesttest.Logger(t)))
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, e.Close()) })
		first := firstBuy(t, e)
		require.Zero(t, first.ExitCode)
		againBuy(t, e, first)
		require.Len(t, e.Logs("k1"), 2)
		require.Equal(t, 1, overCap(t, e).ExitCode)
	})
	t.Run("in-process", func(t *testing.T) {
		cfg := adapter.InProcessConfig{
			StateRoot: t.TempDir(), RPCServer: alice.RPCAddr(), TLSCertPath: alice.TLSCertPath(), MacaroonPath: alice.AdminMacaroonPath(),
			Logger: regtesttest.Logger(t),
		}
		c, err := adapter.NewInProcess(ctx, cfg)
		require.NoError(t, err)
		first := firstBuy(t, c)
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
		_, err = c.Purchase(ctx, purchase)
		require.ErrorIs(t, err, adapter.ErrClosed)

		// A new client over the same journal: a restarted process.
		c, err = adapter.NewInProcess(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, c.Close()) })
		againBuy(t, c, first)
		require.Zero(t, overCap(t, c).ExitCode, "no process, no exit code")
	})
}

func TestNewInProcessErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, cfg := range map[string]adapter.InProcessConfig{
		"no state root": {RPCServer: "127.0.0.1:1", TLSCertPath: "/x", MacaroonPath: "/y"},
		"no lnd":        {StateRoot: t.TempDir()},
		"missing cert":  {StateRoot: t.TempDir(), RPCServer: "127.0.0.1:1", TLSCertPath: "/nonexistent/tls.cert", MacaroonPath: "/y"},
	} {
		c, err := adapter.NewInProcess(ctx, cfg)
		require.Error(t, err, name)
		require.Nil(t, c, name)
	}
}
