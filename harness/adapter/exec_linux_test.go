package adapter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/stretchr/testify/require"
)

// The script copies its own initial environment (/proc/$$/environ, which
// the shell does not add to) and its body file into the state directory.
const dumpEnv = `cat /proc/$$/environ > "$L402_STATE_DIR/env.$L402_IDEMPOTENCY_KEY"
if [ -n "${L402_BODY_FILE:-}" ]; then cat "$L402_BODY_FILE" > "$L402_STATE_DIR/body.$L402_IDEMPOTENCY_KEY"; fi
echo '{"outcome":"delivered"}'`

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	for _, kv := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		require.True(t, ok, "%q", kv)
		_, dup := env[k]
		require.False(t, dup, "%s set twice", k)
		env[k] = v
	}
	return env
}

func TestExecEnvironment(t *testing.T) {
	// Not parallel: it sets the harness's own environment.
	t.Setenv("L402_URL", "http://leaked.invalid/")
	t.Setenv("LND_MACAROONPATH", "/leaked/admin.macaroon")
	t.Setenv("L402CHAOS_TEST_SECRET", "leaked")
	t.Setenv("TZ", "Europe/Paris")

	script := filepath.Join(t.TempDir(), "client.sh")
	require.NoError(t, os.WriteFile(script, []byte(dumpEnv), 0o600))
	root := t.TempDir()
	cfg := ExecConfig{StateRoot: root, RPCServer: "127.0.0.1:10009", TLSCertPath: "/lnd/tls.cert",
		MacaroonPath: "/lnd/admin.macaroon", ExtraEnv: []string{"CLIENT_FLAVOUR=strict"}}
	e, err := NewExec([]string{"/bin/sh", script}, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })

	base := map[string]string{"CLIENT_FLAVOUR": "strict"}
	for _, name := range inheritedEnv {
		if v, ok := os.LookupEnv(name); ok {
			base[name] = v
		}
	}
	require.Equal(t, "Europe/Paris", base["TZ"])
	require.Contains(t, base, "PATH")
	state := filepath.Join(root, "instance-3")
	lnd := map[string]string{
		"LND_RPCSERVER": "127.0.0.1:10009", "LND_TLSCERTPATH": "/lnd/tls.cert",
		"LND_MACAROONPATH": "/lnd/admin.macaroon", "LND_NETWORK": "regtest",
	}

	t.Run("post-with-body", func(t *testing.T) {
		body := []byte(`{"qty":1}`)
		p := harness.Purchase{Key: "order-1", Method: "post", URL: "http://127.0.0.1:8080/ops/order",
			Body: body, MaxCostSat: 250, Timeout: 1500 * time.Millisecond, Instance: 3}
		_, err := e.Purchase(context.Background(), p)
		require.NoError(t, err)
		got := readEnv(t, filepath.Join(state, "env.order-1"))
		bodyFile := got["L402_BODY_FILE"]
		require.NotEmpty(t, bodyFile)
		require.True(t, filepath.IsAbs(bodyFile))
		require.NoFileExists(t, bodyFile, "the body file is removed after the attempt")
		want := map[string]string{
			"L402_URL": p.URL, "L402_METHOD": "POST", "L402_BODY_FILE": bodyFile,
			"L402_IDEMPOTENCY_KEY": "order-1", "L402_STATE_DIR": state,
			"L402_MAX_COST_SAT": "250", "L402_TIMEOUT_SEC": "2",
		}
		for _, m := range []map[string]string{base, lnd} {
			for k, v := range m {
				want[k] = v
			}
		}
		require.Equal(t, want, got)
		b, err := os.ReadFile(filepath.Join(state, "body.order-1"))
		require.NoError(t, err)
		require.Equal(t, body, b)
	})
	t.Run("get-with-defaults", func(t *testing.T) {
		p := harness.Purchase{Key: "q1", URL: "http://127.0.0.1:8080/data/p/q1", Instance: 3}
		_, err := e.Purchase(context.Background(), p)
		require.NoError(t, err)
		got := readEnv(t, filepath.Join(state, "env.q1"))
		want := map[string]string{
			"L402_URL": p.URL, "L402_METHOD": "GET", "L402_IDEMPOTENCY_KEY": "q1", "L402_STATE_DIR": state,
			"L402_TIMEOUT_SEC": strconv.Itoa(int(DefaultTimeout.Seconds())),
		}
		for _, m := range []map[string]string{base, lnd} {
			for k, v := range m {
				want[k] = v
			}
		}
		require.Equal(t, want, got, "no body file, no cost cap: the client's default applies")
		require.NoFileExists(t, filepath.Join(state, "body.q1"))
	})
}

// processGone reports whether pid has exited (a zombie waiting for its
// reaper counts as gone).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// pid (comm) state ...
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func TestExecKillsWholeGroup(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"kill", "timeout"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := scriptExec(t, `sleep 60 & echo $! > "$L402_STATE_DIR/child.tmp"; mv "$L402_STATE_DIR/child.tmp" "$L402_STATE_DIR/child"; wait`,
				WithGrace(200*time.Millisecond))
			p := buy("k1")
			p.Timeout = time.Second
			ch := purchaseAsync(context.Background(), e, p)
			childFile := filepath.Join(e.StateDir(0), "child")
			waitFile(t, childFile)
			b, err := os.ReadFile(childFile)
			require.NoError(t, err)
			child, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			require.False(t, processGone(child))
			if how == "kill" {
				n, err := e.Kill("k1")
				require.NoError(t, err)
				require.Equal(t, 1, n)
			}
			r := receive(t, ch, 15*time.Second)
			require.Error(t, r.err)
			require.Eventually(t, func() bool { return processGone(child) }, 5*time.Second, 10*time.Millisecond,
				"the client's child %d outlived it", child)
		})
	}
}
