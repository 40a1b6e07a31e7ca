package metrics_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/metrics"
)

// clock is a settable clock for the data directory's cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func writeFile(t *testing.T, path string, size int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, make([]byte, size), 0o644))
}

func TestWatchProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: resource use reads Linux's procfs")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wallet.db"), 1000)
	writeFile(t, filepath.Join(dir, "logs", "lnd.log"), 24)
	require.NoError(t, os.Symlink(filepath.Join(dir, "wallet.db"), filepath.Join(dir, "link"))) // not counted twice

	// A process that has come and gone.
	gone := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, gone.Run())

	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := newMetrics(t, metrics.WithClock(clk.now))
	m.WatchProcess("self", os.Getpid, dir)
	m.WatchProcess("stopped", func() int { return 0 }, "")
	m.WatchProcess("gone", func() int { return gone.Process.Pid }, filepath.Join(dir, "missing"))

	s := m.Sample(time.Second)
	require.Len(t, s.Nodes, 3)
	self := s.Nodes["self"]
	require.Positive(t, self.RSSBytes)
	require.Positive(t, self.AnonBytes)
	require.LessOrEqual(t, self.AnonBytes, self.RSSBytes, "the anonymous part of the resident set")
	require.Positive(t, s.Harness.AnonBytes)
	require.Positive(t, self.OpenFiles)
	require.EqualValues(t, 1024, self.DataBytes)
	require.Zero(t, self.Goroutines, "goroutines are the harness's only")
	require.Equal(t, history.Usage{}, s.Nodes["stopped"])
	require.Equal(t, history.Usage{}, s.Nodes["gone"])

	got := scrape(t, m.Handler())
	require.Equal(t, 1.0, got[`l402chaos_node_up{node="self"}`])
	require.Positive(t, got[`l402chaos_node_resident_memory_bytes{node="self"}`])
	require.Positive(t, got[`l402chaos_node_anon_memory_bytes{node="self"}`])
	require.Positive(t, got[`l402chaos_node_open_fds{node="self"}`])
	require.Equal(t, 1024.0, got[`l402chaos_node_data_bytes{node="self"}`])
	for _, n := range []string{"stopped", "gone"} {
		for _, series := range []string{"up", "resident_memory_bytes", "anon_memory_bytes", "open_fds", "data_bytes"} {
			key := `l402chaos_node_` + series + `{node="` + n + `"}`
			require.Contains(t, got, key)
			require.Zero(t, got[key], key)
		}
	}

	// The data directory is walked again only once its size is 30 s old.
	writeFile(t, filepath.Join(dir, "graph.db"), 2048)
	require.EqualValues(t, 1024, m.Sample(2 * time.Second).Nodes["self"].DataBytes)
	clk.add(29 * time.Second)
	require.EqualValues(t, 1024, m.Sample(3 * time.Second).Nodes["self"].DataBytes)
	clk.add(time.Second)
	require.EqualValues(t, 3072, m.Sample(4 * time.Second).Nodes["self"].DataBytes)

	// Watching a name again replaces it.
	m.WatchProcess("self", func() int { return 0 }, "")
	require.Equal(t, history.Usage{}, m.Sample(5 * time.Second).Nodes["self"])
}

func TestWatchProcessDataEveryZero(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a"), 10)
	m := newMetrics(t, metrics.WithDataEvery(0))
	m.WatchProcess("btcd", nil, dir)
	require.EqualValues(t, 10, m.Sample(time.Second).Nodes["btcd"].DataBytes)
	writeFile(t, filepath.Join(dir, "b"), 5)
	require.EqualValues(t, 15, m.Sample(2 * time.Second).Nodes["btcd"].DataBytes)
}
