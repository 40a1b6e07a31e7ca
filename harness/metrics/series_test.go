package metrics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/metrics"
	"github.com/l402chaos/l402chaos/internal/wait"
)

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	f, err := metrics.CreateSeries(dir)
	require.NoError(t, err)
	defer f.Close()

	m := newMetrics(t)
	var ticks atomic.Int64
	since := func() time.Duration { return time.Duration(ticks.Add(1)) * time.Second }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Record(ctx, 5*time.Millisecond, since, f) }()

	m.Purchase(history.OK, 30*time.Millisecond)
	m.Purchase(history.Fail, 10*time.Millisecond)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, wait.Until(wctx, 5*time.Millisecond, func(context.Context) error {
		got, err := history.ReadSeries(dir)
		if err != nil {
			return err
		}
		if len(got) < 2 {
			return fmt.Errorf("%d samples", len(got))
		}
		return nil
	}))
	m.Purchase(history.Info, time.Minute)
	cancel()
	require.NoError(t, <-done)

	got, err := history.ReadSeries(dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(got), 3, "samples while running, then one last")
	for i, s := range got {
		require.Equal(t, time.Duration(i+1)*time.Second, s.Time, "sample %d is the clock's reading", i)
	}
	require.Equal(t, time.Duration(30*time.Millisecond), got[0].P99, "first sample: the two purchases before it")
	last := got[len(got)-1]
	require.EqualValues(t, 1, last.OK)
	require.EqualValues(t, 1, last.Fail)
	require.EqualValues(t, 1, last.Info, "the last sample is taken after ctx ends")
	// Percentiles are per window: the sample that first counts the Info
	// purchase (a tick may take it before the last one) holds its
	// latency alone.
	for _, s := range got {
		if s.Info == 1 {
			require.Equal(t, time.Minute, s.P50, "the window of the Info purchase")
			break
		}
	}
	require.Positive(t, last.Harness.RSSBytes)

	_, err = metrics.CreateSeries(dir)
	require.ErrorIs(t, err, fs.ErrExist, "a run has one series")
}

func TestRecordTornLine(t *testing.T) {
	dir := t.TempDir()
	f, err := metrics.CreateSeries(dir)
	require.NoError(t, err)
	m := newMetrics(t)
	done, cancel := context.WithCancel(context.Background())
	cancel() // Record then writes its last sample at once
	for i := range 2 {
		m.Purchase(history.OK, time.Second)
		require.NoError(t, m.Record(done, time.Hour, func() time.Duration { return time.Duration(i) * time.Second }, f))
	}
	_, err = f.WriteString(`{"time":2000000000,"ok":3,"fa`) // killed mid-line
	require.NoError(t, err)
	require.NoError(t, f.Close())

	got, err := history.ReadSeries(dir)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.EqualValues(t, 2, got[1].OK)
	require.Equal(t, time.Second, got[1].Time)
}

func TestRecordFlushes(t *testing.T) {
	var out bytes.Buffer
	bw := bufio.NewWriterSize(&out, 1<<20)
	m := newMetrics(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, m.Record(ctx, time.Second, func() time.Duration { return 0 }, bw))
	require.Equal(t, 0, bw.Buffered())
	require.Equal(t, 1, bytes.Count(out.Bytes(), []byte("\n")), "one line, flushed")
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestRecordErrors(t *testing.T) {
	m := newMetrics(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	since := func() time.Duration { return 0 }
	require.Error(t, m.Record(ctx, 0, since, &bytes.Buffer{}))
	require.Error(t, m.Record(ctx, time.Second, nil, &bytes.Buffer{}))
	require.ErrorIs(t, m.Record(ctx, time.Millisecond, since, failWriter{}), errDiskFull, "returns at the first write error")
}

func TestCreateSeriesMakesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "soak")
	f, err := metrics.CreateSeries(dir)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = os.Stat(filepath.Join(dir, history.SeriesFile))
	require.NoError(t, err)
	got, err := history.ReadSeries(dir)
	require.NoError(t, err)
	require.Empty(t, got)
}
