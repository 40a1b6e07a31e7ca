package regtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/stretchr/testify/require"
)

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestPayAliceToBob(t *testing.T) {
	n := regtesttest.Start(t)
	ctx := testCtx(t, time.Minute)
	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)

	before, err := bob.LN().ChannelBalance(ctx, &lnrpc.ChannelBalanceRequest{})
	require.NoError(t, err)
	p := regtesttest.Pay(t, ctx, alice, bob, 10_000)
	require.EqualValues(t, 10_000, p.ValueSat)
	// Alice learns the preimage before the commitment dance ends, so bob's
	// balance follows a moment later.
	requireBalance(t, ctx, bob, before.LocalBalance.Sat+10_000)

	// The readiness probes are not left in alice's payment history: the
	// harness reads it as ground truth.
	pays, err := alice.LN().ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true})
	require.NoError(t, err)
	require.Len(t, pays.Payments, 1)
}

func TestNodeExposesClientsAndPaths(t *testing.T) {
	n := regtesttest.Start(t)
	ctx := testCtx(t, time.Minute)
	for _, node := range n.Nodes() {
		require.FileExists(t, node.TLSCertPath())
		require.FileExists(t, node.AdminMacaroonPath())
		info, err := node.LN().GetInfo(ctx, &lnrpc.GetInfoRequest{})
		require.NoError(t, err)
		require.Equal(t, node.PubKey(), info.IdentityPubkey)
		require.Equal(t, node.Name(), info.Alias)
		require.True(t, info.SyncedToChain)
		_, err = node.Router().GetMissionControlConfig(ctx, &routerrpc.GetMissionControlConfigRequest{})
		require.NoError(t, err)
	}
	h, err := n.Height(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, h, int32(500), "segwit must be active before channels open")
	_, err = n.Mine(ctx, 3)
	require.NoError(t, err)
	h2, err := n.Height(ctx)
	require.NoError(t, err)
	require.Equal(t, h+3, h2)
	for _, node := range n.Nodes() {
		info, err := node.LN().GetInfo(ctx, &lnrpc.GetInfoRequest{})
		require.NoError(t, err)
		require.EqualValues(t, h2, info.BlockHeight, "Mine waits until %s has seen the blocks", node.Name())
	}
}

func TestKillRestartPayAgain(t *testing.T) {
	n := regtesttest.Start(t)
	ctx := testCtx(t, 3*time.Minute)
	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	regtesttest.Pay(t, ctx, alice, bob, 1000)

	// A crash: SIGKILL to bob's process group.
	pid := bob.Pid()
	require.NoError(t, bob.Kill())
	require.False(t, bob.Running())
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "bob's process must be gone")
	inv, err := bob.AddInvoice(ctx, 1000, "while dead")
	require.Error(t, err, "a killed node must not answer")
	require.Nil(t, inv)

	require.NoError(t, bob.Start(ctx))
	require.NotEqual(t, pid, bob.Pid())
	require.NoError(t, n.WaitReady(ctx))
	regtesttest.Pay(t, ctx, alice, bob, 2000)

	// A graceful restart of the payer on the same data directory.
	require.NoError(t, alice.Restart(ctx))
	require.NoError(t, n.WaitReady(ctx))
	regtesttest.Pay(t, ctx, alice, bob, 3000)

	pays, err := alice.LN().ListPayments(ctx, &lnrpc.ListPaymentsRequest{})
	require.NoError(t, err)
	require.Len(t, pays.Payments, 3, "alice's payment history survives her restart")
}

func TestPausedPayeeStallsPaymentUntilResumed(t *testing.T) {
	n := regtesttest.Start(t)
	ctx := testCtx(t, 3*time.Minute)
	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	inv, err := bob.AddInvoice(ctx, 5000, "paused")
	require.NoError(t, err)

	require.NoError(t, bob.Pause())
	t.Cleanup(func() { bob.Resume() })
	require.True(t, bob.Paused())

	stream, err := alice.Router().SendPaymentV2(ctx, &routerrpc.SendPaymentRequest{
		PaymentRequest: inv.PaymentRequest, TimeoutSeconds: 120, FeeLimitSat: 100,
	})
	require.NoError(t, err)

	// The HTTP-level symptom of a hung payee: the HTLC leaves alice and
	// the payment sits IN_FLIGHT with nobody answering.
	var last *lnrpc.Payment
	for {
		last, err = stream.Recv()
		require.NoError(t, err)
		require.NotEqual(t, lnrpc.Payment_SUCCEEDED, last.Status, "payment completed while bob was paused")
		require.NotEqual(t, lnrpc.Payment_FAILED, last.Status, "payment failed while bob was paused")
		if last.Status == lnrpc.Payment_IN_FLIGHT && len(last.Htlcs) > 0 &&
			last.Htlcs[0].Status == lnrpc.HTLCAttempt_IN_FLIGHT {
			break
		}
	}
	// Still stalled after the chain moves on: only bob can settle it.
	_, err = n.Chain().Mine(ctx, 1)
	require.NoError(t, err)
	tracked, err := alice.Router().TrackPaymentV2(ctx, &routerrpc.TrackPaymentRequest{PaymentHash: inv.RHash})
	require.NoError(t, err)
	cur, err := tracked.Recv()
	require.NoError(t, err)
	require.Equal(t, lnrpc.Payment_IN_FLIGHT, cur.Status)

	require.NoError(t, bob.Resume())
	for last.Status == lnrpc.Payment_IN_FLIGHT {
		last, err = stream.Recv()
		require.NoError(t, err)
	}
	require.Equal(t, lnrpc.Payment_SUCCEEDED, last.Status)
	got, err := bob.LN().LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: inv.RHash})
	require.NoError(t, err)
	require.Equal(t, lnrpc.Invoice_SETTLED, got.State)
}

func TestRoutedTopologyPaysThroughCarol(t *testing.T) {
	n := regtesttest.Start(t, regtest.WithTopology(regtest.Routed), regtest.WithPush(1_000_000))
	ctx := testCtx(t, 2*time.Minute)
	alice, bob, carol := n.Node(regtest.Alice), n.Node(regtest.Bob), n.Node(regtest.Carol)
	require.Len(t, n.Channels(), 2)

	p := regtesttest.Pay(t, ctx, alice, bob, 20_000)
	require.Len(t, p.Htlcs, 1)
	hops := p.Htlcs[0].Route.Hops
	require.Len(t, hops, 2)
	require.Equal(t, carol.PubKey(), hops[0].PubKey)
	require.Equal(t, bob.PubKey(), hops[1].PubKey)

	fwd, err := carol.LN().ForwardingHistory(ctx, &lnrpc.ForwardingHistoryRequest{NumMaxEvents: 10})
	require.NoError(t, err)
	require.Len(t, fwd.ForwardingEvents, 1, "carol forwarded the payment")

	// The push amount is a setting: bob starts with 1M sat on his side of
	// carol's channel.
	requireBalance(t, ctx, bob, 1_000_000+20_000)
}

// requireBalance waits until node's local channel balance is want.
func requireBalance(t *testing.T, ctx context.Context, node *regtest.Node, want uint64) {
	t.Helper()
	err := wait.Until(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		bal, err := node.LN().ChannelBalance(ctx, &lnrpc.ChannelBalanceRequest{})
		if err != nil {
			return err
		}
		if bal.LocalBalance.Sat != want {
			return fmt.Errorf("%s local balance %d, want %d", node.Name(), bal.LocalBalance.Sat, want)
		}
		return nil
	})
	require.NoError(t, err)
}

func TestSnapshotNetworksAreIndependent(t *testing.T) {
	a := regtesttest.Start(t)
	b := regtesttest.Start(t)
	ctx := testCtx(t, time.Minute)
	require.NotEqual(t, a.Dir(), b.Dir())
	require.NotEqual(t, a.Node(regtest.Alice).RPCAddr(), b.Node(regtest.Alice).RPCAddr())
	require.Equal(t, a.Channels(), b.Channels(), "both come from one snapshot")

	regtesttest.Pay(t, ctx, a.Node(regtest.Alice), a.Node(regtest.Bob), 1000)
	pays, err := b.Node(regtest.Alice).LN().ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true})
	require.NoError(t, err)
	require.Empty(t, pays.Payments, "a payment in one network must not appear in another")

	// Each network restored the chain and mined its own fresh tip.
	ha, err := a.Height(ctx)
	require.NoError(t, err)
	hb, err := b.Height(ctx)
	require.NoError(t, err)
	require.Equal(t, ha, hb)
}

// TestTeardownLeavesNothing checks that Close leaves no process, no
// listening port and no directory behind.
func TestTeardownLeavesNothing(t *testing.T) {
	n := regtesttest.Start(t)
	pids := []int{n.Chain().Pid()}
	addrs := []string{n.Chain().RPCAddr(), n.Chain().P2PAddr()}
	for _, node := range n.Nodes() {
		pids = append(pids, node.Pid())
		addrs = append(addrs, node.RPCAddr(), node.RESTAddr(), node.P2PAddr())
	}
	// A paused node must be torn down too.
	require.NoError(t, n.Node(regtest.Bob).Pause())
	dir := n.Dir()
	require.DirExists(t, dir)

	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "Close is idempotent")
	requireNothingLeft(t, pids, addrs, dir)
}

// TestFailedStartLeavesNothing checks that a start that fails part way
// (bob refuses a bad flag) tears down what it had started.
func TestFailedStartLeavesNothing(t *testing.T) {
	base := t.TempDir()
	ctx := testCtx(t, time.Minute)
	n, err := regtest.Start(ctx, regtest.WithBaseDir(base), regtest.WithNodeArgs(regtest.Bob, "--no-such-flag"))
	require.Error(t, err)
	require.Nil(t, n)
	var exit *regtest.ExitError
	require.ErrorAs(t, err, &exit, "the error names the process that died")
	require.Contains(t, err.Error(), "no-such-flag")
	requireNoChildren(t)
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	require.Empty(t, entries, "the run dir of a failed start is removed")
}

func requireNothingLeft(t *testing.T, pids []int, addrs []string, dir string) {
	t.Helper()
	for _, pid := range pids {
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d still exists", pid)
	}
	for _, addr := range addrs {
		require.False(t, listening(addr), "%s still accepts connections", addr)
	}
	_, err := os.Stat(dir)
	require.True(t, errors.Is(err, os.ErrNotExist), "run dir %s still exists", dir)
	requireNoChildren(t)
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// requireNoChildren fails if this test process still has a child process.
func requireNoChildren(t *testing.T) {
	t.Helper()
	kids, err := children(os.Getpid())
	require.NoError(t, err)
	require.Empty(t, kids, "child processes left: %v", kids)
}

func children(ppid int) ([]string, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range procs {
		var pid int
		if _, err := fmt.Sscanf(p.Name(), "%d", &pid); err != nil {
			continue
		}
		f, err := os.Open("/proc/" + p.Name() + "/stat")
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(f)
		f.Close()
		var comm, state string
		var parent int
		// pid (comm) state ppid ...
		if _, err := fmt.Sscanf(string(data), "%d %s %s %d", &pid, &comm, &state, &parent); err == nil && parent == ppid {
			out = append(out, fmt.Sprintf("%d %s", pid, comm))
		}
	}
	return out, nil
}
