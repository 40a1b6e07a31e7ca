package harness

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/internal/owned"
)

// TestKeepClientLogs: the client's logs go with the run's record, the
// history names the copies, and nothing else of the state directory (its
// journal) is copied.
func TestKeepClientLogs(t *testing.T) {
	state, err := owned.MkdirTemp(t.TempDir(), ClientDirPrefix)
	require.NoError(t, err)
	logs := filepath.Join(state, "logs", "instance-0")
	require.NoError(t, os.MkdirAll(logs, 0o755))
	log := filepath.Join(logs, "000001-k1.stderr")
	require.NoError(t, os.WriteFile(log, []byte("boom\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(state, "journal.db"), []byte("secret"), 0o600))
	h := history.History{{Detail: "adapter protocol: no report (exit 1, stderr in " + log + ")"}, {Detail: "unrelated"}}

	run := filepath.Join(t.TempDir(), "scenario")
	require.NoError(t, keepClientLogs(state, run, h))
	kept := filepath.Join(run, ClientLogsDir, "instance-0", "000001-k1.stderr")
	b, err := os.ReadFile(kept)
	require.NoError(t, err)
	require.Equal(t, "boom\n", string(b))
	require.Equal(t, "adapter protocol: no report (exit 1, stderr in "+kept+")", h[0].Detail)
	require.Equal(t, "unrelated", h[1].Detail)
	require.NoFileExists(t, filepath.Join(run, ClientLogsDir, "journal.db"))
	require.NoFileExists(t, filepath.Join(run, "journal.db"))

	// A client without logs leaves nothing.
	empty := filepath.Join(t.TempDir(), "other")
	require.NoError(t, keepClientLogs(t.TempDir(), empty, nil))
	require.NoDirExists(t, empty)
}
