package wait

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

// Permanent wraps an error so that Until gives up at once: the condition
// can never hold (the process died, the configuration is wrong).
func Permanent(err error) error { return &permanentError{err: err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
