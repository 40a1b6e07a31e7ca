package reports_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/reports"
)

// writeShare writes a share's report directory as chaos run -shard K/N
// does: its runs with their records, and the selection it took them from.
func writeShare(t *testing.T, dir string, k, n int, selection []string, runs []*check.RunResult, seed int64, version string) {
	t.Helper()
	r := reports.New(runs, reports.Meta{Version: version, Seed: seed, Client: "exec chaos client", Backend: "process",
		Shard: &reports.Shard{Index: k, Count: n, Selection: selection}})
	require.NoError(t, reports.WriteDir(dir, r, runs))
}

func TestMergeDirs(t *testing.T) {
	sel := []string{"a", "b", "c", "d"}
	root := t.TempDir()
	share := func(k int, names ...string) string {
		var runs []*check.RunResult
		for _, n := range names {
			r := validRun(n)
			if n == "c" {
				r = invalidRun(n)
			}
			if n != "d" { // d never started: no record
				r.History = sampleHistory("k1")
			}
			runs = append(runs, r)
		}
		dir := filepath.Join(root, "share", string(rune('0'+k)))
		writeShare(t, dir, k, 3, sel, runs, 8123, "v1")
		return dir
	}
	s0, s1, s2 := share(0, "d", "a"), share(1, "c"), share(2, "b")

	out := filepath.Join(root, "merged")
	m, err := reports.MergeDirs(out, []string{s2, s0, s1})
	require.NoError(t, err)
	require.Nil(t, m.Shard)
	require.Equal(t, []string{s0, s1, s2}, m.Merged)
	var names []string
	for _, r := range m.Runs {
		names = append(names, r.Scenario)
		if r.Scenario == "d" {
			require.Empty(t, r.Dir)
			continue
		}
		require.FileExists(t, filepath.Join(r.Dir, "history.jsonl"))
		require.Equal(t, out, filepath.Dir(r.Dir), "each run's record is copied into the merged directory")
	}
	require.Equal(t, sel, names, "the selection's order")
	require.Equal(t, check.Invalid, m.Verdict)
	for _, f := range []string{reports.FileResults, reports.FileJUnit, reports.FileHTML} {
		require.FileExists(t, filepath.Join(out, f))
	}
	// The merged directory is a report directory like any other: chaos
	// check rechecks it to the same verdicts.
	rc, err := reports.Recheck(out, reports.Meta{})
	require.NoError(t, err)
	require.Len(t, rc.Runs, 4)
	back, err := os.ReadFile(filepath.Join(out, reports.FileResults))
	require.NoError(t, err)
	require.Contains(t, string(back), `"merged": [`)

	refuse := func(want error, dirs ...string) {
		t.Helper()
		bad := filepath.Join(root, "refused")
		_, err := reports.MergeDirs(bad, dirs)
		require.ErrorIs(t, err, want)
		require.ErrorIs(t, err, reports.ErrMerge)
		require.NoDirExists(t, bad, "a refused merge writes nothing")
	}
	refuse(reports.ErrShardMissing, s0, s1)
	refuse(reports.ErrShardDuplicate, s0, s1, s2, s1)
	refuse(reports.ErrShardMissing)
	refuse(reports.ErrShardMissing, s0, s1, filepath.Join(root, "nowhere"))

	other := filepath.Join(root, "other-seed")
	writeShare(t, other, 2, 3, sel, []*check.RunResult{validRun("b")}, 9999, "v1")
	refuse(reports.ErrShardMismatch, s0, s1, other)
	newer := filepath.Join(root, "other-version")
	writeShare(t, newer, 2, 3, sel, []*check.RunResult{validRun("b")}, 8123, "v2")
	refuse(reports.ErrShardMismatch, s0, s1, newer)
	twice := filepath.Join(root, "twice")
	writeShare(t, twice, 2, 3, sel, []*check.RunResult{validRun("b"), validRun("a")}, 8123, "v1")
	refuse(reports.ErrShardDuplicate, s0, s1, twice)
	short := filepath.Join(root, "interrupted")
	writeShare(t, short, 2, 3, sel, nil, 8123, "v1")
	refuse(reports.ErrShardMissing, s0, s1, short)
	four := filepath.Join(root, "of-four")
	writeShare(t, four, 3, 4, sel, []*check.RunResult{validRun("b")}, 8123, "v1")
	refuse(reports.ErrShardMismatch, s0, s1, four)

	whole := filepath.Join(root, "unsharded")
	require.NoError(t, reports.WriteDir(whole, reports.New([]*check.RunResult{validRun("a")}, reports.Meta{Seed: 8123}), []*check.RunResult{validRun("a")}))
	refuse(reports.ErrShardMismatch, s0, s1, whole)
	_, err = reports.MergeDirs(s0, []string{s0, s1, s2})
	require.ErrorIs(t, err, reports.ErrShardMismatch, "the output may not be an input")
	_, err = os.Stat(filepath.Join(s0, reports.FileResults))
	require.NoError(t, err)
}
