package regtest_test

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/regtest"
)

// A killed process that its parent has not reaped yet (a zombie) is
// dead to the sweeps: the next start removes what it owned.
func TestProcessAliveZombieIsDead(t *testing.T) {
	require.True(t, regtest.ProcessAlive(os.Getpid()))
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.True(t, regtest.ProcessAlive(cmd.Process.Pid))

	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	// Not waited for: it stays a zombie of this process until Wait.
	require.Eventually(t, func() bool { return !regtest.ProcessAlive(cmd.Process.Pid) }, 10*time.Second, 10*time.Millisecond)
	_ = cmd.Wait()
	require.False(t, regtest.ProcessAlive(cmd.Process.Pid))
}
