package regtest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Until calls f at once and then every interval until it returns nil or ctx
// ends. On timeout it returns ctx's error together with f's last error, so
// the caller sees why the condition never held.
func Until(ctx context.Context, every time.Duration, f func(context.Context) error) error {
	var last error
	attempts := 0
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		attempts++
		if last = f(ctx); last == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(last, &perm) {
			return perm.err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %d attempts: %w (last: %w)", attempts, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// stop wraps an error so that Until gives up at once: the condition can
// never hold (the process died, the configuration is wrong).
func stop(err error) error { return &permanentError{err: err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// await runs a blocking call that takes no context (btcd's rpcclient) and
// gives up when ctx ends. The call's goroutine finishes on its own.
func await[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Permanent wraps an error so that Until gives up at once: for callers
// outside this package whose condition can no longer hold.
func Permanent(err error) error { return stop(err) }
