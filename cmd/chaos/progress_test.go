package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
)

// TestRunProgress: a scenario running long is told with its last phase
// and the faults active, a short or ended one is not.
func TestRunProgress(t *testing.T) {
	var w syncBuffer
	var mu sync.Mutex
	p := startRunProgress(&w, &mu, 5*time.Millisecond)
	p.begin("hold-long")
	p.seen("hold-long", history.Event{F: history.FaultStart, Fault: "partition client-provider"})
	p.seen("hold-long", history.Event{F: history.Phase, Detail: "payment in flight"})
	p.seen("hold-long", history.Event{F: history.FaultStart, Fault: "latency lnd-lnd 200ms"})
	p.seen("hold-long", history.Event{F: history.FaultStop, Fault: "partition client-provider"})
	p.seen("not-running", history.Event{F: history.Phase, Detail: "ignored"})
	require.Eventually(t, func() bool {
		return strings.Contains(w.String(), "  ... hold-long ")
	}, 5*time.Second, time.Millisecond)
	line := w.String()
	require.Contains(t, line, ": 4 events, last phase payment in flight, faults active: latency lnd-lnd 200ms\n")
	require.NotContains(t, line, "not-running")
	p.end("hold-long")
	p.stop() // returns once its goroutine has ended: nothing is written after
	require.Empty(t, p.lines(0), "an ended scenario is not told")
}
