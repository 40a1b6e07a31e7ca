package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/metrics"
	"github.com/l402chaos/l402chaos/internal/wait"
)

// get fetches url's body.
func get(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return string(b)
}

// requireClosed waits until nothing listens on addr any more.
func requireClosed(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := wait.Until(ctx, 10*time.Millisecond, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("still listening")
	})
	require.NoError(t, err)
}

func TestServe(t *testing.T) {
	m := newMetrics(t)
	m.Purchase(history.OK, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound, err := m.Serve(ctx, "127.0.0.1:0")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(bound, "127.0.0.1:"), bound)
	require.NotEqual(t, "127.0.0.1:0", bound)

	reqCtx, reqCancel := context.WithTimeout(ctx, 10*time.Second)
	defer reqCancel()
	body := get(t, reqCtx, "http://"+bound+"/metrics")
	require.Contains(t, body, `l402chaos_purchases_total{outcome="ok"} 1`)
	require.Contains(t, body, "# TYPE l402chaos_purchase_duration_seconds histogram")
	heap := get(t, reqCtx, "http://"+bound+"/debug/pprof/heap?debug=1")
	require.Contains(t, heap, "heap profile:")
	gor := get(t, reqCtx, "http://"+bound+"/debug/pprof/goroutine?debug=1")
	require.Contains(t, gor, "goroutine profile:")

	cancel()
	requireClosed(t, bound)
}

func TestServeEmptyHostIsLoopback(t *testing.T) {
	m := newMetrics(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, addr := range []string{":0", "localhost:0"} {
		bound, err := m.Serve(ctx, addr)
		require.NoError(t, err, addr)
		require.True(t, strings.HasPrefix(bound, "127.0.0.1:"), "%s bound %s", addr, bound)
		defer requireClosed(t, bound) // after cancel, deferred later
	}
	cancel()
}

func TestServeRefusesOtherHosts(t *testing.T) {
	m := newMetrics(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.10:0", "10.0.0.1:9090", "example.com:0"} {
		_, err := m.Serve(ctx, addr)
		require.ErrorIs(t, err, metrics.ErrNotLoopback, addr)
	}
	_, err := m.Serve(ctx, "no-port")
	require.Error(t, err)
}
