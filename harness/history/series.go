package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// SeriesFile is a long run's metrics, one Sample a line, appended as the
// run goes (a soak's run directory holds it beside its record).
const SeriesFile = "series.jsonl"

// Sample is one reading of a long run's metrics, taken every few
// seconds: cumulative counters since the run began and gauges as they
// stood. Rates and percentiles over time are derived from consecutive
// samples and from the history.
type Sample struct {
	// Time is since the run began, on the history's clock.
	Time time.Duration `json:"time"`
	// Purchases completed so far, by completion type (ok, fail, info),
	// and those the workload could not start because every slot was busy
	// (shed).
	OK   int64 `json:"ok"`
	Fail int64 `json:"fail"`
	Info int64 `json:"info"`
	Shed int64 `json:"shed,omitempty"`
	// InFlight is the purchases running as the sample was taken.
	InFlight int `json:"in_flight"`
	// Latency percentiles of the purchases completed since the previous
	// sample (zero when none completed).
	P50 time.Duration `json:"p50"`
	P99 time.Duration `json:"p99"`
	// Payments settled by the payer so far, and what they cost.
	Payments int64 `json:"payments"`
	PaidMsat int64 `json:"paid_msat"`
	FeesMsat int64 `json:"fees_msat"`
	// FaultsActive is the faults in place.
	FaultsActive int `json:"faults_active"`
	// Invalid is the checkers found invalid so far (0 while valid).
	Invalid int `json:"invalid"`
	// Harness is the harness process's own use; Nodes each node's
	// process (lnd, btcd), by name.
	Harness Usage            `json:"harness"`
	Nodes   map[string]Usage `json:"nodes,omitempty"`
}

// Usage is one process's resource use.
type Usage struct {
	RSSBytes int64 `json:"rss_bytes"`
	// AnonBytes is the anonymous part of RSSBytes (RssAnon: heap and
	// stacks), what a leak grows; the rest is file-backed, mostly the
	// program's own pages, mapped in as its code is first used.
	AnonBytes  int64 `json:"anon_bytes,omitempty"`
	OpenFiles  int   `json:"open_files"`
	Goroutines int   `json:"goroutines,omitempty"` // the harness only
	// DataBytes is the size of the process's data directory (nodes).
	DataBytes int64 `json:"data_bytes,omitempty"`
}

// ReadSeries reads dir's series. A directory without one is
// fs.ErrNotExist; a torn last line (a harness killed mid-write) is
// dropped.
func ReadSeries(dir string) ([]Sample, error) {
	f, err := os.Open(filepath.Join(dir, SeriesFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Sample
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			var s Sample
			if uerr := json.Unmarshal(b, &s); uerr != nil {
				if errors.Is(err, io.EOF) {
					break // torn tail: the write that was cut off
				}
				return nil, fmt.Errorf("%s line %d: %w", SeriesFile, line, uerr)
			}
			out = append(out, s)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil && !errors.Is(err, fs.ErrClosed) {
			return nil, err
		}
	}
	return out, nil
}
