package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// lockPoll is how often a lock held by another process is tried again.
const lockPoll = 20 * time.Millisecond

// keyLocks serialises work on one purchase key: a semaphore per key for
// goroutines of this process, then an flock on a file per key for other
// processes. bbolt already lets only one process open the journal, so the
// file lock is a second line: it still holds if the journal is ever
// shared differently, and the kernel drops it when a process dies.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{}
	refs int
}

// lock takes the key's lock, waiting until ctx ends. The returned function
// releases it and is safe to call more than once.
func (s *Store) lock(ctx context.Context, key string) (func(), error) {
	kl := s.locks.ref(key)
	// A context that has ended never takes the lock, even a free one:
	// select would pick at random between the two.
	if err := ctx.Err(); err != nil {
		s.locks.unref(key)
		return nil, fmt.Errorf("lock %.64q: %w", key, err)
	}
	select {
	case kl.sem <- struct{}{}:
	case <-ctx.Done():
		s.locks.unref(key)
		return nil, fmt.Errorf("lock %.64q: %w", key, ctx.Err())
	}
	f, err := s.flock(ctx, key)
	if err != nil {
		<-kl.sem
		s.locks.unref(key)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = f.Unlock() // LOCK_UN, then closes the file
			<-kl.sem
			s.locks.unref(key)
		})
	}, nil
}

func (l *keyLocks) ref(key string) *keyLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	kl := l.m[key]
	if kl == nil {
		kl = &keyLock{sem: make(chan struct{}, 1)}
		l.m[key] = kl
	}
	kl.refs++
	return kl
}

func (l *keyLocks) unref(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kl := l.m[key]
	kl.refs--
	if kl.refs == 0 {
		delete(l.m, key)
	}
}

// flock takes an exclusive lock on the key's lock file. Lock files are
// named by a hash of the key and never removed: removing a lock file
// races with another process opening it.
//
// The lock is tried once even if ctx has ended meanwhile (a free lock is
// taken), then every lockPoll until ctx ends. Failing to open the
// file, or a flock error other than "held", ends the wait at once.
func (s *Store) flock(ctx context.Context, key string) (*flock.Flock, error) {
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(s.dir, "locks", hex.EncodeToString(sum[:16])+".lock")
	f := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := f.TryLock()
	if err == nil && !ok {
		ok, err = f.TryLockContext(ctx, lockPoll)
	}
	if ok {
		return f, nil
	}
	// flock closes its file whenever a try leaves the lock untaken.
	if cerr := ctx.Err(); cerr != nil && (err == nil || errors.Is(err, cerr)) {
		return nil, fmt.Errorf("lock %.64q: held by another process: %w", key, cerr)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("lock %.64q: %w", key, err) // opening the lock file
	}
	return nil, fmt.Errorf("lock %.64q: flock: %w", key, err)
}
