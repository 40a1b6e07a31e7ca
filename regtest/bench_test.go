package regtest_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// BenchmarkFirstPayment measures the time from nothing (binaries cached)
// to the first successful payment alice -> bob, starting fresh and from a
// snapshot, and the peak resident memory of the network's processes.
//
//	go test -run '^$' -bench FirstPayment -benchtime 3x ./regtest/
func BenchmarkFirstPayment(b *testing.B) {
	for _, bc := range []struct {
		name     string
		snapshot bool
	}{{"fresh", false}, {"snapshot", true}} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.snapshot {
				// Make the snapshot outside the measurement.
				regtesttest.Start(b).Close()
			}
			var rss float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), regtesttest.StartTimeout)
				n := regtesttest.Start(b, regtest.WithSnapshot(bc.snapshot))
				regtesttest.Pay(b, ctx, n.Node(regtest.Alice), n.Node(regtest.Bob), 1000)
				b.StopTimer()
				rss = max(rss, peakRSS(n))
				n.Close()
				cancel()
				b.StartTimer()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/first-payment")
			b.ReportMetric(rss/1024, "MB-peak-rss")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// peakRSS sums the peak resident set (VmHWM, in KiB) of btcd and every
// node.
func peakRSS(n *regtest.Network) float64 {
	pids := []int{n.Chain().Pid()}
	for _, node := range n.Nodes() {
		pids = append(pids, node.Pid())
	}
	var total float64
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				total += kb
			}
		}
	}
	return total
}

var _ = time.Second
