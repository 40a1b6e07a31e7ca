package mutant_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/stretchr/testify/require"
)

func TestAllNamesAndCheckers(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range mutant.All() {
		require.False(t, seen[m.Name], "%s listed twice", m.Name)
		seen[m.Name] = true
		require.NotEmpty(t, m.Bug, m.Name)
		_, err := check.ByName(m.CaughtBy)
		require.NoError(t, err, "%s must be caught by a real checker", m.Name)
		got, ok := mutant.ByName(m.Name)
		require.True(t, ok)
		require.Equal(t, m, got)
		require.Equal(t, []string{"-bug", m.Name}, m.Args())
	}
	for _, m := range mutant.Dialect() {
		require.False(t, seen[m.Name], "%s listed twice", m.Name)
		seen[m.Name] = true
		require.Equal(t, mutant.Delivered, m.CaughtBy, "a dialect mutant is caught by certification")
		got, ok := mutant.ByName(m.Name)
		require.True(t, ok)
		require.Equal(t, m, got)
	}
	_, ok := mutant.ByName("no-such-bug")
	require.False(t, ok)
}

func TestBuildOncePerDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin, err := mutant.Build(ctx, dir)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, mutant.BinaryName), bin)
	before, err := os.Stat(bin)
	require.NoError(t, err)

	again, err := mutant.Build(ctx, dir)
	require.NoError(t, err)
	require.Equal(t, bin, again)
	after, err := os.Stat(bin)
	require.NoError(t, err)
	require.Equal(t, before.ModTime(), after.ModTime(), "not built again")

	out, err := exec.CommandContext(ctx, bin, "-list").Output()
	require.NoError(t, err)
	for _, m := range mutant.All() {
		require.Contains(t, string(out), m.Name)
	}
}
