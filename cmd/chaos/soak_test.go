package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/soak"
	"github.com/l402chaos/l402chaos/internal/gobuild"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/reports"
)

func TestSoakFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no duration":    {nil, "-duration is required"},
		"zero duration":  {[]string{"-duration", "0s"}, "-duration 0s"},
		"bad duration":   {[]string{"-duration", "soon"}, "invalid value"},
		"negative rate":  {[]string{"-duration", "1m", "-rate", "-1"}, "-rate -1"},
		"zero conc":      {[]string{"-duration", "1m", "-concurrency", "0"}, "-concurrency 0"},
		"short window":   {[]string{"-duration", "1m", "-window", "10ms"}, "-window 10ms"},
		"bad nemesis":    {[]string{"-duration", "1m", "-nemesis", "chaotic"}, `-nemesis "chaotic"`},
		"missing file":   {[]string{"-duration", "1m", "-nemesis", "schedule:/no/such/file"}, "no such file"},
		"bad client cmd": {[]string{"-duration", "1m", "-client-cmd", "a | b"}, "shell syntax"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"soak"}, tc.args...), &stdout, &stderr)
			require.Equal(t, exitBadUsage, code, stderr.String())
			require.Contains(t, stderr.String(), tc.want)
		})
	}
	// A schedule with an unknown fault names the op and the field.
	bad := filepath.Join(t.TempDir(), "nemesis.json")
	require.NoError(t, os.WriteFile(bad, []byte(`[{"at":"1s","fault":"meteor","for":"2s"}]`), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"soak", "-duration", "1m", "-nemesis", "schedule:" + bad}, &stdout, &stderr)
	require.Equal(t, exitBadUsage, code)
	require.Contains(t, stderr.String(), `op 1: fault: unknown fault "meteor"`)
}

func writeSchedule(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nemesis.json")
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
	return path
}

// The reference client soaks under faults and stays valid; the record,
// the series, the reports and the page are written, and chaos check
// judges the directory again.
func TestSoakReference(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak runs a network for a minute")
	}
	dir := filepath.Join(t.TempDir(), "soak")
	sched := writeSchedule(t, `[
		{"at": "6s", "fault": "latency client-provider downstream 500ms", "for": "6s"},
		{"at": "15s", "fault": "knob error-after", "for": "6s"},
		{"at": "24s", "fault": "crash at payment-in-flight", "for": "8s"}
	]`)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"soak", "-duration", "40s", "-rate", "2", "-window", "5s",
		"-seed", "7", "-out", dir, "-nemesis", "schedule:" + sched}, &stdout, &stderr)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	require.Equal(t, 0, code)
	require.Contains(t, stdout.String(), "VALID: soak of 40s")
	require.Regexp(t, `metrics: http://127\.0\.0\.1:\d+/metrics`, stdout.String())
	for _, f := range []string{history.HistoryFile, history.TruthFile, history.SeriesFile, "nemesis.json", reports.FileResults, reports.FileSoak} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	h, err := history.ReadHistory(dir)
	require.NoError(t, err)
	ok := 0
	for _, e := range h {
		if e.Type == history.OK {
			ok++
		}
	}
	require.Greater(t, ok, 20, "about two purchases a second for 40s")
	series, err := history.ReadSeries(dir)
	require.NoError(t, err)
	require.NotEmpty(t, series)
	require.Positive(t, series[len(series)-1].Harness.RSSBytes)

	stdout.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"check", dir}, &stdout, &stderr), stdout.String())
}

// A broken client is caught by a soak within its first windows, and
// -stop-on-invalid ends the soak there.
func TestSoakCatchesMutant(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak runs a network")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := mutant.Build(ctx, t.TempDir())
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "soak")
	sched := writeSchedule(t, `[{"at": "3s", "fault": "knob overpriced-invoice", "for": "20s"}]`)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(ctx, []string{"soak", "-duration", "3m", "-rate", "2", "-window", "3s", "-seed", "1", "-out", dir,
		"-nemesis", "schedule:" + sched, "-stop-on-invalid", "-client-cmd", bin + " -bug " + mutant.PayAnyAmount}, &stdout, &stderr)
	took := time.Since(start)
	t.Logf("took %s\nstdout:\n%s\nstderr:\n%s", took, stdout.String(), stderr.String())
	require.Equal(t, exitInvalid, code)
	require.Contains(t, stderr.String(), "INVALID at")
	require.Contains(t, stdout.String(), mutant.PriceCap)
	require.Less(t, took, 2*time.Minute, "stopped at the first invalid verdict")
}

// waitForPurchases waits until a soak's record holds n delivered
// purchases.
func waitForPurchases(t *testing.T, dir string, n int, out *bytes.Buffer) {
	t.Helper()
	require.Eventually(t, func() bool {
		if _, err := os.Stat(filepath.Join(dir, history.TruthFile)); err != nil {
			return false
		}
		h, err := history.ReadHistory(dir)
		if err != nil {
			return false
		}
		ok := 0
		for _, e := range h {
			if e.Type == history.OK {
				ok++
			}
		}
		return ok >= n
	}, 3*time.Minute, 200*time.Millisecond, "output so far:\n%s", out)
}

// startSoak starts a ten-minute soak without faults in a chaos binary of
// its own, for a test to interrupt or kill.
func startSoak(t *testing.T, seed string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	// What the soak puts in the temporary directory (its run directory,
	// the reference client's build, the client's state) goes in one of
	// the test's own, so a soak killed with kill -9 leaves nothing behind.
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	bin, err := gobuild.Command(ctx, "./cmd/chaos", t.TempDir(), "chaos")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "soak")
	out := &bytes.Buffer{}
	cmd := exec.CommandContext(ctx, bin, "soak", "-duration", "10m", "-rate", "2", "-window", "2s", "-seed", seed,
		"-nemesis", "none", "-out", dir, "-metrics-listen", "")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, dir, out
}

// Ctrl-C ends the traffic, and the soak heals, finishes, judges and
// writes its reports.
func TestSoakInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak runs a network")
	}
	cmd, dir, out := startSoak(t, "5")
	waitForPurchases(t, dir, 5, out)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err := cmd.Wait()
	t.Logf("output:\n%s", out)
	require.NoError(t, err, "valid: exit 0")
	require.Contains(t, out.String(), "interrupted: healing, finishing and judging")
	require.Contains(t, out.String(), "VALID: soak of 10m0s")
	require.FileExists(t, filepath.Join(dir, reports.FileResults))
	require.FileExists(t, filepath.Join(dir, reports.FileSoak))
}

// A soak whose harness is killed (kill -9) leaves a record that chaos
// check judges offline.
func TestSoakKilledIsCheckedOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak runs a network")
	}
	cmd, dir, out := startSoak(t, "3")

	// Wait until a window sampled the truth after a few purchases.
	waitForPurchases(t, dir, 5, out)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// The dead harness's run directory is left for the next start's
	// sweep; this test is that start, in the soak's temporary directory.
	tmp := os.TempDir()
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			tmp = v
		}
	}
	t.Cleanup(func() {
		removed, err := regtest.Sweep(tmp)
		assert.NoError(t, err)
		t.Logf("swept %v", removed)
	})

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", "-v", dir}, &stdout, &stderr)
	t.Logf("check: exit %d\n%s%s", code, stdout.String(), stderr.String())
	require.Contains(t, []int{0, exitUnknown}, code, "a killed soak is judged, never a usage error")
	require.True(t, strings.Contains(stdout.String(), "rechecked 1 runs"), stdout.String())
	require.NotRegexp(t, `(?m)^soak\s+\S+\s+invalid`, stdout.String(), "no checker blames the client for the harness's death")
	require.Regexp(t, `(?m)^soak\s+at-most-once\s+valid`, stdout.String(), "the safety checkers judge the sample")
	require.Regexp(t, `(?m)^soak\s+eventual-resolution\s+unknown\s+the run did not finish`, stdout.String())
}

// Once the traffic has ended the line says what the soak is doing: the
// final reruns can take a client's timeout each.
func TestSoakLineEnding(t *testing.T) {
	st := soak.Status{Elapsed: 31 * time.Minute, Duration: 30 * time.Minute, OK: 10, Verdict: check.Valid}
	require.Contains(t, soakLine(st), "p50")
	st.Ending = true
	require.Contains(t, soakLine(st), "traffic ended: healing")
	st.Rerun, st.Reruns = 5, 37
	line := soakLine(st)
	require.Contains(t, line, "rerunning what is in doubt, 5 of 37")
	require.NotContains(t, line, "p50")
}
