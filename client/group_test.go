package client

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func openTestDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}))
	return db
}

// queued waits until n calls wait behind the running transaction.
func (g *group) queued(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.queue) == n
	}, 10*time.Second, time.Millisecond)
}

// TestGroupShares: appends that arrive while a transaction is being
// written share the next one; each caller sees its own result, a failing
// append fails alone and leaves no trace, and a panic is an error.
func TestGroupShares(t *testing.T) {
	db := openTestDB(t)
	var g group
	release := make(chan struct{})
	var (
		mu  sync.Mutex
		txs = map[*bolt.Tx]bool{}
	)
	put := func(k string, fail error, panics bool) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			mu.Lock()
			txs[tx] = true
			mu.Unlock()
			if err := tx.Bucket([]byte("b")).Put([]byte(k), []byte("v")); err != nil {
				return err
			}
			if panics {
				panic("boom")
			}
			return fail
		}
	}
	first := make(chan error, 1)
	go func() {
		first <- g.update(db, func(tx *bolt.Tx) error {
			<-release // hold the first transaction open while the others queue
			return put("first", nil, false)(tx)
		})
	}()
	require.Eventually(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.busy }, 10*time.Second, time.Millisecond)

	errBudget := errors.New("over budget")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var fail error
			if i == 3 {
				fail = errBudget
			}
			errs[i] = g.update(db, put(fmt.Sprintf("k%d", i), fail, i == 5))
		})
		g.queued(t, i+1) // in a known order
	}
	close(release)
	wg.Wait()
	require.NoError(t, <-first)

	for i, err := range errs {
		switch i {
		case 3:
			require.ErrorIs(t, err, errBudget)
		case 5:
			require.ErrorContains(t, err, "panic in journal append: boom")
		default:
			require.NoError(t, err, "append %d", i)
		}
	}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		require.NotNil(t, b.Get([]byte("first")))
		for i := range n {
			if i == 3 || i == 5 {
				require.Nil(t, b.Get([]byte(fmt.Sprintf("k%d", i))), "a failed append leaves nothing")
			} else {
				require.NotNil(t, b.Get([]byte(fmt.Sprintf("k%d", i))), "append %d", i)
			}
		}
		return nil
	}))
	// The first alone; the eight queued behind it in one, rerun twice
	// without the one that failed each time.
	require.Len(t, txs, 4)
	require.False(t, g.busy)
	require.Empty(t, g.queue)
}

// TestGroupConcurrent: many goroutines appending to one journal, with
// fsync, each see their own events in order.
func TestGroupConcurrent(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	const workers, steps = 16, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*steps)
	for w := range workers {
		wg.Go(func() {
			key := fmt.Sprintf("w%d", w)
			for i := range steps {
				ev, err := s.commit(Event{Key: key, State: StateIntent, Reason: fmt.Sprint(i)}, effects{spend: 1})
				if err != nil {
					errs <- err
					return
				}
				if ev.Seq != uint64(i+1) {
					errs <- fmt.Errorf("%s: seq %d, want %d", key, ev.Seq, i+1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		evs, err := s.Events(fmt.Sprintf("w%d", w))
		require.NoError(t, err)
		require.Len(t, evs, steps)
		for i, ev := range evs {
			require.Equal(t, fmt.Sprint(i), ev.Reason)
		}
	}
	spent, err := s.Spent()
	require.NoError(t, err)
	require.EqualValues(t, workers*steps, spent)
}
