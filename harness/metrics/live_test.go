package metrics_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/metrics"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// liveTimeout bounds the live test once its network is up.
const liveTimeout = 2 * time.Minute

// A soak watches the network's processes: each reads its memory, open
// files and data directory; a node killed by a fault reads zero while
// the others, and the sampling, go on.
func TestWatchNodesLive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs a regtest network")
	}
	n := regtesttest.Start(t)
	m := newMetrics(t, metrics.WithDataEvery(0))
	for _, node := range n.Nodes() {
		m.WatchProcess(node.Name(), node.Pid, node.Dir())
	}
	m.WatchProcess("btcd", n.Chain().Pid, filepath.Join(n.Dir(), "btcd"))

	ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
	defer cancel()
	bound, err := m.Serve(ctx, "127.0.0.1:0")
	require.NoError(t, err)

	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)
	p := regtesttest.Pay(t, ctx, alice, bob, 1_000)
	m.Payments(1, p.ValueMsat, p.FeeMsat)

	s := m.Sample(time.Second)
	for _, name := range []string{regtest.Alice, regtest.Bob, "btcd"} {
		u := s.Nodes[name]
		require.Greater(t, u.RSSBytes, int64(1<<20), "%s rss", name)
		require.Greater(t, u.OpenFiles, 3, "%s open files", name)
		require.Positive(t, u.DataBytes, "%s data", name)
		t.Logf("%s: rss %d MiB, %d open files, data %d KiB", name, u.RSSBytes>>20, u.OpenFiles, u.DataBytes>>10)
	}
	got := parseExposition(t, get(t, ctx, "http://"+bound+"/metrics"))
	require.Equal(t, 1.0, got[`l402chaos_node_up{node="bob"}`])
	require.Equal(t, 1_000_000.0, got[`l402chaos_payer_paid_msat`])

	require.NoError(t, bob.Kill())
	require.NoError(t, wait.Until(ctx, 50*time.Millisecond, func(context.Context) error {
		if u := m.Sample(2 * time.Second).Nodes[regtest.Bob]; u.RSSBytes != 0 || u.OpenFiles != 0 {
			return errors.New("bob still reads as running")
		}
		return nil
	}))
	s = m.Sample(3 * time.Second)
	require.Positive(t, s.Nodes[regtest.Bob].DataBytes, "a killed node keeps its data directory")
	require.Positive(t, s.Nodes[regtest.Alice].RSSBytes)
	got = parseExposition(t, get(t, ctx, "http://"+bound+"/metrics"))
	require.Zero(t, got[`l402chaos_node_up{node="bob"}`])
	require.Equal(t, 1.0, got[`l402chaos_node_up{node="alice"}`])

	cancel()
	requireClosed(t, bound)
}
