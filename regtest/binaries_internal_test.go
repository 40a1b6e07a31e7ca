package regtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLockFile: the cache lock is exclusive across open files (as across
// processes), tells a waiter once that it waits, gives up when ctx ends,
// and is free again once released.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ctx := context.Background()
	waits := 0
	unlock, err := lockFile(ctx, path, func() { waits++ })
	if err != nil || waits != 0 {
		t.Fatalf("free lock: err %v, %d waits", err, waits)
	}

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = lockFile(cctx, path, func() { waits++ })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "lock "+path+": ") {
		t.Errorf("held lock: err %v, want lock %s: ...deadline exceeded", err, path)
	}
	if waits != 1 {
		t.Errorf("waiting called %d times, want 1", waits)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("gave up after %s, before ctx ended", d)
	}

	unlock()
	unlock() // harmless
	unlock, err = lockFile(ctx, path, nil)
	if err != nil {
		t.Fatalf("released lock: %v", err)
	}
	unlock()

	_, err = lockFile(ctx, filepath.Join(t.TempDir(), "missing", "x.lock"), nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "open lock ") {
		t.Errorf("unopenable lock: err %v, want open lock ...: not exist", err)
	}
}
