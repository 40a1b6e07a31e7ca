package live_test

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/containers"
)

// BenchmarkBackends measures, on each backend in one run, both from the
// snapshot: the time to a ready network (the provider up, the channel
// carrying payments: what live.StartOn returns on) and to the first
// purchase through it (challenge, payment, credentialed retry, with the
// reference client in process); and the network's peak memory: the sum
// of btcd's and the nodes' peak RSS for processes, of their containers'
// cgroup memory peaks for containers. Without a Docker engine only
// processes run.
func BenchmarkBackends(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	backends := []struct {
		name string
		rt   regtest.Runtime
	}{{"processes", regtest.Processes{}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	eng, err := containers.Connect(ctx)
	cancel()
	if err == nil {
		b.Cleanup(func() { eng.Close() })
		backends = append(backends, struct {
			name string
			rt   regtest.Runtime
		}{"containers", containers.New(eng)})
	} else {
		b.Logf("containers not measured: %v", err)
	}
	for _, bc := range backends {
		b.Run(bc.name, func(b *testing.B) {
			start := live.StartOn(bc.rt)
			// The snapshot, the images and the toxiproxy binary are made
			// outside the measurement.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			env, err := start(ctx, harness.Network{}, log)
			require.NoError(b, err)
			require.NoError(b, env.Close())
			cancel()

			var ready, first time.Duration
			var peak float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				t0 := time.Now()
				env, err := start(ctx, harness.Network{}, log)
				require.NoError(b, err)
				ready += time.Since(t0)
				purchase(b, ctx, env)
				first += time.Since(t0)
				b.StopTimer()
				peak = max(peak, peakMemory(b, ctx, env.(*live.Backend).Network(), eng))
				require.NoError(b, env.Close())
				cancel()
				b.StartTimer()
			}
			b.ReportMetric(ready.Seconds()/float64(b.N), "s/ready")
			b.ReportMetric(first.Seconds()/float64(b.N), "s/first-purchase")
			b.ReportMetric(peak/(1<<20), "MiB-peak")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// purchase buys one answer with the reference client in process.
func purchase(b *testing.B, ctx context.Context, env harness.Environment) {
	e := env.Endpoints()
	c, err := adapter.NewInProcess(ctx, adapter.InProcessConfig{
		StateRoot: b.TempDir(), RPCServer: e.PayerRPC, TLSCertPath: e.PayerTLSCert, MacaroonPath: e.PayerMacaroon,
	})
	require.NoError(b, err)
	defer c.Close()
	base, err := url.Parse(e.ProviderURL)
	require.NoError(b, err)
	res, err := c.Purchase(ctx, harness.Purchase{
		Key: "first", Method: "GET", URL: base.JoinPath("data", "p", "first").String(),
		MaxCostSat: 1000, Timeout: time.Minute,
	})
	require.NoError(b, err)
	require.Equal(b, history.Delivered, res.Outcome, "%+v", res)
}

// peakMemory sums the network's peak memory in bytes: VmHWM of each
// process, or each container's cgroup memory.peak.
func peakMemory(b *testing.B, ctx context.Context, n *regtest.Network, eng *containers.Engine) float64 {
	pids := []int{n.Chain().Pid()}
	for _, node := range n.Nodes() {
		pids = append(pids, node.Pid())
	}
	if n.Runtime().Name() == "containers" {
		total, err := eng.PeakMemory(ctx, n.Sandbox())
		require.NoError(b, err)
		return float64(total)
	}
	var total float64
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		require.NoError(b, err)
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				total += kb * 1024
			}
		}
	}
	return total
}
