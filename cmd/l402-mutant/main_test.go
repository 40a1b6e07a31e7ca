package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/stretchr/testify/require"
)

// binDir holds the command built for this package's tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "l402-mutant-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildMutant builds the command once for the whole package's tests.
func buildMutant(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := mutant.Build(ctx, binDir)
	require.NoError(t, err)
	return bin
}

// exitOf runs bin with args and an empty environment.
func exitOf(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return o.String(), e.String(), ee.ExitCode()
	}
	require.NoError(t, err)
	return o.String(), e.String(), 0
}

func TestCommandLine(t *testing.T) {
	bin := buildMutant(t)
	t.Run("list", func(t *testing.T) {
		out, _, code := exitOf(t, bin, "-list")
		require.Zero(t, code)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		all := append(mutant.All(), mutant.Dialect()...)
		require.Len(t, lines, len(all))
		for i, m := range all {
			require.Equal(t, []string{m.Name, m.CaughtBy}, strings.Fields(lines[i])[:2])
		}
	})
	for name, args := range map[string][]string{
		"unknown-bug": {"-bug", "no-such-bug"},
		"no-bug":      nil,
		"bad-flag":    {"-nope"},
		"argument":    {"-bug", mutant.PayAnyAmount, "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, code := exitOf(t, bin, args...)
			require.Equal(t, exitUsage, code, stderr)
			require.Empty(t, out, "no report for a bad invocation")
		})
	}
	t.Run("every-mutant-is-accepted", func(t *testing.T) {
		for _, m := range append(mutant.All(), mutant.Dialect()...) {
			_, stderr, code := exitOf(t, bin, m.Args()...)
			require.Equal(t, 1, code, "%s: an empty environment is a failed attempt, not bad usage: %s", m.Name, stderr)
		}
	})
	t.Run("bad-environment-is-failed", func(t *testing.T) {
		out, _, code := exitOf(t, bin, "-bug", mutant.PayAnyAmount)
		require.Equal(t, 1, code)
		var rep client.Report
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		require.Equal(t, client.ReportFailed, rep.Outcome)
		require.Contains(t, rep.Error, "L402_URL", "the error names the variable")
	})
}
