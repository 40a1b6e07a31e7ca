package wait

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Until calls f at once and then again every interval after each failed
// call, until f returns nil or ctx ends. It is backoff.Retry with a
// constant backoff bound to ctx: every is the pause between the end of
// one call and the start of the next.
//
// f's errors mean "not yet". When ctx ends, Until returns an error that
// wraps both ctx's error (errors.Is(err, context.DeadlineExceeded) or
// context.Canceled holds) and f's last error, so the caller sees why the
// condition never held; its text is "after N attempts: <ctx error>
// (last: <f's error>)". f is called at least once, even if ctx has
// already ended.
//
// If f returns an error made by Permanent (or backoff.Permanent), Until
// gives up at once and returns the wrapped error itself, not wrapped
// further.
func Until(ctx context.Context, every time.Duration, f func(context.Context) error) error {
	var last error
	attempts := 0
	err := backoff.Retry(func() error {
		attempts++
		last = f(ctx)
		return last
	}, backoff.WithContext(backoff.NewConstantBackOff(every), ctx))
	var perm *backoff.PermanentError
	if err == nil || errors.As(last, &perm) {
		return err // success, or the error Permanent wrapped
	}
	// Only an ended ctx stops a constant backoff: err is ctx.Err().
	return fmt.Errorf("after %d attempts: %w (last: %w)", attempts, err, last)
}

// Permanent wraps an error so that Until gives up at once: the condition
// can never hold (the process died, the configuration is wrong). It is
// backoff.Permanent; Permanent(nil) is nil.
func Permanent(err error) error { return backoff.Permanent(err) }
