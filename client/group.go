package client

import (
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// group commits the journal appends of concurrent purchases together:
// one bbolt transaction, so one pair of fsyncs, for every append that
// arrived while the previous transaction was being written. bbolt alone
// lets one writer in at a time, so each append would wait for every
// earlier one's fsyncs in turn.
//
//	append ──▶ queue ──▶ leader: one Update running every queued fn
//	                       │         (in arrival order), then fsync
//	                       └──▶ every caller gets its result; the first
//	                            caller queued meanwhile leads the next
//
// There is no timer (bbolt's own Batch waits up to 10ms for company, on
// every step of a lone purchase): the first caller commits at once, and
// transactions grow only when appends queue up behind one being written.
// A caller returns only once the transaction holding its append is on
// disk, so a step is still durable before the side effect it announces.
//
// An append that fails (a budget refusal) is taken out and the others run
// again without it, in a fresh transaction: it fails alone, as if it had
// run by itself at its place in the order. Its fn must only touch tx and
// its own variables, because it may run more than once.
type group struct {
	mu    sync.Mutex
	busy  bool // a leader is committing
	queue []*groupCall
}

type groupCall struct {
	fn  func(*bolt.Tx) error
	err error
	// wake says true when the call is to lead the next transaction,
	// false when err holds its result. One is buffered, so it never
	// blocks the sender.
	wake chan bool
}

// update runs fn in a write transaction shared with the appends of other
// goroutines, and returns once that transaction is committed or fn has
// failed.
func (g *group) update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	c := &groupCall{fn: fn, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead && !<-c.wake {
		return c.err
	}

	g.mu.Lock()
	calls := g.queue // c among them
	g.queue = nil
	g.mu.Unlock()
	commitCalls(db, calls)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	return c.err
}

// commitCalls runs calls in one transaction, taking out any that fails.
func commitCalls(db *bolt.DB, calls []*groupCall) {
	for len(calls) > 0 {
		failed := -1
		err := db.Update(func(tx *bolt.Tx) error {
			for i, c := range calls {
				if err := safely(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].done(err)
			calls = slices.Delete(calls, failed, failed+1)
			continue
		}
		for _, c := range calls {
			c.done(err)
		}
		return
	}
}

func (c *groupCall) done(err error) {
	c.err = err
	c.wake <- false
}

// safely turns a panic in fn into its error, so that one append's bug
// cannot leave the callers sharing its transaction waiting forever.
func safely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in journal append: %v", p)
		}
	}()
	return fn(tx)
}
