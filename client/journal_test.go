package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := OpenStore(dir, WithOpenTimeout(200*time.Millisecond))
	if s != nil {
		t.Cleanup(func() { _ = s.Close() })
	}
	require.NoError(t, err)
	return s
}

func TestStoreEventsPersistAndExportHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	pre := lntypes.Preimage(sha256.Sum256([]byte("secret")))
	mac := []byte("macaroon-secret-bytes")
	at := time.Unix(1700000000, 0).UTC()
	for _, ev := range []Event{
		{Key: "k", State: StateIntent, At: at, Method: "GET", URL: "http://x/y", Body: []byte("request body"), BodyKept: true},
		{Key: "k", State: StateChallenge, At: at, PaymentHash: pre.Hash().String(), Macaroon: mac, MacaroonID: macID(mac)},
		{Key: "k", State: StateDispatched, At: at, PaymentHash: pre.Hash().String(), ReserveMsat: 10},
		{Key: "k", State: StateSettled, At: at, PaymentHash: pre.Hash().String(), Preimage: pre, Macaroon: mac},
	} {
		_, err := s.commit(ev, effects{})
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	s = openTestStore(t, dir)
	evs, err := s.Events("k")
	require.NoError(t, err)
	require.Len(t, evs, 4)
	for i, e := range evs {
		require.Equal(t, uint64(i+1), e.Seq)
	}
	require.Equal(t, pre, evs[3].Preimage)
	require.Equal(t, mac, evs[1].Macaroon)
	require.Equal(t, []byte("request body"), evs[0].Body)

	js, err := s.Export("k")
	require.NoError(t, err)
	require.Contains(t, string(js), `"state": "settled"`)
	require.Contains(t, string(js), macID(mac))
	require.NotContains(t, string(js), hex.EncodeToString(pre[:]))
	require.NotContains(t, string(js), "macaroon-secret-bytes")
	require.NotContains(t, string(js), "request body")

	none, err := s.Export("absent")
	require.NoError(t, err)
	require.Equal(t, "[]", string(none))
}

func TestStoreBudgetTokensDeadLetters(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	_, err := s.commit(Event{Key: "a", State: StateDispatched}, effects{spend: 700, budget: 1000})
	require.NoError(t, err)
	_, err = s.commit(Event{Key: "b", State: StateDispatched}, effects{spend: 400, budget: 1000})
	require.ErrorIs(t, err, ErrBudget)
	evs, err := s.Events("b")
	require.NoError(t, err)
	require.Empty(t, evs, "a refused dispatch leaves no event")
	_, err = s.commit(Event{Key: "a", State: StateUnpaid}, effects{spend: -700})
	require.NoError(t, err)
	spent, err := s.Spent()
	require.NoError(t, err)
	require.Zero(t, spent)

	tok := &Token{Service: "svc", PaymentHash: "h1", Macaroon: []byte("m"), Expiry: time.Unix(5, 0)}
	_, err = s.commit(Event{Key: "a", State: StateSettled}, effects{token: tok})
	require.NoError(t, err)
	got, ok, err := s.Token("svc")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "h1", got.PaymentHash)
	require.NoError(t, s.DropToken("svc", "other"))
	_, ok, _ = s.Token("svc")
	require.True(t, ok, "a token for another hash is left alone")
	require.NoError(t, s.DropToken("svc", "h1"))
	_, ok, _ = s.Token("svc")
	require.False(t, ok)

	_, err = s.commit(Event{Key: "a", State: StateIntent}, effects{open: true})
	require.NoError(t, err)
	open, err := s.Unfinished()
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, open)
	d := &DeadLetter{Key: "a", Kind: Refused, Result: Failed, Attempts: 1, LastError: "x"}
	_, err = s.commit(Event{Key: "a", State: StateFailed}, effects{closed: true, dead: d})
	require.NoError(t, err)
	require.NoError(t, s.deadLetter(DeadLetter{Key: "a", Kind: Ambiguous, Result: Unknown, Attempts: 1, LastError: "y"}))
	dl, err := s.DeadLetters()
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, 2, dl[0].Attempts)
	require.Equal(t, "y", dl[0].LastError)
	open, _ = s.Unfinished()
	require.Empty(t, open)
	require.NoError(t, s.Resolve("a"))
	require.NoError(t, s.Resolve("a"), "resolving twice is fine")
	dl, _ = s.DeadLetters()
	require.Empty(t, dl)
	keys, _ := s.Purchases()
	require.Equal(t, []string{"a"}, keys)

	_, err = s.commit(Event{Key: "", State: StateIntent}, effects{})
	require.Error(t, err)
}

func TestStoreSecondOpenTimesOut(t *testing.T) {
	dir := t.TempDir()
	openTestStore(t, dir)
	start := time.Now()
	s2, err := OpenStore(dir, WithOpenTimeout(100*time.Millisecond))
	require.Error(t, err)
	require.Nil(t, s2)
	require.Less(t, time.Since(start), 5*time.Second)
	_, err = OpenStore(dir, WithOpenTimeout(0))
	require.Error(t, err)
}

func TestStoreKeyLock(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	ctx := context.Background()
	unlock, err := s.lock(ctx, "k")
	require.NoError(t, err)

	// A second holder in this process waits until its context ends.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.lock(cctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	// Another key is free.
	u2, err := s.lock(ctx, "other")
	require.NoError(t, err)
	u2()

	unlock()
	unlock() // idempotent
	unlock, err = s.lock(ctx, "k")
	require.NoError(t, err)
	unlock()
	require.Empty(t, s.locks.m, "no lock state left behind")

	// A lock held by another open file description (as another process
	// would hold it) blocks until released.
	sum := sha256.Sum256([]byte("k"))
	f, err := os.OpenFile(filepath.Join(dir, "locks", hex.EncodeToString(sum[:16])+".lock"), os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))
	cctx, cancel = context.WithTimeout(ctx, 60*time.Millisecond)
	defer cancel()
	_, err = s.lock(cctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, `lock "k": held by another process: `)
	require.Empty(t, s.locks.m, "no lock state left behind")
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_UN))
	unlock, err = s.lock(ctx, "k")
	require.NoError(t, err)
	unlock()
}
