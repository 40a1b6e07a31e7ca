package adapter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/stretchr/testify/require"
)

// fakeLND is a payer no script uses: NewExec only needs the values.
var fakeLND = ExecConfig{RPCServer: "127.0.0.1:1", TLSCertPath: "/nonexistent/tls.cert", MacaroonPath: "/nonexistent/admin.macaroon"}

// scriptExec is an Exec whose client is a shell script. The script runs
// through /bin/sh rather than being executed itself, so a test never
// executes a file it has just written (ETXTBSY while another test forks).
func scriptExec(t *testing.T, script string, opts ...ExecOption) *Exec {
	t.Helper()
	path := filepath.Join(t.TempDir(), "client.sh")
	require.NoError(t, os.WriteFile(path, []byte(script), 0o600))
	cfg := fakeLND
	cfg.StateRoot = t.TempDir()
	e, err := NewExec([]string{"/bin/sh", path}, cfg, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// buy is a purchase of key with a deadline long enough never to matter.
func buy(key string) harness.Purchase {
	return harness.Purchase{Key: key, URL: "http://127.0.0.1:1/data/p/" + key, MaxCostSat: 100, Timeout: 30 * time.Second}
}

type purchaseResult struct {
	res history.Result
	err error
	at  time.Time
}

// purchaseAsync runs a purchase in the background.
func purchaseAsync(ctx context.Context, c harness.Client, p harness.Purchase) <-chan purchaseResult {
	ch := make(chan purchaseResult, 1)
	go func() {
		res, err := c.Purchase(ctx, p)
		ch <- purchaseResult{res, err, time.Now()}
	}()
	return ch
}

// waitFile waits until a script has written path.
func waitFile(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, 20*time.Second, 10*time.Millisecond, "waiting for %s", path)
}

// receive waits for a background purchase, failing after limit.
func receive(t *testing.T, ch <-chan purchaseResult, limit time.Duration) purchaseResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("purchase still running after %s", limit)
		return purchaseResult{}
	}
}
