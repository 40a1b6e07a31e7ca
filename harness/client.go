package harness

import (
	"context"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Client is the L402 client under test. Implementations: in-process Go and
// exec (the adapter protocol, docs/adapter-protocol.md), in harness/adapter.
type Client interface {
	// Purchase runs one attempt of a purchase and returns what the client
	// reported. An error means the client reported nothing usable (it
	// crashed, was killed, timed out, printed no JSON): the attempt is
	// recorded as Info, may have happened. The Result is still returned
	// with what is known (exit code, Killed).
	Purchase(ctx context.Context, p Purchase) (history.Result, error)
}

// AdapterFault is an error a client returns when the client under test
// broke the adapter protocol rather than the purchase going wrong: its
// command could not start, it printed no report or garbage, its exit code
// contradicted its report. The attempt is still Info (money may have
// moved), and a run with such an attempt cannot vouch for the client:
// certification answers it "adapter error", unknown, never a verdict
// against the client.
type AdapterFault interface {
	error
	AdapterFault() bool
}

// Killer is an optional Client ability: kill the running attempts of a
// purchase at once (SIGKILL), as a crash would.
type Killer interface {
	Kill(key string) (int, error) // how many processes it killed
}

// CrashPointer is an optional Client ability: it can make the client die
// at a named point inside it (Purchase.CrashAt), as the exec adapter does
// with L402_CRASH_AT for a client that declares crash points.
type CrashPointer interface {
	CrashPoints() bool
}

// Purchase is one purchase attempt's input.
type Purchase struct {
	Key    string `json:"key"`
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   []byte `json:"body,omitempty"`
	// MaxCostSat is the most the client may pay.
	MaxCostSat int64 `json:"max_cost_sat"`
	// Timeout is the client's own deadline (L402_TIMEOUT_SEC); the harness
	// kills it a little after.
	Timeout time.Duration `json:"timeout"`
	// Instance selects the client instance (its state directory): two
	// processes of one instance share a journal.
	Instance int `json:"instance"`
	// CrashAt names a crash point inside the client (client.CrashPoints)
	// where this attempt must die (L402_CRASH_AT); empty for none.
	CrashAt string `json:"crash_at,omitempty"`
}
