package main

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

// httpTimeout is the reference client's default HTTP client timeout,
// kept when a mutant brings its own HTTP client.
const httpTimeout = 60 * time.Second

// rig is what one purchase attempt runs on.
type rig struct {
	env   client.AdapterEnv
	payer client.Payer
	// opts come first (tests add a clock); the mutant's own come last.
	opts []client.Option
	log  *slog.Logger
}

// buy runs one purchase attempt as chaos client does, with the
// sabotage. ctx bounds it (L402_TIMEOUT_SEC).
func (s sabotage) buy(ctx context.Context, r rig) (*client.Outcome, error) {
	if r.payer == nil || r.log == nil {
		return nil, errors.New("buy: nil payer or logger")
	}
	payer := r.payer
	if s.payer != nil {
		payer = s.payer(payer)
	}
	opts := append(append([]client.Option(nil), r.opts...), client.WithMaxCost(r.env.MaxCostSat*1000), client.WithLogger(r.log))
	if s.transport != nil {
		opts = append(opts, client.WithHTTPClient(&http.Client{Timeout: httpTimeout, Transport: s.transport(http.DefaultTransport)}))
	}
	opts = append(opts, s.options...)

	dir := r.env.StateDir
	if s.scratchJournal {
		scratch, cleanup, err := scratchDir(r.env.StateDir)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		dir = scratch
	}
	out, err := purchase(ctx, r, dir, payer, opts)
	if !s.startOverAfter5xx || !paidThen5xx(out) {
		return out, err
	}
	r.log.Warn("paid and not delivered after a 5xx: starting over as a new purchase", "status", out.Status)
	scratch, cleanup, serr := scratchDir(r.env.StateDir)
	if serr != nil {
		return out, err
	}
	defer cleanup()
	again, aerr := purchase(ctx, r, scratch, payer, opts)
	if again == nil {
		return out, err
	}
	again.Payments += out.Payments
	again.Requests += out.Requests
	return again, aerr
}

// purchase is chaos client's attempt: open the journal in dir, resolve
// what a dead attempt left, then Do.
func purchase(ctx context.Context, r rig, dir string, payer client.Payer, opts []client.Option) (*client.Outcome, error) {
	store, err := client.OpenStore(dir, client.WithOpenTimeout(r.env.Timeout))
	if err != nil {
		// Another process holds the journal: this attempt did nothing.
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer store.Close()
	c, err := client.New(payer, store, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", client.ErrAdapterConfig, err)
	}
	return c.AdapterAttempt(ctx, r.env)
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
