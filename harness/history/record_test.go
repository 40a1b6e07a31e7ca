package history_test

import (
	"errors"
	"fmt"
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

// A Log's record is readable while the run goes on, and after a harness
// that died mid-write: the torn last line is dropped.
func TestLogSurvivesTheHarness(t *testing.T) {
	dir := t.TempDir()
	log, err := history.CreateLog(dir, time.Hour) // synced by hand here
	require.NoError(t, err)
	t.Cleanup(func() { _ = log.Close() })
	rec := history.NewRecorder(log.Add)
	rec.Add(history.Event{Process: 1, Type: history.Invoke, F: history.Purchase, Key: "k1", Attempt: 1})
	rec.Add(history.Completion(1, "k1", 1, history.Result{Outcome: history.Delivered}, nil))
	rec.Add(history.Event{Process: 2, Type: history.Invoke, F: history.Purchase, Key: "k2", Attempt: 1})
	require.NoError(t, log.Sync())

	h, err := history.ReadHistory(dir)
	require.NoError(t, err)
	require.Equal(t, rec.History(), h, "an open operation is fine: the run goes on")

	// A write cut off halfway.
	f, err := os.OpenFile(filepath.Join(dir, history.HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"index":3,"time":12,"proc`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	h, err = history.ReadHistory(dir)
	require.NoError(t, err)
	require.Len(t, h, 3)

	// A bad line that is not the last is an error, as ever.
	require.NoError(t, os.WriteFile(filepath.Join(dir, history.HistoryFile), []byte("{bad\n{\"index\":0}\n"), 0o644))
	_, err = history.ReadHistory(dir)
	require.ErrorContains(t, err, "line 1")

	require.NoError(t, log.Close())
	require.NoError(t, log.Close(), "idempotent")
}

func TestLogSyncsOnItsOwn(t *testing.T) {
	dir := t.TempDir()
	log, err := history.CreateLog(dir, 10*time.Millisecond)
	require.NoError(t, err)
	defer log.Close()
	rec := history.NewRecorder(log.Add)
	rec.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "down client-lnd"})
	require.Eventually(t, func() bool {
		h, err := history.ReadHistory(dir)
		return err == nil && len(h) == 1
	}, 5*time.Second, 5*time.Millisecond)
	_, err = history.CreateLog(dir, time.Second)
	require.Error(t, err, "a record is never overwritten")
}

func TestRecorderTrim(t *testing.T) {
	rec := history.NewRecorder(nil)
	for i := range 10 {
		rec.Add(history.Event{Process: i + 1, Type: history.Invoke, F: history.Purchase, Key: fmt.Sprintf("k%d", i%2)})
	}
	rec.Trim(func(e history.Event) bool { return e.Key == "k1" })
	h := rec.History()
	require.Len(t, h, 5)
	require.EqualValues(t, 1, h[0].Index)
	require.EqualValues(t, 10, rec.Len())
	e := rec.Add(history.Event{Process: 11, Type: history.Invoke, F: history.Purchase, Key: "k0"})
	require.EqualValues(t, 10, e.Index, "indices go on")
	require.Len(t, rec.Since(7), 3)
}

// Only keeps what concerns the kept purchases, and a token's fate,
// which concerns every purchase that holds it.
func TestTruthOnly(t *testing.T) {
	tr := &history.Truth{
		Plan: history.Plan{Purchases: []history.PlannedPurchase{{Key: "a"}, {Key: "b"}}},
		Requests: []history.Request{
			{Seq: 1, Purchase: "a", InvoiceHash: "AA"},
			{Seq: 2, Purchase: "b", InvoiceHash: "BB"},
			{Seq: 3, Purchase: "b", CredentialToken: "t1", Status: 402},
		},
		Payments:   []history.Payment{{Hash: "aa"}, {Hash: "bb"}, {Hash: "cc"}},
		Invoices:   []history.Invoice{{Hash: "aa"}, {Hash: "bb"}},
		Deliveries: []history.Delivery{{Purchase: "a"}, {Purchase: "b"}},
	}
	got := tr.Only(func(k string) bool { return k == "a" })
	require.Equal(t, []history.PlannedPurchase{{Key: "a"}}, got.Plan.Purchases)
	require.Equal(t, []history.Request{{Seq: 1, Purchase: "a", InvoiceHash: "AA"}, {Seq: 3, CredentialToken: "t1", Status: 402}}, got.Requests)
	require.Equal(t, []history.Payment{{Hash: "aa"}, {Hash: "cc"}}, got.Payments, "a payment no challenge explains stays")
	require.Equal(t, []history.Invoice{{Hash: "aa"}}, got.Invoices)
	require.Equal(t, []history.Delivery{{Purchase: "a"}}, got.Deliveries)
	require.Len(t, tr.Requests, 3, "the truth itself is unchanged")
}
