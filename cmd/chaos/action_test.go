package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestActionScript runs the certify action's script (.github/certify.sh,
// what action.yml runs) as GitHub would: from a client's checkout, with
// the runner's files for the summary and the outputs.
func TestActionScript(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	script := filepath.Join(root, ".github", "certify.sh")
	run := func(t *testing.T, env ...string) (string, string, string, int) {
		work := t.TempDir()
		summary, outputs := filepath.Join(work, "summary.md"), filepath.Join(work, "outputs")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", script)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GITHUB_ACTION_PATH="+root, "RUNNER_TEMP="+t.TempDir(),
			"GITHUB_STEP_SUMMARY="+summary, "GITHUB_OUTPUT="+outputs, "L402_ACTION_OUT=cert")
		cmd.Env = append(cmd.Env, env...)
		out, _ := cmd.CombinedOutput()
		s, _ := os.ReadFile(summary)
		o, _ := os.ReadFile(outputs)
		return string(out), string(s), string(o), cmd.ProcessState.ExitCode()
	}

	t.Run("partial-reference", func(t *testing.T) {
		out, summary, outputs, code := run(t, "L402_ACTION_ARGS=-case ^token-reuse$ -dialect l402 -seed 3", "L402_ACTION_FAIL_ON_UNKNOWN=false")
		require.Zero(t, code, out)
		require.Contains(t, summary, "# l402chaos certificate: l402chaos reference client")
		require.Contains(t, summary, "img.shields.io/badge/l402chaos-not%20judged")
		require.Equal(t, "verdict=unknown", strings.TrimSpace(outputs))
		require.Contains(t, out, "some rules could not be judged; fail-on-unknown is false")
	})
	t.Run("unknown-fails-by-default", func(t *testing.T) {
		out, _, outputs, code := run(t, "L402_ACTION_ARGS=-case ^token-reuse$ -dialect l402 -seed 3")
		require.Equal(t, exitUnknown, code, out)
		require.Equal(t, "verdict=unknown", strings.TrimSpace(outputs))
	})
	t.Run("bad-input", func(t *testing.T) {
		out, _, _, code := run(t, "L402_ACTION_FAIL_ON_UNKNOWN=maybe")
		require.Equal(t, exitBadUsage, code, out)
		require.Contains(t, out, "fail-on-unknown: want true or false")
		out, summary, _, code := run(t, "L402_ACTION_ARGS=-dialect klingon")
		require.Equal(t, exitBadUsage, code, out)
		require.Contains(t, summary, "wrote no certificate (exit 64)")
	})
}
