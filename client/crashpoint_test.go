package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/client"
)

// envCrashChild makes this test binary the child of
// TestCrashPointsKillTheProcess: it buys one purchase, journalling in
// the directory the variable names.
const envCrashChild = "L402CHAOS_TEST_CRASH_CHILD"

// TestCrashPointsKillTheProcess arms each crash point in a child process
// that buys a purchase (a POST: every point is on its way) and checks
// that the child died of SIGKILL right after writing the crash marker,
// and that its journal stops exactly where the point says: a crash point
// is a place in the critical section, not a moment.
func TestCrashPointsKillTheProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	// The last journalled state each point leaves behind.
	last := map[string]client.State{
		client.CrashIntent:         client.StateIntent,
		client.CrashDispatched:     client.StateDispatched,
		client.CrashPaymentSent:    client.StateDispatched,
		client.CrashPreimage:       client.StateDispatched,
		client.CrashTokenStored:    client.StateSettled,
		client.CrashCredentialSent: client.StateSettled,
		client.CrashDelivered:      client.StateDelivered,
	}
	require.Len(t, last, len(client.CrashPoints()))
	for _, point := range client.CrashPoints() {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashPointChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), envCrashChild+"="+dir, client.CrashEnv+"="+client.CrashEnvValue(point))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "the child must die, got %v; stderr:\n%s", err, stderr.String())
			ws := ee.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "killed by SIGKILL, got %v", ws)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			require.Equal(t, client.CrashMarker+point, lines[len(lines)-1])

			s, err := client.OpenStore(dir)
			require.NoError(t, err)
			defer s.Close()
			evs, err := s.Events("k1")
			require.NoError(t, err)
			require.NotEmpty(t, evs)
			require.Equal(t, last[point], evs[len(evs)-1].State, "journal after a crash at %s", point)
		})
	}

	t.Run("unarmed", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashPointChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashChild+"="+t.TempDir())
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	})
}

// TestCrashPointChild is the child's purchase; it does nothing unless
// run by TestCrashPointsKillTheProcess.
func TestCrashPointChild(t *testing.T) {
	dir := os.Getenv(envCrashChild)
	if dir == "" {
		t.Skip("the child of TestCrashPointsKillTheProcess")
	}
	e := newEnvIn(t, dir, true)
	out, err := e.c.Do(context.Background(), e.post("/ops/p/k1", "run once"), "k1")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
}

func TestArmCrashPointRefusesUnknownNames(t *testing.T) {
	err := client.ArmCrashPoint("nowhere")
	require.ErrorIs(t, err, client.ErrAdapterConfig)
	require.ErrorContains(t, err, "intent, dispatched")
}
