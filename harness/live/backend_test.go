package live_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// startBackend starts a live backend on local processes for the test,
// closed when it ends.
func startBackend(t *testing.T, ctx context.Context) (harness.Environment, *live.Backend) {
	t.Helper()
	env, err := live.Start(ctx, harness.Network{}, regtesttest.Logger(t))
	if env != nil {
		t.Cleanup(func() { require.NoError(t, env.Close()) })
	}
	require.NoError(t, err)
	return env, env.(*live.Backend)
}

// TestBackendDrainAndTruth starts a live backend, challenges through the
// provider's proxy, drains the payer and reads the ground truth back.
func TestBackendDrainAndTruth(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, b := startBackend(t, ctx)
	var err error

	// Local processes cannot be cut off as a whole: the fault says so
	// with the harness's error, and the scenario does not apply.
	require.False(t, b.CanIsolate())
	_, err = fault.IsolateNode{Node: regtest.Bob}.Inject(ctx, &harness.Env{Backend: env})
	require.ErrorIs(t, err, harness.ErrNeedsIsolation)
	require.ErrorIs(t, err, regtest.ErrNoIsolation)

	resp, err := http.Get(env.Endpoints().ProviderURL + "/data/p/k1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	require.NoError(t, env.Await(ctx, harness.ChallengeIssued, 1))
	require.Equal(t, 1, b.Count(harness.ChallengeIssued))

	const keep = 50
	require.NoError(t, b.Drain(ctx, keep))
	alice, bob := b.Network().Node(regtest.Alice), b.Network().Node(regtest.Bob)
	inv, err := bob.AddInvoice(ctx, 300, "after drain")
	require.NoError(t, err)
	_, err = alice.Pay(ctx, inv.PaymentRequest)
	require.Error(t, err, "the payer still spends 300 sat after a drain to %d", keep)

	truth, err := env.Truth(ctx, history.Plan{})
	require.NoError(t, err)
	require.Empty(t, truth.Errors)
	for _, p := range truth.Payments {
		require.NotEqual(t, history.PaymentSucceeded, p.Status, "the drain's payments are not the client's: not in the truth")
	}
	require.Empty(t, truth.Pending)
	before, after := truth.Before[regtest.Alice], truth.After[regtest.Alice]
	var spent int64
	for _, p := range truth.Payments {
		if p.Status == history.PaymentSucceeded {
			spent += p.ValueMsat + p.FeeMsat
		}
	}
	require.Equal(t, before.LocalMsat-spent, after.LocalMsat, "payer balance moved by exactly its payments (the drain moved the baseline)")
	require.Len(t, truth.Requests, 1)
	require.NotEmpty(t, truth.Requests[0].InvoiceHash)
}

// TestRestartRefusedWhileChainCut: a node whose link to btcd is cut is
// not restarted (a restarted LND could not sync and would never be
// ready), and keeps running; healed, the restart goes through.
func TestRestartRefusedWhileChainCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, b := startBackend(t, ctx)
	chain, err := b.Link(harness.LinkPayeeChain)
	require.NoError(t, err)
	bob, err := b.Node("bob")
	require.NoError(t, err)
	pid := b.Network().Node(regtest.Bob).Pid()
	require.NoError(t, chain.SetEnabled(ctx, false))
	require.ErrorIs(t, bob.Restart(ctx), harness.ErrChainCut)
	require.Equal(t, pid, b.Network().Node(regtest.Bob).Pid(), "the node kept running")
	require.NoError(t, chain.SetEnabled(ctx, true))
	require.NoError(t, bob.Restart(ctx))
	require.NotEqual(t, pid, b.Network().Node(regtest.Bob).Pid())
}
