package wait_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
)

func TestUntilFirstTry(t *testing.T) {
	calls := 0
	err := wait.Until(context.Background(), time.Hour, func(context.Context) error {
		calls++
		return nil
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v after %d calls, want nil after 1", err, calls)
	}
}

func TestUntilAfterRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls := 0
	err := wait.Until(ctx, time.Millisecond, func(context.Context) error {
		calls++
		if calls < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d calls, want nil after 4", err, calls)
	}
}

func TestUntilTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	last := errors.New("condition never held")
	calls := 0
	err := wait.Until(ctx, time.Millisecond, func(context.Context) error {
		calls++
		return last
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v does not wrap context.DeadlineExceeded", err)
	}
	if !errors.Is(err, last) {
		t.Errorf("err %v does not wrap the last error", err)
	}
	if calls < 2 {
		t.Errorf("%d calls, want at least 2", calls)
	}
	want := fmt.Sprintf("after %d attempts: %v (last: %v)", calls, context.DeadlineExceeded, last)
	if err.Error() != want {
		t.Errorf("err %q, want %q", err, want)
	}
}

// A context that has already ended still gets one call, and the error
// says it was canceled and why the condition did not hold.
func TestUntilEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	last := errors.New("not yet")
	calls := 0
	err := wait.Until(ctx, time.Hour, func(context.Context) error {
		calls++
		return last
	})
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, last) {
		t.Errorf("err %v, want it to wrap context.Canceled and the last error", err)
	}
	if !strings.HasPrefix(err.Error(), "after 1 attempts: ") {
		t.Errorf("err %q does not count the attempts", err)
	}

	calls = 0
	if err := wait.Until(ctx, time.Hour, func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
		t.Errorf("err %v after %d calls, want nil after 1: a condition that holds wins over an ended context", err, calls)
	}
}

func TestPermanentStopsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	inner := errors.New("process died")
	calls := 0
	err := wait.Until(ctx, time.Millisecond, func(context.Context) error {
		calls++
		return wait.Permanent(inner)
	})
	if calls != 1 {
		t.Errorf("%d calls, want 1", calls)
	}
	if !errors.Is(err, inner) {
		t.Errorf("err %v does not wrap the inner error", err)
	}
	if err.Error() != inner.Error() {
		t.Errorf("err %q, want the inner error %q", err, inner)
	}
	if ctx.Err() != nil {
		t.Errorf("Until waited for the context to end")
	}
}

// A permanent error wrapped in another error still stops the wait; it is
// returned without the outer wrapping, as backoff.Retry does.
func TestPermanentWrapped(t *testing.T) {
	inner := errors.New("bad configuration")
	calls := 0
	err := wait.Until(context.Background(), time.Millisecond, func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return fmt.Errorf("probe: %w", wait.Permanent(inner))
	})
	if calls != 3 || err != inner {
		t.Fatalf("err %v after %d calls, want %v after 3", err, calls, inner)
	}
	if wait.Permanent(nil) != nil {
		t.Errorf("Permanent(nil) is not nil")
	}
}
