package certify_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/reports"
)

// TestMergeShares: the shares of a certification merge into the
// certificate the whole run would have given, and only the shares of one
// certification merge.
func TestMergeShares(t *testing.T) {
	cases := []certify.CaseResult{
		caseResult("token-reuse", certify.DialectL402, true, res("at-most-once", check.Valid), res("delivered", check.Valid), res("token-reuse", check.Valid)),
		caseResult("token-reuse", certify.DialectLSAT, true, res("at-most-once", check.Valid), res("delivered", check.Invalid), res("token-reuse", check.Valid)),
		caseResult("crash-htlc-held", certify.DialectL402, true, res("at-most-once", check.Valid), res("no-concurrent-payment", check.Valid), res("eventual-resolution", check.Valid)),
		caseResult("token-revoked", certify.DialectL402, true, res("at-most-once", check.Unknown), res("delivered", check.Valid)),
		{Name: "payee-isolated-while-held", Scenario: "payee-isolated-while-held", Dialect: certify.DialectL402, Skip: "not applicable on this backend"},
	}
	var selection []string
	for _, c := range cases {
		selection = append(selection, c.Name)
	}
	started := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	meta := certify.Meta{Client: certify.ClientInfo{Name: "x", Capabilities: certify.DefaultDescriptor("x").Capabilities}, ToolVersion: "v1", Seed: 7, Backend: "process", Started: started}
	whole := certify.NewCertificate(meta, cases)

	root := t.TempDir()
	write := func(name string, k, n int, m certify.Meta, sel []string, cs ...certify.CaseResult) string {
		dir := filepath.Join(root, name)
		require.NoError(t, certify.NewShare(m, k, n, sel, cs).WriteShare(dir))
		require.True(t, certify.IsShare(dir))
		return dir
	}
	s0 := write("s0", 0, 2, meta, selection, cases[1], cases[3])
	s1 := write("s1", 1, 2, meta, selection, cases[0], cases[2], cases[4])

	cert, err := certify.MergeShares(filepath.Join(root, "merged"), []string{s1, s0})
	require.NoError(t, err)
	require.Equal(t, whole.Verdict, cert.Verdict)
	require.Equal(t, whole.Counts, cert.Counts)
	require.Equal(t, len(whole.Rules), len(cert.Rules))
	for i := range whole.Rules {
		require.Equal(t, whole.Rules[i].ID, cert.Rules[i].ID)
		require.Equal(t, whole.Rules[i].Result, cert.Rules[i].Result, whole.Rules[i].ID)
		require.Equal(t, whole.Rules[i].Why, cert.Rules[i].Why, whole.Rules[i].ID)
	}
	var names []string
	for _, c := range cert.Cases {
		names = append(names, c.Name)
	}
	require.Equal(t, selection, names, "the plan's order")
	require.FileExists(t, filepath.Join(root, "merged", certify.FileJSON))

	for _, bad := range []struct {
		want error
		dirs []string
	}{
		{reports.ErrShardMissing, []string{s0}},
		{reports.ErrShardDuplicate, []string{s0, s1, s0}},
		{reports.ErrShardMismatch, []string{s0, write("seed", 1, 2, certify.Meta{Client: meta.Client, ToolVersion: "v1", Seed: 8, Backend: "process"}, selection, cases[0], cases[2], cases[4])}},
		{reports.ErrShardMismatch, []string{s0, write("version", 1, 2, certify.Meta{Client: meta.Client, ToolVersion: "v2", Seed: 7, Backend: "process"}, selection, cases[0], cases[2], cases[4])}},
		{reports.ErrShardDuplicate, []string{s0, write("twice", 1, 2, meta, selection, cases[0], cases[1], cases[2], cases[4])}},
		{reports.ErrShardMissing, []string{s0, write("short", 1, 2, meta, selection, cases[0])}},
		{reports.ErrShardMissing, []string{s0, filepath.Join(root, "nowhere")}},
	} {
		_, err := certify.MergeShares(filepath.Join(root, "refused"), bad.dirs)
		require.ErrorIs(t, err, bad.want, "%v", bad.dirs)
		require.NoDirExists(t, filepath.Join(root, "refused"))
	}
}
