package gobuild_test

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/internal/gobuild"
)

func TestCommandBuildsOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "bin") // made by Command
	bin, err := gobuild.Command(ctx, "./cmd/l402-mutant", dir, "l402-mutant")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "l402-mutant"), bin)
	before, err := os.Stat(bin)
	require.NoError(t, err)
	require.NoError(t, exec.CommandContext(ctx, bin, "-list").Run(), "the binary runs")

	again, err := gobuild.Command(ctx, "./cmd/l402-mutant", dir, "l402-mutant")
	require.NoError(t, err)
	require.Equal(t, bin, again)
	after, err := os.Stat(bin)
	require.NoError(t, err)
	require.Equal(t, before.ModTime(), after.ModTime(), "not built again")

	_, err = gobuild.Command(ctx, "./cmd/chaos", dir, "l402-mutant")
	require.Error(t, err, "the path was built from another package")
}

func TestCommandBadPackage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for name, tc := range map[string]struct {
		pkg  string
		ours bool // refused as ErrPackage, not by go build
	}{
		"missing":     {pkg: "./cmd/no-such-command"},
		"not-command": {pkg: "./harness/history", ours: true},
		"absolute":    {pkg: "/cmd/chaos", ours: true},
		"import-path": {pkg: "github.com/l402chaos/l402chaos/cmd/chaos", ours: true},
		"outside":     {pkg: "./../cmd/chaos", ours: true},
		"root":        {pkg: "./", ours: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := gobuild.Command(ctx, tc.pkg, dir, "x")
			require.Error(t, err)
			if tc.ours {
				require.ErrorIs(t, err, gobuild.ErrPackage)
			}
			_, err = os.Stat(filepath.Join(dir, "x"))
			require.ErrorIs(t, err, os.ErrNotExist, "nothing written")
		})
	}
}

// TestStaticHasNoInterpreter builds a dependency's command static: an
// ELF with no program interpreter runs on an empty filesystem.
func TestStaticHasNoInterpreter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := gobuild.Static(ctx, "github.com/Shopify/toxiproxy/v2/cmd/server", t.TempDir(), "toxiproxy")
	require.NoError(t, err)
	f, err := elf.Open(bin)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no interpreter")
	}
	for _, bad := range []string{"../x", "/abs/cmd", "cmd/chaos", "."} {
		_, err := gobuild.Static(ctx, bad, t.TempDir(), "x")
		require.ErrorIs(t, err, gobuild.ErrPackage, bad)
	}
}
