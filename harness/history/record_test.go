package history_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
)

func TestRecordRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	rec := history.NewRecorder(nil)
	rec.Add(history.Event{Process: 1, Type: history.Invoke, F: history.Purchase, Key: "k1", Attempt: 1})
	rec.Add(history.Completion(1, "k1", 1, history.Result{Outcome: history.Delivered}, nil))
	truth := &history.Truth{Started: time.Unix(1, 0).UTC(), Payer: "alice", Payee: "bob"}
	require.NoError(t, history.WriteRecord(dir, rec.History(), truth))
	require.True(t, history.IsRecord(dir))

	h, got, err := history.ReadRecord(dir)
	require.NoError(t, err)
	require.Equal(t, rec.History(), h)
	require.Equal(t, truth.Payer, got.Payer)
	require.True(t, truth.Started.Equal(got.Started))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file left behind")
}

func TestReadRecordMissing(t *testing.T) {
	dir := t.TempDir()
	require.False(t, history.IsRecord(dir))
	_, _, err := history.ReadRecord(dir)
	require.ErrorIs(t, err, history.ErrNoRecord)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

// A write that fails halfway leaves the file as it was.
func TestWriteAtomicKeepsOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, os.WriteFile(path, []byte("old\n"), 0o644))
	boom := errors.New("boom")
	err := history.WriteAtomic(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	require.ErrorIs(t, err, boom)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "old\n", string(b))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}
