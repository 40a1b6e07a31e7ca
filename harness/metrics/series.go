package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// CreateSeries creates dir (if need be) and a new, empty series file in
// it (history.SeriesFile), opened for appending, for Record to write to.
// It refuses to replace a series that exists: a run has one.
func CreateSeries(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metrics series: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, history.SeriesFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics series: %w", err)
	}
	return f, nil
}

// Record appends a Sample to w every interval, one JSON line each, at
// the time since() reports, until ctx ends; then it appends one last
// sample and returns nil. Each line is one Write, and w is flushed after
// it when it has a Flush method (a bufio.Writer), so a harness killed at
// any moment leaves at most a torn last line, which history.ReadSeries
// drops. Record returns at the first write error. While it runs it owns
// the latency window: other callers of Sample would take latencies from
// its next line.
func (m *Metrics) Record(ctx context.Context, every time.Duration, since func() time.Duration, w io.Writer) error {
	if every <= 0 {
		return fmt.Errorf("metrics series: interval %s: want more than 0", every)
	}
	if since == nil || w == nil {
		return errors.New("metrics series: needs a clock and a writer")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return writeSample(w, m.Sample(since()))
		case <-t.C:
			if err := writeSample(w, m.Sample(since())); err != nil {
				return err
			}
		}
	}
}

// writeSample writes s as one line and flushes w if it buffers.
func writeSample(w io.Writer, s history.Sample) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("metrics series: sample at %s: %w", s.Time, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("metrics series: sample at %s: %w", s.Time, err)
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("metrics series: flush: %w", err)
		}
	}
	return nil
}
