package containers_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go/network"

	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/containers"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// engine connects to the Docker engine. Without one the test is skipped
// with the reason, except in CI (CI=true), where it fails: a CI machine
// has an engine, and a containers test that skips there proves nothing.
func engine(t *testing.T) *containers.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := containers.Connect(ctx)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine (CI would fail here): %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

// TestNetworkOnContainers starts the default network in containers from
// the snapshot, pays alice -> bob, kills bob's container and restarts it
// on the same directory and address, pays again, and leaves no
// container or network of the run behind.
func TestNetworkOnContainers(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n := regtesttest.Start(t, regtest.WithRuntime(containers.New(eng, containers.WithLogger(regtesttest.Logger(t)))))
	run := filepath.Base(n.Dir())

	owned, err := eng.Owned(ctx, run)
	require.NoError(t, err)
	require.Len(t, owned.Containers, 3, "btcd, alice and bob each in a container: %+v", owned)
	require.Len(t, owned.Networks, 1)

	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	regtesttest.Pay(t, ctx, alice, bob, 1000)

	// A crash: the container is killed, its directory survives, and a
	// new container on the same address takes over.
	require.NoError(t, bob.Kill())
	require.False(t, bob.Running())
	require.NoError(t, bob.Start(ctx))
	require.NoError(t, n.WaitReady(ctx))
	regtesttest.Pay(t, ctx, alice, bob, 2000)

	// Frozen and thawed.
	require.NoError(t, bob.Pause())
	require.True(t, bob.Paused())
	require.NoError(t, bob.Resume())
	regtesttest.Pay(t, ctx, alice, bob, 3000)

	// Cut off at the IP level: the harness cannot reach bob either, and
	// a payment cannot route; joined again at the same address, it can.
	require.True(t, n.CanIsolate())
	require.NoError(t, bob.Isolate(ctx))
	require.True(t, bob.Isolated())
	cut, cancelCut := context.WithTimeout(ctx, 3*time.Second)
	_, err = bob.LN().GetInfo(cut, &lnrpc.GetInfoRequest{})
	cancelCut()
	require.Error(t, err, "bob answers while isolated")
	require.NoError(t, bob.Rejoin(ctx))
	require.False(t, bob.Isolated())
	require.NoError(t, n.WaitReady(ctx))
	regtesttest.Pay(t, ctx, alice, bob, 4000)

	require.NoError(t, n.Close())
	owned, err = eng.Owned(ctx, run)
	require.NoError(t, err)
	require.Empty(t, owned.Containers)
	require.Empty(t, owned.Networks)
}

// TestImagesCached builds lnd's image (or finds it), then asks again: the
// second call is a lookup. A missing binary names itself and the step.
func TestImagesCached(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bins, err := regtest.EnsureBinaries(ctx)
	require.NoError(t, err)
	first, err := eng.EnsureImage(ctx, bins.Btcd, nil)
	require.NoError(t, err)
	again, err := eng.EnsureImage(ctx, bins.Btcd, nil)
	require.NoError(t, err)
	require.Equal(t, first.Ref, again.Ref)
	require.False(t, again.Built, "a second build is a lookup")

	_, err = eng.EnsureImage(ctx, filepath.Join(t.TempDir(), "no-such-lnd"), nil)
	require.ErrorIs(t, err, containers.ErrImageBuild)
	require.ErrorContains(t, err, "no-such-lnd")
	require.ErrorContains(t, err, "read the binary")
}

// TestSweepRemovesWhatDeadOwnersLeft makes a network labelled with the
// pid of a process that has exited, and one with this process's: the
// sweep removes the first only.
func TestSweepRemovesWhatDeadOwnersLeft(t *testing.T) {
	eng := engine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	host, _ := os.Hostname()
	mk := func(pid int, run string) string {
		nw, err := network.New(ctx, network.WithLabels(map[string]string{
			containers.LabelKind: "1", containers.LabelRun: run,
			containers.LabelOwner: strconv.Itoa(pid), containers.LabelHost: host,
		}))
		require.NoError(t, err)
		t.Cleanup(func() { nw.Remove(context.Background()) })
		return nw.Name
	}
	orphan := mk(dead.Process.Pid, "sweep-test-dead")
	mine := mk(os.Getpid(), "sweep-test-alive")

	swept, err := eng.Sweep(ctx)
	require.NoError(t, err)
	require.Contains(t, swept.Networks, orphan)
	require.NotContains(t, swept.Networks, mine)
	left, err := eng.Owned(ctx, "sweep-test-alive")
	require.NoError(t, err)
	require.Equal(t, []string{mine}, left.Networks)
}

// TestNoEngine: an engine that is not there gives ErrNoEngine, saying
// where it looked and that -backend process needs none.
func TestNoEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	_, err := containers.Connect(context.Background())
	require.True(t, errors.Is(err, containers.ErrNoEngine), "%v", err)
	require.ErrorContains(t, err, "no-docker.sock")
	require.ErrorContains(t, err, "-backend process")
}
