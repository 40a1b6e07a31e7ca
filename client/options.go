package client

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Option configures a Client. Options validate their arguments.
type Option func(*Client) error

// Defaults. A reference client errs on the side of paying less.
const (
	defaultMaxCost          = 1_000_000 // msat: 1,000 sat per purchase
	defaultMaxFee           = 50_000    // msat: 50 sat routing fee per payment
	defaultExpiryMargin     = 30 * time.Second
	defaultPaidRejectWindow = 30 * time.Second
	defaultTokenTTL         = time.Hour
	defaultMaxPayments      = 2
	defaultPollInterval     = time.Second
	defaultMaxBody          = 8 << 20
	defaultPaymentTimeout   = 60 * time.Second
	defaultHTTPTimeout      = 60 * time.Second
	// keepBodyLimit is the largest request body kept in the journal so
	// that Recover can deliver a paid purchase on its own.
	keepBodyLimit = 64 << 10
)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		if l == nil {
			return errors.New("nil logger")
		}
		c.log = l
		return nil
	}
}

// WithClock sets the clock used for expiry checks, token lifetimes and
// every wait. Default: the system clock.
func WithClock(k Clock) Option {
	return func(c *Client) error {
		if k == nil {
			return errors.New("nil clock")
		}
		c.clock = k
		return nil
	}
}

// WithRand sets the random source for retry jitter. Default: seeded from
// the operating system.
func WithRand(r *rand.Rand) Option {
	return func(c *Client) error {
		if r == nil {
			return errors.New("nil random source")
		}
		c.rnd = &lockedRand{r: r}
		return nil
	}
}

// WithHTTPClient sets the HTTP client. Its Transport must not be this
// Client's own RoundTripper. Default: a client with a 60s timeout.
func WithHTTPClient(h *http.Client) Option {
	return func(c *Client) error {
		if h == nil {
			return errors.New("nil http client")
		}
		c.http = h
		return nil
	}
}

// WithMaxCost caps the invoice amount of one purchase, in msat. Default
// 1,000 sat.
func WithMaxCost(msat int64) Option {
	return func(c *Client) error {
		if msat <= 0 {
			return fmt.Errorf("max cost must be positive, got %d msat", msat)
		}
		c.maxCost = msat
		return nil
	}
}

// WithBudget caps the total spent through the store (amounts, fees, and
// what in-flight payments hold), in msat, across restarts. Default: none.
func WithBudget(msat int64) Option {
	return func(c *Client) error {
		if msat <= 0 {
			return fmt.Errorf("budget must be positive, got %d msat", msat)
		}
		c.budget = msat
		return nil
	}
}

// WithMaxFee caps the routing fee of one payment, in msat. Default 50 sat.
func WithMaxFee(msat int64) Option {
	return func(c *Client) error {
		if msat < 0 {
			return fmt.Errorf("max fee must not be negative, got %d msat", msat)
		}
		c.maxFee = msat
		return nil
	}
}

// WithPaymentTimeout bounds route finding for one payment. Default 60s.
func WithPaymentTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < time.Second {
			return fmt.Errorf("payment timeout must be at least 1s, got %s", d)
		}
		c.payTimeout = d
		return nil
	}
}

// WithExpiryMargin refuses invoices that expire within d. Default 30s.
func WithExpiryMargin(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("expiry margin must not be negative, got %s", d)
		}
		c.expiryMargin = d
		return nil
	}
}

// WithRetryPolicy sets how HTTP exchanges are retried.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) error {
		if err := p.validate(); err != nil {
			return err
		}
		c.retry = p
		return nil
	}
}

// WithPaidRejectWindow is how long a credential we paid for is retried
// while the server answers 401 or 402 (it may not have seen the
// settlement yet). After it the purchase ends PaidNotDelivered. Default
// 30s.
func WithPaidRejectWindow(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("paid reject window must not be negative, got %s", d)
		}
		c.paidRejectWindow = d
		return nil
	}
}

// WithTokenTTL is how long a paid credential is reused for its service,
// unless its macaroon expires sooner (a *_valid_until caveat). Default 1h.
func WithTokenTTL(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("token ttl must not be negative, got %s", d)
		}
		c.tokenTTL = d
		return nil
	}
}

// WithService sets how a URL maps to the service whose tokens it shares.
// Default: scheme, host and first path segment.
func WithService(f func(*url.URL) string) Option {
	return func(c *Client) error {
		if f == nil {
			return errors.New("nil service func")
		}
		c.service = f
		return nil
	}
}

// WithMaxPayments bounds how many payments one purchase attempt may
// dispatch, each only after the one before definitively failed. Default 2.
func WithMaxPayments(n int) Option {
	return func(c *Client) error {
		if n < 1 {
			return fmt.Errorf("max payments must be at least 1, got %d", n)
		}
		c.maxPayments = n
		return nil
	}
}

// WithPollInterval is how often an in-flight payment is tracked when the
// payer cannot wait itself (no PaymentWaiter). Default 1s.
func WithPollInterval(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("poll interval must be positive, got %s", d)
		}
		c.pollEvery = d
		return nil
	}
}

// WithMaxBody caps request and response bodies, in bytes. Default 8 MiB.
func WithMaxBody(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("max body must be positive, got %d", n)
		}
		c.maxBody = n
		return nil
	}
}

// withHook calls h after every journal step and right after SendPayment
// returns, with the step's name. Tests use it to stop a client at a
// chosen point as if the process had died there.
func withHook(h func(point string)) Option {
	return func(c *Client) error {
		c.hook = h
		return nil
	}
}

// DefaultService is the default WithService: scheme://host/first-segment.
func DefaultService(u *url.URL) string {
	seg := u.EscapedPath()
	for len(seg) > 0 && seg[0] == '/' {
		seg = seg[1:]
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] == '/' {
			seg = seg[:i]
			break
		}
	}
	return u.Scheme + "://" + u.Host + "/" + seg
}
