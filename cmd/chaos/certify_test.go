package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/client/mutant"
)

func TestCertifyUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "descriptor.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"l402chaos_adapter":1,"name":"x","capabilities":["ftp"]}`), 0o644))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"certify", "-seed", "-1"}, "-seed -1: want a positive seed"},
		{[]string{"certify", "-dialect", "klingon"}, `unknown dialect "klingon"`},
		{[]string{"certify", "-case", "(x"}, "missing closing )"},
		{[]string{"certify", "-case", "^nothing$"}, `no case matches "^nothing$"`},
		{[]string{"certify", "-out", ""}, "-out: empty directory"},
		{[]string{"certify", "-client-name", " "}, "-client-name: empty"},
		{[]string{"certify", "-client-cmd", "a | b"}, `unquoted '|'`},
		{[]string{"certify", "-client-cmd", "true", "-descriptor", bad}, `descriptor: capabilities[0]: unknown capability "ftp"`},
		{[]string{"certify", "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, exitBadUsage, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
	_, err := os.Stat("chaos-certificates")
	require.ErrorIs(t, err, os.ErrNotExist, "a usage error writes nothing")
}

func TestCertifyRules(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"certify", "-rules"}, &stdout, &stderr), stderr.String())
	for _, r := range certify.Rules() {
		require.Contains(t, stdout.String(), r.ID)
	}
}

// A client command that does not run, exits at once or prints garbage
// gets an adapter error: every rule unknown (exit 3), never a verdict
// against the client, and a line saying what was wrong. After two cases
// that said nothing usable, the rest are not run.
func TestCertifyAdapterErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cmd, want string
	}{
		"missing": {"/nonexistent/l402-adapter", "adapter error"},
		"exits":   {"false", `adapter error: attempt 1 of k1: purchase "k1": adapter protocol: no report (exit 1`},
		"garbage": {`sh -c 'echo "<html>garbage</html>"'`, `adapter protocol: no report (exit 0, stderr in`},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"certify", "-client-cmd", tc.cmd, "-case", `^token-reuse(@lsat|@case)?$`, "-seed", "5", "-out", out}, &stdout, &stderr)
			require.Equal(t, exitUnknown, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			require.Contains(t, stdout.String()+stderr.String(), tc.want)
			cert, err := certify.ReadCertificate(filepath.Join(out, certify.FileJSON))
			require.NoError(t, err)
			require.Equal(t, certify.Unknown, cert.Verdict)
			require.Zero(t, cert.Counts.Fail, "an adapter error is never a verdict against the client")
			require.NotEmpty(t, cert.AdapterErrors)
			if name != "missing" {
				require.Contains(t, stdout.String(), "not run: the client's first cases answered nothing usable")
			}
		})
	}
}

// The reference client on a few cases writes the four outputs; a partial
// run cannot certify (rules left out are unknown: exit 3). A client that
// reads only today's challenge fails the dialect rules: exit 1, with the
// witness and the replay line.
func TestCertifyReferenceAndBrokenClient(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"certify", "-case", `^(token-reuse|amountless-invoice)(@lsat|@grpc)?$`, "-seed", "11", "-out", out}, &stdout, &stderr)
	require.Equal(t, exitUnknown, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	for _, f := range []string{certify.FileJSON, certify.FileMarkdown, certify.FileHTML, certify.FileJUnit} {
		st, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		require.NotZero(t, st.Size(), f)
	}
	cert, err := certify.ReadCertificate(filepath.Join(out, certify.FileJSON))
	require.NoError(t, err)
	require.True(t, cert.Partial)
	require.True(t, cert.Client.Described, "the reference client answers --describe")
	require.Zero(t, cert.Counts.Fail)
	for _, r := range cert.Rules {
		switch r.ID {
		case "L402-INV-02", "L402-HDR-03", "SAFE-01", "L402-PAY-01", "L402-GRPC-01":
			require.Equal(t, certify.Pass, r.Result, "%s: %s", r.ID, r.Why)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := mutant.Build(ctx, t.TempDir())
	cancel()
	require.NoError(t, err)
	out = t.TempDir()
	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"certify", "-client-cmd", joinCommand([]string{bin, "-bug", mutant.StrictChallenge}),
		"-case", `^token-reuse(@lsat|@l402-legacy)?$`, "-seed", "11", "-out", out}, &stdout, &stderr)
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "L402-HDR-02 fail: token-reuse@l402-legacy: delivered: purchase k1 was not delivered")
	require.Contains(t, stdout.String(), "replay: go run ./cmd/chaos certify -case='^token-reuse@l402-legacy$' -seed=11 -client-cmd=")
	cert, err = certify.ReadCertificate(filepath.Join(out, certify.FileJSON))
	require.NoError(t, err)
	require.Equal(t, certify.Fail, cert.Verdict)
	require.False(t, cert.Client.Described, "the mutant gives no descriptor: protocol v1 assumed")
	byID := map[string]certify.RuleResult{}
	for _, r := range cert.Rules {
		byID[r.ID] = r
	}
	require.Equal(t, certify.Pass, byID["L402-HDR-01"].Result, "today's challenge it reads")
	require.Equal(t, certify.Fail, byID["L402-HDR-02"].Result)
	require.Equal(t, certify.Fail, byID["L402-HDR-03"].Result)
	require.Equal(t, certify.Pass, byID["SAFE-01"].Result, "it never pays twice")
}
