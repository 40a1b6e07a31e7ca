package wait_test

import (
	"context"
	"errors"
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
