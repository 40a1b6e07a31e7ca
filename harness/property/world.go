package property

import (
	"context"
	"net/url"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
)

// World is one tier: what a Machine carries its steps out on. The
// simulator (harness/sim) and the live network (package scenarios)
// implement it.
type World interface {
	// Backend is what faults act on; its Truth is the ground truth.
	Backend() harness.Backend
	// Client is the client under test, for faults that need it.
	Client() harness.Client
	// BaseURL is the provider's L402 URL as the client reaches it.
	BaseURL() *url.URL
	// Attempts runs the attempts at once, one client process each, and
	// returns each one's report in order. An attempt with CrashAt set is
	// killed (kill -9) once that phase has happened once more after the
	// attempts start; its report is then an error.
	Attempts(ctx context.Context, as []Attempt) []Report
	// Pass lets d pass: a sleep, or the simulator's clock moving on.
	Pass(ctx context.Context, d time.Duration) error
	// Now is the world's clock: the history's times are read from it.
	Now() time.Time
	// Close stops everything the world started. It is idempotent.
	Close() error
}

// Attempt is one client process's purchase attempt.
type Attempt struct {
	Purchase harness.Purchase
	// CrashAt, if set, kills the process once the phase happens.
	CrashAt harness.Phase
}

// Report is what one attempt gave: as harness.Client.Purchase returns.
type Report struct {
	Result history.Result
	Err    error
	// At is when the attempt ended, on the world's clock: attempts of one
	// step are recorded in the order they ended. Zero means when
	// Attempts returned.
	At time.Time
}
