package metrics_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/metrics"
)

// A workload reports each purchase; a sample reads the counts so far and
// the latencies since the sample before.
func Example() {
	m, err := metrics.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	m.InFlight(+1)
	m.Purchase(history.OK, 120*time.Millisecond)
	m.InFlight(-1)
	m.Purchase(history.Info, 2*time.Second) // may have happened
	m.Shed()
	m.Payments(1, 100_000, 0)
	m.Verdict("at-most-once", check.Valid)

	s := m.Sample(5 * time.Second)
	fmt.Printf("ok %d info %d shed %d in flight %d paid %d msat\n", s.OK, s.Info, s.Shed, s.InFlight, s.PaidMsat)
	fmt.Printf("p50 %s p99 %s invalid %d\n", s.P50, s.P99, s.Invalid)
	s = m.Sample(10 * time.Second)
	fmt.Printf("next: ok %d p50 %s\n", s.OK, s.P50)
	// Output:
	// ok 1 info 1 shed 1 in flight 0 paid 100000 msat
	// p50 120ms p99 2s invalid 0
	// next: ok 1 p50 0s
}

// Record appends a sample to the run's series every interval and one
// last when its context ends; history.ReadSeries reads them back.
func ExampleMetrics_Record() {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	f, err := metrics.CreateSeries(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	m, err := metrics.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Record(ctx, 5*time.Second, func() time.Duration { return time.Since(start) }, f) }()
	m.Purchase(history.OK, 300*time.Millisecond)
	cancel() // the run ends
	if err := <-done; err != nil {
		fmt.Println(err)
		return
	}

	series, err := history.ReadSeries(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	last := series[len(series)-1]
	fmt.Println("ok", last.OK, "p50", last.P50)
	// Output: ok 1 p50 300ms
}
