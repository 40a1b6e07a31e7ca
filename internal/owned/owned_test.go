package owned_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/internal/owned"
)

// TestSweep: a directory whose owner died is removed, one whose owner
// runs or that has no owner file stays, and other names are not looked
// at.
func TestSweep(t *testing.T) {
	base := t.TempDir()
	mine, err := owned.MkdirTemp(base, "l402chaos-client-")
	require.NoError(t, err)

	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	orphan := filepath.Join(base, "l402chaos-reference-1")
	require.NoError(t, os.MkdirAll(orphan, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(orphan, owned.File), []byte(strconv.Itoa(dead.Process.Pid)), 0o600))
	unowned := filepath.Join(base, "l402chaos-client-unowned")
	require.NoError(t, os.MkdirAll(unowned, 0o755))
	other := filepath.Join(base, "something-else")
	require.NoError(t, os.MkdirAll(other, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, owned.File), []byte(strconv.Itoa(dead.Process.Pid)), 0o600))

	var removed []string
	require.NoError(t, owned.Sweep(base, []string{"l402chaos-client-", "l402chaos-reference-"}, func(d string) { removed = append(removed, d) }))
	require.Equal(t, []string{orphan}, removed)
	require.DirExists(t, mine)
	require.DirExists(t, unowned)
	require.DirExists(t, other)
	require.True(t, owned.Alive(os.Getpid()))
	require.False(t, owned.Alive(dead.Process.Pid))
}
