// Package metrics is the live instrument panel of a long run (a soak):
// what the workload did, what the payer paid, the faults in place, the
// checkers' latest verdicts, and the resources the harness and each node
// use, as Prometheus series to scrape while the run goes and as a series
// file to read after it.
//
//	workload ─ Purchase, Shed, InFlight ─┐
//	payer LND ─ Payments (totals, set) ──┤                 ┌─ Handler, Serve ─▶ /metrics (scraped)
//	nemesis ─ FaultsActive ──────────────┼─▶ Metrics ──────┤
//	checkers ─ Verdict ──────────────────┤   (a registry   └─ Record: Sample every interval
//	nodes ─ WatchProcess(pid, dir) ──────┘    of its own)        ─▶ one JSON line, flushed ─▶ series.jsonl
//	                                                                  (history.ReadSeries reads it back)
//
// One call feeds both outputs: Purchase counts the purchase by outcome,
// observes its latency in the histogram (buckets 50 ms to 2 min) and
// keeps it for the next sample, whose p50 and p99 are those of the
// purchases completed since the sample before (nearest rank; past
// WithReservoir latencies a uniform reservoir is kept, Algorithm R on
// the injected random source). The histogram covers Prometheus, which
// computes its own quantiles over any window.
//
// Resource use is read, not pushed: the harness's own by the standard
// process and Go collectors (process_resident_memory_bytes,
// process_open_fds, go_goroutines), and in a sample from /proc/self and
// the runtime; each watched node's at every scrape and every sample,
// from /proc/PID/status (VmRSS) and /proc/PID/fd, with its pid asked
// each time, so a node killed and restarted by a fault is followed. A
// pid of 0 or a process gone reads zero, never an error. Walking a data
// directory costs more than the rest together, so its size is kept and
// the directory walked again at most every WithDataEvery (30 s).
//
// Serve listens on loopback only: the series name the nodes and the
// run's verdicts. The series file is appended to line by line, each line
// written whole and flushed, because a soak may be killed at any moment;
// the file's name and its reader live in harness/history, beside the run
// record.
//
// Series, all prefixed l402chaos_:
//
//	purchases_total{outcome}            counter: ok, fail, info
//	purchase_duration_seconds{outcome}  histogram: invoke to completion
//	purchases_shed_total                counter: not started, every slot busy
//	purchases_in_flight                 gauge
//	payer_payments                      gauge: the payer LND's settled payments (cumulative, set)
//	payer_paid_msat, payer_fees_msat    gauges: what they paid, fees apart (cumulative, set)
//	faults_active                       gauge
//	checker_verdict{checker}            gauge: 1 valid, 0 unknown, -1 invalid (the latest)
//	node_up{node}                       gauge: 1 running, 0 not
//	node_resident_memory_bytes{node}    gauge
//	node_open_fds{node}                 gauge
//	node_data_bytes{node}               gauge
//
// The package imports harness/history (Sample, the series file) and
// harness/check (Validity) only, of this module.
package metrics
