package adapter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/stretchr/testify/require"
)

func TestExecReports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		script string
		want   history.Result
	}{
		{
			name: "delivered",
			script: `echo "a log line"
echo '{"outcome":"delivered","status":200,"body_sha256":"9f86","payment_hash":"3b1c","paid_msat":250000,"error":"","extra":{"x":[1,2]}}'`,
			want: history.Result{Outcome: history.Delivered, Status: 200, BodySHA256: "9f86", PaymentHash: "3b1c", PaidMsat: 250000},
		},
		{
			name:   "failed",
			script: `echo '{"outcome":"failed","status":404,"error":"not found"}'; exit 1`,
			want:   history.Result{Outcome: history.Failed, Status: 404, Error: "not found", ExitCode: 1},
		},
		{
			name:   "unknown-paid-not-delivered",
			script: `echo '{"outcome":"unknown","payment_hash":"ab","paid_not_delivered":true}'; exit 2`,
			want:   history.Result{Outcome: history.Unknown, PaymentHash: "ab", PaidNotDelivered: true, ExitCode: 2},
		},
		{
			name:   "crlf-and-trailing-blank-lines",
			script: `printf '{"outcome":"delivered","status":200}\r\n\r\n  \n'`,
			want:   history.Result{Outcome: history.Delivered, Status: 200},
		},
		{
			name:   "client-may-not-claim-killed",
			script: `echo '{"outcome":"delivered","killed":true,"exit_code":7}'`,
			want:   history.Result{Outcome: history.Delivered},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := scriptExec(t, tc.script)
			res, err := e.Purchase(context.Background(), buy("k1"))
			require.NoError(t, err)
			require.Equal(t, tc.want, res)
		})
	}
}

func TestExecProtocolErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		script   string
		reason   error
		exitCode int
	}{
		{"no-output", `exit 0`, ErrNoReport, 0},
		{"plain-text", `echo "bought it"`, ErrNoReport, 0},
		{"report-then-log", `echo '{"outcome":"delivered"}'; echo done`, ErrNoReport, 0},
		{"broken-json", `echo '{"outcome":"delivered"'`, ErrBadReport, 0},
		{"json-array", `echo '[{"outcome":"delivered"}]'`, ErrBadReport, 0},
		{"json-null", `echo 'null'`, ErrBadReport, 0},
		{"missing-outcome", `echo '{"status":200}'`, ErrBadReport, 0},
		{"unknown-outcome", `echo '{"outcome":"ok"}'`, ErrBadReport, 0},
		{"wrong-type", `echo '{"outcome":"delivered","status":"200"}'`, ErrBadReport, 0},
		{"trailing-data", `echo '{"outcome":"delivered"} {}'`, ErrBadReport, 0},
		{"delivered-exit-1", `echo '{"outcome":"delivered"}'; exit 1`, ErrExitMismatch, 1},
		{"failed-exit-0", `echo '{"outcome":"failed"}'`, ErrExitMismatch, 0},
		{"unknown-exit-3", `echo '{"outcome":"unknown"}'; exit 3`, ErrExitMismatch, 3},
		{"crash-no-report", `echo "half a line"; kill -SEGV $$`, ErrNoReport, -1},
		// A SIGKILL the harness did not send is a crash, not a kill.
		{"crash-after-report", `echo '{"outcome":"delivered"}'; kill -KILL $$`, ErrExitMismatch, -1},
		{"exit-3-no-report", `echo oops >&2; exit 3`, ErrNoReport, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := scriptExec(t, tc.script)
			res, err := e.Purchase(context.Background(), buy("k1"))
			require.ErrorIs(t, err, tc.reason)
			for _, other := range []error{ErrNoReport, ErrBadReport, ErrExitMismatch, ErrKilled, ErrTimeout} {
				if other != tc.reason {
					require.NotErrorIs(t, err, other)
				}
			}
			require.Equal(t, history.Result{ExitCode: tc.exitCode}, res, "an attempt without a usable report claims nothing")
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tc.exitCode, pe.ExitCode)
			require.Equal(t, e.Logs("k1"), []string{pe.Log})
			require.FileExists(t, pe.Log)
		})
	}
}

func TestExecStderrLog(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo "step one" >&2; echo "step two" >&2; echo '{"outcome":"delivered"}'`)
	for range 2 {
		_, err := e.Purchase(context.Background(), buy("k/1 x"))
		require.NoError(t, err)
	}
	logs := e.Logs("k/1 x")
	require.Len(t, logs, 2)
	require.NotEqual(t, logs[0], logs[1], "one log per attempt")
	for _, l := range logs {
		require.Equal(t, filepath.Join(e.root, "logs", "instance-0"), filepath.Dir(l))
		b, err := os.ReadFile(l)
		require.NoError(t, err)
		require.Equal(t, "step one\nstep two\n", string(b))
	}
	require.Empty(t, e.Logs("other"))
}

func TestExecHugeStdout(t *testing.T) {
	t.Parallel()
	// 8 MiB of log lines, then the report.
	e := scriptExec(t, `head -c 8388608 /dev/zero | tr '\0' 'x' | fold -w 1000; echo
echo '{"outcome":"delivered","status":200}'`)
	res, err := e.Purchase(context.Background(), buy("k1"))
	require.NoError(t, err)
	require.Equal(t, history.Result{Outcome: history.Delivered, Status: 200}, res)

	// Without a report, the error carries only the end of stdout.
	e = scriptExec(t, `head -c 1048576 /dev/zero | tr '\0' 'x'; echo`)
	_, err = e.Purchase(context.Background(), buy("k1"))
	require.ErrorIs(t, err, ErrNoReport)
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Stdout, stdoutLimit)
	require.Less(t, len(err.Error()), 1000)
}

func TestExecTimeout(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `trap '' TERM INT; sleep 60`, WithGrace(200*time.Millisecond))
	p := buy("k1")
	p.Timeout = 500 * time.Millisecond // rounded up to 1s
	start := time.Now()
	res, err := e.Purchase(context.Background(), p)
	require.ErrorIs(t, err, ErrTimeout)
	require.NotErrorIs(t, err, ErrKilled)
	require.Equal(t, history.Result{ExitCode: -1}, res, "outliving its deadline is not a kill by the harness")
	require.GreaterOrEqual(t, time.Since(start), time.Second+200*time.Millisecond)
	require.Less(t, time.Since(start), 10*time.Second)
	require.Zero(t, e.Running("k1"))
}

func TestExecKill(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo started > "$L402_STATE_DIR/started.$L402_IDEMPOTENCY_KEY"; sleep 60; echo '{"outcome":"delivered"}'`)
	ch := purchaseAsync(context.Background(), e, buy("k1"))
	other := purchaseAsync(context.Background(), e, buy("k2"))
	waitFile(t, filepath.Join(e.StateDir(0), "started.k1"))
	waitFile(t, filepath.Join(e.StateDir(0), "started.k2"))
	require.Equal(t, 1, e.Running("k1"))

	killed := time.Now()
	n, err := e.Kill("k1")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Less(t, time.Since(killed), time.Second, "Kill does not wait for the process")
	r := receive(t, ch, 10*time.Second)
	require.ErrorIs(t, r.err, ErrKilled)
	require.Equal(t, history.Result{ExitCode: -1, Killed: true}, r.res)
	require.Less(t, r.at.Sub(killed), 5*time.Second)
	require.Zero(t, e.Running("k1"))

	n, err = e.Kill("k1")
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to kill")
	require.Equal(t, 1, e.Running("k2"), "other keys are untouched")
	_, err = e.Kill("k2")
	require.NoError(t, err)
	require.ErrorIs(t, receive(t, other, 10*time.Second).err, ErrKilled)
}

func TestExecContextEnd(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo started > "$L402_STATE_DIR/started"; sleep 60`)
	ctx, cancel := context.WithCancel(context.Background())
	ch := purchaseAsync(ctx, e, buy("k1"))
	waitFile(t, filepath.Join(e.StateDir(0), "started"))
	cancel()
	r := receive(t, ch, 10*time.Second)
	require.ErrorIs(t, r.err, ErrKilled)
	require.ErrorIs(t, r.err, context.Canceled)
	require.Equal(t, history.Result{ExitCode: -1, Killed: true}, r.res)

	_, err := e.Purchase(ctx, buy("k1"))
	require.ErrorIs(t, err, context.Canceled, "a purchase whose context has ended does not start")
	require.Len(t, e.Logs("k1"), 1)
}

func TestExecConcurrentSameKey(t *testing.T) {
	t.Parallel()
	// Each process waits until both are running: serialised attempts
	// would never finish.
	e := scriptExec(t, `touch "$L402_STATE_DIR/run.$$"
while [ "$(ls "$L402_STATE_DIR" | grep -c '^run\.')" -lt 2 ]; do sleep 0.02; done
echo '{"outcome":"delivered"}'`)
	p := buy("k1")
	p.Timeout = 20 * time.Second
	a := purchaseAsync(context.Background(), e, p)
	b := purchaseAsync(context.Background(), e, p)
	for _, ch := range []<-chan purchaseResult{a, b} {
		r := receive(t, ch, 30*time.Second)
		require.NoError(t, r.err)
		require.Equal(t, history.Delivered, r.res.Outcome)
	}
	require.Len(t, e.Logs("k1"), 2)
	require.Zero(t, e.Running("k1"))
}

func TestExecKillWhileConcurrent(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `touch "$L402_STATE_DIR/run.$$"; sleep 60`)
	a := purchaseAsync(context.Background(), e, buy("k1"))
	b := purchaseAsync(context.Background(), e, buy("k1"))
	require.Eventually(t, func() bool {
		m, _ := filepath.Glob(filepath.Join(e.StateDir(0), "run.*"))
		return len(m) == 2
	}, 20*time.Second, 10*time.Millisecond)
	require.Equal(t, 2, e.Running("k1"))
	n, err := e.Kill("k1")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, ch := range []<-chan purchaseResult{a, b} {
		r := receive(t, ch, 10*time.Second)
		require.ErrorIs(t, r.err, ErrKilled)
		require.True(t, r.res.Killed)
	}
}

func TestExecClose(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo started > "$L402_STATE_DIR/started"; sleep 60`)
	ch := purchaseAsync(context.Background(), e, buy("k1"))
	waitFile(t, filepath.Join(e.StateDir(0), "started"))
	require.NoError(t, e.Close())
	r := receive(t, ch, 10*time.Second)
	require.ErrorIs(t, r.err, ErrKilled)
	require.ErrorIs(t, r.err, ErrClosed)
	require.True(t, r.res.Killed)
	require.NoError(t, e.Close(), "Close is idempotent")
	_, err := e.Purchase(context.Background(), buy("k1"))
	require.ErrorIs(t, err, ErrClosed)
}

func TestExecInstances(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo "$L402_IDEMPOTENCY_KEY" >> "$L402_STATE_DIR/keys"; echo '{"outcome":"delivered"}'`)
	for _, p := range []harness.Purchase{
		{Key: "a", URL: "http://x/data/a", Instance: 0},
		{Key: "b", URL: "http://x/data/b", Instance: 1},
		{Key: "c", URL: "http://x/data/c", Instance: 1},
	} {
		_, err := e.Purchase(context.Background(), p)
		require.NoError(t, err)
	}
	for n, want := range []string{"a\n", "b\nc\n"} {
		dir := e.StateDir(n)
		require.Equal(t, filepath.Join(e.root, "instance-"+string(rune('0'+n))), dir)
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		b, err := os.ReadFile(filepath.Join(dir, "keys"))
		require.NoError(t, err)
		require.Equal(t, want, string(b))
	}
}

func TestNewExecErrors(t *testing.T) {
	t.Parallel()
	cfg := fakeLND
	cfg.StateRoot = t.TempDir()
	for name, tc := range map[string]struct {
		command []string
		cfg     func(*ExecConfig)
		opts    []ExecOption
		want    string
	}{
		"nil command":        {want: "empty command"},
		"empty command":      {command: []string{""}, want: "empty command"},
		"no state root":      {cfg: func(c *ExecConfig) { c.StateRoot = "" }, want: "no state root"},
		"no lnd":             {cfg: func(c *ExecConfig) { c.MacaroonPath = "" }, want: "MacaroonPath"},
		"unknown program":    {command: []string{"no-such-client-program"}, want: "no-such-client-program"},
		"bad extra env":      {cfg: func(c *ExecConfig) { c.ExtraEnv = []string{"NOVALUE"} }, want: "NAME=value"},
		"protocol extra env": {cfg: func(c *ExecConfig) { c.ExtraEnv = []string{"L402_URL=http://elsewhere"} }, want: "protocol variable"},
		"bad grace":          {opts: []ExecOption{WithGrace(0)}, want: "grace"},
		"nil logger":         {opts: []ExecOption{WithLogger(nil)}, want: "logger"},
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			command := tc.command
			if command == nil && name != "nil command" {
				command = []string{"/bin/sh", "-c", "true"}
			}
			e, err := NewExec(command, c, tc.opts...)
			require.Error(t, err)
			require.Nil(t, e)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestExecBadPurchase(t *testing.T) {
	t.Parallel()
	e := scriptExec(t, `echo '{"outcome":"delivered"}'`)
	for name, p := range map[string]harness.Purchase{
		"no key":           {URL: "http://x/"},
		"no url":           {Key: "k"},
		"method":           {Key: "k", URL: "http://x/", Method: "DELETE"},
		"instance":         {Key: "k", URL: "http://x/", Instance: -1},
		"negative max":     {Key: "k", URL: "http://x/", MaxCostSat: -1},
		"negative timeout": {Key: "k", URL: "http://x/", Timeout: -time.Second},
	} {
		_, err := e.Purchase(context.Background(), p)
		require.Error(t, err, name)
		var pe *ProtocolError
		require.False(t, errors.As(err, &pe), "%s: bad input is no protocol error: nothing ran", name)
	}
	require.Empty(t, e.Logs("k"))
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	tb := &tailBuffer{limit: 8}
	var all strings.Builder
	for _, s := range []string{"abc", "defgh", "ijklmnopqrstuvwxyz", "0123", "4", "56789"} {
		n, err := tb.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
		all.WriteString(s)
		want := all.String()
		if len(want) > 8 {
			want = want[len(want)-8:]
		}
		require.Equal(t, want, string(tb.Bytes()))
	}
	require.Equal(t, int64(all.Len()), tb.total)
}

func TestLimitedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	require.NoError(t, err)
	lf := &limitedFile{f: f, limit: 5}
	for _, s := range []string{"abc", "defg", "hij"} {
		n, err := lf.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n, "the child never sees a short write")
	}
	require.NoError(t, lf.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "abcde\n[stderr truncated: 5 more bytes dropped]\n", string(b))
}

func TestProtocolErrorMessage(t *testing.T) {
	t.Parallel()
	err := &ProtocolError{Reason: ErrKilled, Err: context.Canceled, ExitCode: -1, Log: "/x/1.stderr", Stdout: strings.Repeat("y", 500) + "\n"}
	require.ErrorIs(t, err, ErrKilled)
	require.ErrorIs(t, err, context.Canceled)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "adapter protocol: killed: context canceled (exit -1, stderr in /x/1.stderr); stdout ends \"..."), msg)
	require.Less(t, len(msg), 300)
}

func TestExecRunsConcurrentlyAcrossKeys(t *testing.T) {
	t.Parallel()
	// Many short attempts at once: no attempt sees another's report.
	e := scriptExec(t, `echo "{\"outcome\":\"delivered\",\"payment_hash\":\"$L402_IDEMPOTENCY_KEY\"}"`)
	var wg sync.WaitGroup
	for i := range 16 {
		key := "key-" + string(rune('a'+i))
		wg.Go(func() {
			res, err := e.Purchase(context.Background(), buy(key))
			if err != nil || res.PaymentHash != key {
				t.Errorf("%s: %+v %v", key, res, err)
			}
		})
	}
	wg.Wait()
}
