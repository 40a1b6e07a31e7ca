package mutant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/l402chaos/l402chaos/client"
)

// ErrUnknown: Buy was given a name that is not a mutant of All.
var ErrUnknown = errors.New("unknown mutant")

// httpTimeout is the reference client's default HTTP client timeout, kept
// on the HTTP client Buy always gives it.
const httpTimeout = 60 * time.Second

// Rig is what one purchase attempt runs on.
type Rig struct {
	// Env is the purchase, as the exec adapter protocol v1 passes it.
	// The LND fields are not read: Payer is the node.
	Env client.AdapterEnv
	// Payer is the node the client pays with. Required.
	Payer client.Payer
	// Options come first (a simulator adds its clock, random source ...
	// here); the reference client's cap, logger and HTTP client come
	// next, and the mutant's own options last, so they win. An HTTP
	// client given here is replaced: set Transport instead.
	Options []client.Option
	// Transport is the base HTTP transport every request of the client
	// goes through, reference client included; a mutant's transport
	// wraps it. nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Log receives the client's log. nil means discard.
	Log *slog.Logger
}

// Buy runs one purchase attempt as `chaos client` does (open the journal
// in Env.StateDir with WithOpenTimeout(Env.Timeout), client.New, then
// AdapterAttempt: Recover, then Do), with the named mutant's sabotage.
// name "" is the reference client itself, unsabotaged. ctx bounds the
// attempt: the caller sets the deadline (L402_TIMEOUT_SEC, Env.Timeout).
//
// The results are AdapterAttempt's, for client.ReportFor. An unknown
// name returns an error wrapping ErrUnknown and client.ErrAdapterConfig,
// having done nothing.
func Buy(ctx context.Context, name string, r Rig) (*client.Outcome, error) {
	var s sabotage // the reference client
	if name != "" {
		var ok bool
		if s, ok = sabotages()[name]; !ok {
			return nil, fmt.Errorf("%w: %w %q", client.ErrAdapterConfig, ErrUnknown, name)
		}
	}
	return s.buy(ctx, r)
}

// buy runs one purchase attempt with sabotage s.
func (s sabotage) buy(ctx context.Context, r Rig) (*client.Outcome, error) {
	if r.Payer == nil {
		return nil, fmt.Errorf("%w: nil payer", client.ErrAdapterConfig)
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	payer := r.Payer
	if s.payer != nil {
		payer = s.payer(payer)
	}
	transport := r.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	if s.transport != nil {
		transport = s.transport(transport)
	}
	opts := append([]client.Option(nil), r.Options...)
	opts = append(opts,
		client.WithMaxCost(r.Env.MaxCostSat*1000),
		client.WithLogger(log),
		client.WithHTTPClient(&http.Client{Timeout: httpTimeout, Transport: transport}),
	)
	opts = append(opts, s.options...)

	dir := r.Env.StateDir
	if s.scratchJournal {
		scratch, cleanup, err := scratchDir(r.Env.StateDir)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		dir = scratch
	}
	out, err := purchase(ctx, r.Env, dir, payer, opts)
	if !s.startOverAfter5xx || !paidThen5xx(out) {
		return out, err
	}
	log.Warn("paid and not delivered after a 5xx: starting over as a new purchase", "status", out.Status)
	scratch, cleanup, serr := scratchDir(r.Env.StateDir)
	if serr != nil {
		return out, err
	}
	defer cleanup()
	again, aerr := purchase(ctx, r.Env, scratch, payer, opts)
	if again == nil {
		return out, err
	}
	again.Payments += out.Payments
	again.Requests += out.Requests
	return again, aerr
}

// purchase is chaos client's attempt: open the journal in dir, resolve
// what a dead attempt left, then Do.
func purchase(ctx context.Context, env client.AdapterEnv, dir string, payer client.Payer, opts []client.Option) (*client.Outcome, error) {
	store, err := client.OpenStore(dir, client.WithOpenTimeout(env.Timeout))
	if err != nil {
		// Another process holds the journal: this attempt did nothing,
		// but an earlier one may have paid.
		return nil, client.JournalUnavailable(err)
	}
	defer store.Close()
	c, err := client.New(payer, store, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", client.ErrAdapterConfig, err)
	}
	return c.AdapterAttempt(ctx, env)
}

// paidThen5xx: the purchase paid, and the server's last answer to the
// paid request was a 5xx.
func paidThen5xx(out *client.Outcome) bool {
	return out != nil && out.Result == client.PaidNotDelivered && out.Status >= 500
}

// scratchDir makes a fresh journal directory that cleanup removes. It
// lives inside the state directory, so one a killed process leaves behind
// goes when the harness removes the state directory; no later run reads
// it.
func scratchDir(stateDir string) (string, func(), error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", nil, fmt.Errorf("scratch journal: %w", err)
	}
	dir, err := os.MkdirTemp(stateDir, "mutant-journal-")
	if err != nil {
		return "", nil, fmt.Errorf("scratch journal: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}
