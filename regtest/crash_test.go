package regtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/stretchr/testify/require"
)

// The owner tests run a network inside a child copy of this test binary
// and end that child abruptly, to check that nothing outlives it.

const envHelper = "L402CHAOS_TEST_OWNER" // mode for the child: "panic" or "block"

type ownerReport struct {
	Dir   string   `json:"dir"`
	Pids  []int    `json:"pids"`
	Addrs []string `json:"addrs"`
}

// TestHelperOwner is the child. It does nothing in a normal run.
func TestHelperOwner(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process for the owner tests")
	}
	n := regtesttest.Start(t, regtest.WithBaseDir(os.Getenv("L402CHAOS_TEST_BASE")))
	r := ownerReport{Dir: n.Dir(), Pids: []int{n.Chain().Pid()}, Addrs: []string{n.Chain().RPCAddr()}}
	for _, node := range n.Nodes() {
		r.Pids = append(r.Pids, node.Pid())
		r.Addrs = append(r.Addrs, node.RPCAddr(), node.P2PAddr())
	}
	data, _ := json.Marshal(r)
	fmt.Printf("OWNER %s\n", data)
	if mode == "panic" {
		panic("helper panics with a network up")
	}
	select {} // until the parent kills us
}

func startOwner(t *testing.T, mode, base string) (*exec.Cmd, ownerReport) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$", "-test.v")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, "L402CHAOS_TEST_BASE="+base)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "OWNER "); ok {
			var r ownerReport
			require.NoError(t, json.Unmarshal([]byte(line), &r))
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, r
		}
	}
	t.Fatalf("helper ended without reporting its network: %v", sc.Err())
	return nil, ownerReport{}
}

// TestPanicInTestTearsDown: t.Cleanup runs when a test panics, and closes
// the network.
func TestPanicInTestTearsDown(t *testing.T) {
	base := t.TempDir()
	cmd, r := startOwner(t, "panic", base)
	require.Error(t, cmd.Wait(), "the helper panicked")
	requireNothingLeftOf(t, r)
	_, err := os.Stat(r.Dir)
	require.True(t, os.IsNotExist(err), "cleanup removed the run dir")
}

// TestKilledOwnerLeavesNothing: when the owning process dies without
// cleaning up (SIGKILL, or Ctrl-C on a test binary, which exits at once),
// its children die with it (Pdeathsig) and the next Sweep removes its run
// dir.
func TestKilledOwnerLeavesNothing(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			base := t.TempDir()
			cmd, r := startOwner(t, "block", base)
			require.NoError(t, cmd.Process.Signal(sig))
			cmd.Wait()
			requireNothingLeftOf(t, r)
			require.DirExists(t, r.Dir, "nobody cleaned up yet")
			removed, err := regtest.Sweep(base)
			require.NoError(t, err)
			require.Equal(t, []string{r.Dir}, removed)
			require.NoDirExists(t, r.Dir)
		})
	}
}

func requireNothingLeftOf(t *testing.T, r ownerReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The kernel delivers Pdeathsig, and tears down an exiting process's
	// threads and sockets, asynchronously: wait for it.
	err := wait.Until(ctx, 20*time.Millisecond, func(context.Context) error {
		for _, pid := range r.Pids {
			if alive(pid) {
				return fmt.Errorf("process %d is alive", pid)
			}
		}
		for _, addr := range r.Addrs {
			if listening(addr) {
				return fmt.Errorf("%s still accepts connections", addr)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// alive is true for a process that exists and is not a zombie waiting for
// a reaper. A zombie thread-group leader whose other threads are still
// exiting counts as alive: they may still hold its sockets.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	zombie, threads := false, 0
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "State:"); ok {
			zombie = strings.HasPrefix(strings.TrimSpace(v), "Z")
		}
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &threads)
		}
	}
	return !zombie || threads > 1
}
