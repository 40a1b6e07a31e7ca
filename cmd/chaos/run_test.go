package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/reports"
)

func TestRunCheckUsageErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"run", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "-seed", "ten"}, `invalid value "ten" for flag -seed`},
		{[]string{"run", "-seeds", "0"}, "-seeds 0: want 1 or more"},
		{[]string{"run", "-seeds", "3", "-seed", "4", "-shard", "0/2"}, "-seeds runs whole passes"},
		{[]string{"run", "-seeds", "2", "-json"}, "-json prints one pass's results"},
		{[]string{"run", "-client", "remote"}, `-client "remote": want exec or inprocess`},
		{[]string{"run", "-client-cmd", ""}, "empty command"},
		{[]string{"run", "-client-cmd", "  \t "}, "empty command"},
		{[]string{"run", "-client-cmd", `client "unterminated`}, "unterminated quote"},
		{[]string{"run", "-client-cmd", "client | tee log"}, `unquoted '|'`},
		{[]string{"run", "-client-cmd", "/nonexistent/l402-client --flag"}, "/nonexistent/l402-client"},
		{[]string{"run", "-client", "inprocess", "-client-cmd", "true"}, "cannot be combined with -client inprocess"},
		{[]string{"run", "-reports", ""}, "-reports: empty directory"},
		{[]string{"run", "-scenario", "(reset"}, "missing closing )"},
		{[]string{"run", "-parallel", "0"}, "-parallel 0: want 1 to 64"},
		{[]string{"run", "-parallel", "-3"}, "-parallel -3: want 1 to 64"},
		{[]string{"run", "-seed", "5", "-shard", "3/2"}, `invalid value "3/2" for flag -shard`},
		{[]string{"run", "-seed", "5", "-shard", "0/0"}, `invalid value "0/0" for flag -shard`},
		{[]string{"run", "-seed", "5", "-shard", "1"}, "want K/N"},
		{[]string{"run", "-shard", "1/4"}, "-shard 1/4 needs -seed"},
		{[]string{"certify", "-parallel", "0"}, "-parallel 0: want 1 to 64"},
		{[]string{"certify", "-shard", "0/2"}, "-shard 0/2 needs -seed"},
		{[]string{"certify", "-seed", "3", "-shard", "2/2"}, `invalid value "2/2" for flag -shard`},
		{[]string{"run", "-client-env", "NOEQUALS"}, `extra env "NOEQUALS": want NAME=value`},
		{[]string{"run", "-client-env", "1X=2"}, `"1X" is not a variable name`},
		{[]string{"run", "-client-env", "LND_RPCSERVER=x:1"}, "LND_RPCSERVER is a protocol variable"},
		{[]string{"run", "-client", "inprocess", "-client-env", "A=b"}, "cannot be combined with -client inprocess"},
		{[]string{"certify", "-client-env", "=x"}, `want NAME=value`},
		{[]string{"report"}, "want a subcommand"},
		{[]string{"report", "squash"}, `unknown subcommand "squash"`},
		{[]string{"report", "merge"}, "want the shares' report directories"},
		{[]string{"report", "merge", empty}, "cannot merge: missing"},
		{[]string{"report", "durations"}, "want one report directory"},
		{[]string{"run", "-scenario", "^no-such-scenario$"}, `no scenario matches "^no-such-scenario$"; the scenarios are: `},
		{[]string{"check"}, "want one directory, got 0 arguments"},
		{[]string{"check", empty, empty}, "want one directory, got 2 arguments"},
		{[]string{"check", "-x", empty}, "flag provided but not defined: -x"},
		{[]string{"check", filepath.Join(empty, "missing")}, "is not a directory"},
		{[]string{"check", empty}, "holds neither history.jsonl nor results.json"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, exitBadUsage, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "errors go to stderr only")
		})
	}
	_, err := os.Stat("chaos-reports")
	require.ErrorIs(t, err, os.ErrNotExist, "a usage error starts nothing and writes nothing")
}

func TestRunHelp(t *testing.T) {
	for _, cmd := range []string{"run", "check"} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, exitOK, run(context.Background(), []string{cmd, "-h"}, &stdout, &stderr))
		require.Contains(t, stderr.String(), "usage: chaos "+cmd)
		require.Contains(t, stderr.String(), "64 bad usage")
	}
}

// TestRunListsScenariosWhenNothingMatches: the message names what there is.
func TestRunListsScenariosWhenNothingMatches(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitBadUsage, run(context.Background(), []string{"run", "-scenario", "^$"}, &stdout, &stderr))
	msg := stderr.String()
	_, names, ok := strings.Cut(msg, "the scenarios are: ")
	require.True(t, ok, msg)
	require.NotEmpty(t, strings.TrimSpace(names))
}

// TestRunReplay: a run's replay line reruns the same client with the
// same variables and backend, and splits back into those flags.
func TestRunReplay(t *testing.T) {
	s := runSettings{command: []string{"/opt/my adapter", "--mode", "strict"}, clientEnv: []string{"ADAPTER_LOG=debug", "ODD=a b"}, kind: clientExec}
	s.backend.name = backendContainers
	line := runReplay(s, "crash-htlc-held", 42)
	require.Equal(t, `go run ./cmd/chaos run -scenario='^crash-htlc-held$' -seed=42 -client-cmd=''\''/opt/my adapter'\'' --mode strict' -client-env=ADAPTER_LOG=debug -client-env='ODD=a b' -backend=containers`, line)
	words, err := splitCommand(line)
	require.NoError(t, err)
	require.Contains(t, words, "-client-cmd='/opt/my adapter' --mode strict")
	require.Contains(t, words, "-client-env=ODD=a b")
	s = runSettings{kind: clientInProcess}
	s.backend.name = backendProcess
	require.Equal(t, "go run ./cmd/chaos run -scenario='^x$' -seed=1 -client=inprocess", runReplay(s, "x", 1))
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{in: "chaos client", want: []string{"chaos", "client"}},
		{in: "  node   client.js\t--v  ", want: []string{"node", "client.js", "--v"}},
		{in: `python3 -m my_client --name 'two words'`, want: []string{"python3", "-m", "my_client", "--name", "two words"}},
		{in: `cl "a \"quoted\" \\ word" x`, want: []string{"cl", `a "quoted" \ word`, "x"}},
		{in: `cl "keeps \n and \t"`, want: []string{"cl", `keeps \n and \t`}},
		{in: `cl 'single \ keeps "all"'`, want: []string{"cl", `single \ keeps "all"`}},
		{in: `cl a\ b`, want: []string{"cl", "a b"}},
		{in: `cl ''`, want: []string{"cl", ""}},
		{in: `cl pre'mid'"post"`, want: []string{"cl", "premidpost"}},
		{in: `cl '|' "$HOME" \;`, want: []string{"cl", "|", "$HOME", ";"}},
		{in: `cl *.json ~/x`, want: []string{"cl", "*.json", "~/x"}},
		// Where shlex alone differs from a shell: # is no comment here,
		// and a backslash in double quotes stays unless it escapes " \ $ `.
		{in: "cl #x a#b\n#y", want: []string{"cl", "#x", "a#b", "#y"}},
		{in: `cl "a\ b\'c"`, want: []string{"cl", `a\ b\'c`}},
		{in: `cl "ends \`, err: errUnterminated},
		{in: `cl "a\"`, err: errUnterminated},
		{in: `cl "a | b" 'c;d' e\>f`, want: []string{"cl", "a | b", "c;d", "e>f"}},
		{in: "", err: errEmptyCommand},
		{in: " \t\n", err: errEmptyCommand},
		{in: `''`, err: errEmptyCommand},
		{in: `cl 'open`, err: errUnterminated},
		{in: `cl "open`, err: errUnterminated},
		{in: `cl \`, err: errTrailingEscape},
		{in: `cl > out`, err: errShellSyntax},
		{in: `cl; rm -rf x`, err: errShellSyntax},
		{in: `cl $HOME`, err: errShellSyntax},
		{in: "cl `id`", err: errShellSyntax},
		{in: `cl && other`, err: errShellSyntax},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := splitCommand(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestJoinCommandSplitsBack(t *testing.T) {
	for _, words := range [][]string{
		{"/bin/chaos", "client"},
		{"node", "two words", "it's", `"dq"`, "$HOME", "a|b", ""},
	} {
		got, err := splitCommand(joinCommand(words))
		require.NoError(t, err)
		require.Equal(t, words, got)
	}
	require.Equal(t, "/bin/chaos client", joinCommand([]string{"/bin/chaos", "client"}))
}

func TestVerdictExit(t *testing.T) {
	require.NoError(t, verdictExit(check.Valid))
	require.Equal(t, exitCode(exitInvalid), verdictExit(check.Invalid))
	require.Equal(t, exitCode(exitUnknown), verdictExit(check.Unknown))
}

// A synthetic run record: purchase k1 challenged, paid, delivered,
// reported; with paidTwice, a second run of k1 is challenged again and
// pays again.

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

const priceMsat = 100_000

func hashOf(n byte) string { return strings.Repeat(hex.EncodeToString([]byte{n}), 32) }

func bodyOf(key string) string {
	b := sha256.Sum256([]byte(key))
	return hex.EncodeToString(b[:])
}

func runRecord(paidTwice bool) (history.History, *history.Truth) {
	const key = "k1"
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var h history.History
	add := func(e history.Event) {
		e.Index = int64(len(h))
		h = append(h, e)
	}
	tr := &history.Truth{
		Started: t0, Collected: t0.Add(time.Minute),
		Plan: history.Plan{
			Purchases: []history.PlannedPurchase{{Key: key, Method: http.MethodGet, URL: "http://provider/data/p/k1", Path: "/data/p/k1", Service: "data", MaxCostMsat: 1_000_000}},
			Services:  []history.Service{{Name: "data", PerToken: true, TokenTTL: time.Hour, PriceMsat: priceMsat}},
		},
		Payer: "alice", Payee: "bob",
	}
	seq := int64(0)
	next := func() int64 { seq++; return seq }
	buy := func(attempt int, at time.Duration, hash string) {
		add(history.Event{Time: at, Process: attempt - 1, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: attempt})
		tr.Requests = append(tr.Requests, history.Request{
			Seq: next(), Time: t0.Add(at + ms(100)), Method: http.MethodGet, Path: "/data/p/k1", Service: "data", Key: key, Purchase: key,
			Status: http.StatusPaymentRequired, InvoiceHash: hash, MacaroonHash: hash, AmountMsat: priceMsat, TokenID: "tok-" + hash[:8],
		})
		tr.Invoices = append(tr.Invoices, history.Invoice{Hash: hash, State: history.InvoiceSettled, ValueMsat: priceMsat, AmtPaidMsat: priceMsat,
			Created: t0.Add(at + ms(100)), Settled: t0.Add(at + ms(300)), Expiry: time.Hour})
		tr.Payments = append(tr.Payments, history.Payment{Hash: hash, Status: history.PaymentSucceeded, ValueMsat: priceMsat,
			Created: t0.Add(at + ms(200)), Resolved: t0.Add(at + ms(300))})
		tr.Requests = append(tr.Requests, history.Request{
			Seq: next(), Time: t0.Add(at + ms(400)), Method: http.MethodGet, Path: "/data/p/k1", Service: "data", Key: key, Purchase: key,
			Status: http.StatusOK, CredentialHash: hash, CredentialToken: "tok-" + hash[:8], CredentialValid: true,
		})
		tr.Deliveries = append(tr.Deliveries, history.Delivery{Seq: next(), RequestSeq: seq - 1, Time: t0.Add(at + ms(400)), Path: "/data/p/k1",
			Key: key, Purchase: key, PaymentHash: hash, TokenID: "tok-" + hash[:8], Status: http.StatusOK, BodySHA256: bodyOf(key)})
		add(history.Event{Time: at + ms(500), Process: attempt - 1, Type: history.OK, F: history.Purchase, Key: key, Attempt: attempt,
			Value: &history.Result{Outcome: history.Delivered, Status: http.StatusOK, BodySHA256: bodyOf(key), PaymentHash: hash, PaidMsat: priceMsat}})
	}
	buy(1, 0, hashOf(0x11))
	spent := int64(priceMsat)
	if paidTwice {
		buy(2, ms(1000), hashOf(0x22))
		spent *= 2
	}
	const start = 1_000_000_000
	tr.Before = map[string]history.Balance{"alice": {LocalMsat: start}, "bob": {LocalMsat: start}}
	tr.After = map[string]history.Balance{"alice": {LocalMsat: start - spent}, "bob": {LocalMsat: start + spent}}
	return h, tr
}

func writeRecord(t *testing.T, dir string, h history.History, tr *history.Truth) {
	t.Helper()
	require.NoError(t, history.WriteRecord(dir, h, tr))
}

func TestCheckValidRun(t *testing.T) {
	dir := t.TempDir()
	h, tr := runRecord(false)
	writeRecord(t, dir, h, tr)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", dir}, &stdout, &stderr)
	require.Equal(t, exitOK, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	require.Contains(t, stdout.String(), "rechecked 1 runs in "+dir)
	require.Regexp(t, `(?m)^\S+\s+=\s+VALID\s+\d+ checks: \d+ valid, 0 invalid, 0 unknown`, stdout.String())
	require.NotContains(t, stdout.String(), "invalid  ")
	require.NotContains(t, stdout.String(), "replay", "the seed of a lone run directory is not known")
}

func TestCheckInvalidRun(t *testing.T) {
	dir := t.TempDir()
	h, tr := runRecord(true)
	writeRecord(t, dir, h, tr)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", dir}, &stdout, &stderr)
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	out := stdout.String()
	require.Regexp(t, `(?m)^\S+\s+at-most-once\s+invalid\s+.*k1.*`+hashOf(0x11)[:8]+`.*`+hashOf(0x22)[:8], out, "the witness names the purchase and both payments")
	require.Regexp(t, `(?m)\[#\d+( #\d+)*\]$`, out, "and the history events")
	require.Regexp(t, `(?m)=\s+INVALID`, out)

	var jout, jerr bytes.Buffer
	require.Equal(t, exitInvalid, run(context.Background(), []string{"check", "-json", dir}, &jout, &jerr))
	r, err := reports.ReadJSON(&jout)
	require.NoError(t, err, "with -json, stdout is results.json alone")
	require.Equal(t, check.Invalid, r.Verdict)
	require.Contains(t, jerr.String(), "at-most-once", "the table goes to stderr")
}

func TestCheckUnknownRun(t *testing.T) {
	dir := t.TempDir()
	h, tr := runRecord(true)
	tr.Errors = []string{"list payments: connection refused"}
	writeRecord(t, dir, h, tr)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", dir}, &stdout, &stderr)
	require.Equal(t, exitUnknown, code, "the harness missed facts: never a verdict against the client\nstdout: %s", stdout.String())
	require.Regexp(t, `(?m)=\s+UNKNOWN`, stdout.String())

	// A history that cannot be read is the harness's failure too.
	require.NoError(t, os.WriteFile(filepath.Join(dir, history.HistoryFile), []byte("{not json\n"), 0o644))
	stdout.Reset()
	code = run(context.Background(), []string{"check", dir}, &stdout, &stderr)
	require.Equal(t, exitUnknown, code, stdout.String())
	require.Regexp(t, `(?m)\s+harness\s+unknown\s+recheck`, stdout.String())
}

// TestCheckReportDir: chaos check on a whole report directory (moved
// since it was written) rechecks every run, keeps the recorded seeds and
// coverage, and prints the replay line of the failing run.
func TestCheckReportDir(t *testing.T) {
	dir := t.TempDir()
	hv, tv := runRecord(false)
	hi, ti := runRecord(true)
	writeRecord(t, filepath.Join(dir, "good"), hv, tv)
	writeRecord(t, filepath.Join(dir, "double-pay"), hi, ti)
	runs := []*check.RunResult{
		{Scenario: "good", Seed: 42, Replay: harness.ReplayCommand("good", 42), Dir: "/elsewhere/good", Coverage: []check.CoverageResult{{Name: "paid", Reached: true}},
			Results: []check.Result{{Checker: "at-most-once", Validity: check.Valid}}},
		// Recorded as valid: the checkers have changed since.
		{Scenario: "double-pay", Seed: 42, Replay: harness.ReplayCommand("double-pay", 42), Dir: "/elsewhere/double-pay", Coverage: []check.CoverageResult{{Name: "paid", Reached: true}},
			Results: []check.Result{{Checker: "at-most-once", Validity: check.Valid}}},
	}
	f, err := os.Create(filepath.Join(dir, reports.FileResults))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, reports.WriteJSON(f, reports.New(runs, reports.Meta{Seed: 42})))
	require.NoError(t, f.Close())

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"check", dir}, &stdout, &stderr)
	require.Equal(t, exitInvalid, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
	out := stdout.String()
	require.Contains(t, out, "rechecked 2 runs")
	require.Contains(t, out, "note: double-pay was valid when it ran; the checkers now say invalid")
	require.Regexp(t, `(?m)^good\s+=\s+VALID\s+.*coverage 1/1; seed 42`, out)
	require.Regexp(t, `(?m)^double-pay\s+at-most-once\s+invalid\s+`, out)
	require.Contains(t, out, harness.ReplayCommand("double-pay", 42))

	// A run directory inside it finds its seed in the parent's
	// results.json.
	stdout.Reset()
	code = run(context.Background(), []string{"check", filepath.Join(dir, "double-pay")}, &stdout, &stderr)
	require.Equal(t, exitInvalid, code)
	require.Contains(t, stdout.String(), harness.ReplayCommand("double-pay", 42))
}
