package history_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
)

func at(s int) time.Time { return time.Unix(int64(s), 0).UTC() }

// A soak's record: the purchases judged for good leave the live truth
// and are appended to truth.retired.jsonl; ReadRecord gives back the
// whole truth, each record once, even when a crash left a retired
// purchase in both the last sample and the retired file.
func TestRetiredRoundTrip(t *testing.T) {
	dir := t.TempDir()
	whole := &history.Truth{
		Plan: history.Plan{Purchases: []history.PlannedPurchase{{Key: "a"}, {Key: "b"}, {Key: "c"}}},
		Requests: []history.Request{
			{Seq: 1, Time: at(1), Purchase: "a", InvoiceHash: "AA"},
			{Seq: 2, Time: at(2), Purchase: "b", InvoiceHash: "BB"},
			{Seq: 3, Time: at(3), Purchase: "a", CredentialToken: "t1", Status: 402},
			{Seq: 4, Time: at(4), Purchase: "c", InvoiceHash: "CC"},
		},
		SideEffects: []history.SideEffect{{Seq: 5, Time: at(5), Purchase: "a"}},
		Deliveries:  []history.Delivery{{Seq: 6, Time: at(6), Purchase: "a"}, {Seq: 7, Time: at(7), Purchase: "b"}},
		Payments:    []history.Payment{{Hash: "aa", Created: at(1)}, {Hash: "bb", Created: at(2)}, {Hash: "zz", Created: at(3)}},
		Invoices:    []history.Invoice{{Hash: "aa", Created: at(1)}, {Hash: "bb", Created: at(2)}, {Hash: "cc", Created: at(4)}},
	}
	a := whole.Of(func(k string) bool { return k == "a" })
	require.Equal(t, []history.PlannedPurchase{{Key: "a"}}, a.Plan.Purchases)
	require.Len(t, a.Requests, 2)
	require.Equal(t, []history.Payment{{Hash: "aa", Created: at(1)}}, a.Payments, "only what a's requests carry: no unexplained payment")
	require.Len(t, a.SideEffects, 1)
	require.Len(t, a.Deliveries, 1)
	require.NoError(t, history.AppendRetired(dir, a))
	b := whole.Of(func(k string) bool { return k == "b" })
	require.NoError(t, history.AppendRetired(dir, b))

	// The live truth after both retired: c, the unexplained payment, and
	// a's refused credential, which the provider keeps owned by no one.
	live := &history.Truth{
		Sampled:  true,
		Plan:     history.Plan{Purchases: []history.PlannedPurchase{{Key: "c"}}},
		Requests: []history.Request{{Seq: 3, Time: at(3), CredentialToken: "t1", Status: 402}, {Seq: 4, Time: at(4), Purchase: "c", InvoiceHash: "CC"}},
		Payments: []history.Payment{{Hash: "zz", Created: at(3)}},
		Invoices: []history.Invoice{{Hash: "cc", Created: at(4)}},
	}
	rec := history.NewRecorder(nil)
	require.NoError(t, history.WriteRecord(dir, rec.History(), live))
	_, got, err := history.ReadRecord(dir)
	require.NoError(t, err)
	require.ElementsMatch(t, whole.Plan.Purchases, got.Plan.Purchases)
	require.Equal(t, whole.Requests, got.Requests, "each request once, in time order, owned again")
	require.Equal(t, whole.SideEffects, got.SideEffects)
	require.Equal(t, whole.Deliveries, got.Deliveries)
	require.Equal(t, whole.Payments, got.Payments)
	require.Equal(t, whole.Invoices, got.Invoices)

	// A crash after an append, before the next sample: the sample still
	// holds b. Nothing is counted twice.
	stale := whole.Only(func(k string) bool { return k != "a" })
	stale.Sampled = true
	require.NoError(t, history.WriteTruth(dir, stale))
	_, got, err = history.ReadRecord(dir)
	require.NoError(t, err)
	require.Len(t, got.Plan.Purchases, 3)
	require.Equal(t, whole.Requests, got.Requests)
	require.Equal(t, whole.Deliveries, got.Deliveries)
	require.Equal(t, whole.Payments, got.Payments)
}

// A harness killed mid-append leaves a last line cut short: it is
// dropped. A bad line with lines after it is an error naming it.
func TestRetiredTornAndBad(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, history.WriteRecord(dir, nil, &history.Truth{}))
	require.NoError(t, history.AppendRetired(dir, &history.Truth{Plan: history.Plan{Purchases: []history.PlannedPurchase{{Key: "a"}}}}))
	f, err := os.OpenFile(filepath.Join(dir, history.RetiredFile), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"plan":{"purch`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, got, err := history.ReadRecord(dir)
	require.NoError(t, err)
	require.Equal(t, []history.PlannedPurchase{{Key: "a"}}, got.Plan.Purchases)

	require.NoError(t, os.WriteFile(filepath.Join(dir, history.RetiredFile), []byte("{}\nnot json\n{}\n"), 0o644))
	_, _, err = history.ReadRecord(dir)
	require.ErrorContains(t, err, history.RetiredFile+" line 2")
}
