package client

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Clock is the client's time: every wait goes through After, so tests run
// with a fake clock and no real sleeps.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// RetryPolicy bounds the retries of one HTTP exchange. Delays grow
// exponentially from Initial to Max with full jitter (a uniform draw in
// [0, delay]); a Retry-After header sets a floor. An exchange stops after
// Attempts tries or once MaxElapsed has passed, whichever comes first.
type RetryPolicy struct {
	Attempts   int           `json:"attempts"`
	Initial    time.Duration `json:"initial"`
	Max        time.Duration `json:"max"`
	MaxElapsed time.Duration `json:"max_elapsed"`
	// MaxRetryAfter is the longest Retry-After honoured; a server asking
	// for more ends the exchange at once.
	MaxRetryAfter time.Duration `json:"max_retry_after"`
}

// DefaultRetryPolicy is used unless WithRetryPolicy says otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		Attempts:      5,
		Initial:       200 * time.Millisecond,
		Max:           10 * time.Second,
		MaxElapsed:    60 * time.Second,
		MaxRetryAfter: 30 * time.Second,
	}
}

func (p RetryPolicy) validate() error {
	switch {
	case p.Attempts < 1:
		return fmt.Errorf("retry attempts must be at least 1, got %d", p.Attempts)
	case p.Initial < 0 || p.Max < p.Initial:
		return fmt.Errorf("retry delays must satisfy 0 <= initial <= max, got %s and %s", p.Initial, p.Max)
	case p.MaxElapsed <= 0:
		return fmt.Errorf("retry max elapsed must be positive, got %s", p.MaxElapsed)
	case p.MaxRetryAfter < 0:
		return fmt.Errorf("max retry-after must not be negative, got %s", p.MaxRetryAfter)
	}
	return nil
}

// lockedRand makes an injected *rand.Rand safe for concurrent Do calls.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) int64n(n int64) int64 {
	if n <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Int64N(n)
}

// clockAdapter lets backoff read our clock.
type clockAdapter struct{ c Clock }

func (a clockAdapter) Now() time.Time { return a.c.Now() }

// retrier schedules the retries of one exchange.
type retrier struct {
	policy  RetryPolicy
	clock   Clock
	rnd     *lockedRand
	exp     *backoff.ExponentialBackOff
	start   time.Time
	attempt int
}

func newRetrier(p RetryPolicy, c Clock, r *lockedRand) *retrier {
	exp := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(max(p.Initial, time.Nanosecond)),
		backoff.WithMaxInterval(max(p.Max, time.Nanosecond)),
		backoff.WithMultiplier(2),
		// Jitter is ours (full jitter from the injected source), so
		// backoff's own randomisation, which reads the global source,
		// is off.
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(p.MaxElapsed),
		backoff.WithClockProvider(clockAdapter{c}),
	)
	return &retrier{policy: p, clock: c, rnd: r, exp: exp, start: c.Now()}
}

// next returns how long to wait before the next try, or false when the
// exchange must stop. retryAfter is the server's floor (0 for none).
func (r *retrier) next(retryAfter time.Duration) (time.Duration, bool) {
	r.attempt++
	if r.attempt >= r.policy.Attempts {
		return 0, false
	}
	if retryAfter > r.policy.MaxRetryAfter {
		return 0, false
	}
	ceil := r.exp.NextBackOff()
	if ceil == backoff.Stop {
		return 0, false
	}
	d := time.Duration(r.rnd.int64n(int64(ceil) + 1))
	d = max(d, retryAfter)
	if r.clock.Now().Add(d).Sub(r.start) > r.policy.MaxElapsed {
		return 0, false
	}
	return d, true
}

// sleep waits d on the clock, or until ctx ends.
func sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-c.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
