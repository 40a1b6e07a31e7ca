package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/property"
)

// WorldOptions configures a World. The zero value is the reference
// client on the default network of the scripted scenarios.
type WorldOptions struct {
	// Command is the client under test, speaking the exec adapter
	// protocol v1 (a mutant's command, say). Nil: the reference client,
	// built into the world's state directory; tests that start many
	// worlds pass a command built once (adapter.ReferenceCommand).
	Command []string
	// Logger logs the backend and the client. Nil: discard.
	Logger *slog.Logger
	// StateDir holds the client's state and its attempts' stderr logs; it
	// is the caller's and is kept. Empty: a fresh temporary directory
	// that Close removes.
	StateDir string
}

// World is the real tier of property-based chaos: a property.World on
// a regtest network (alice -> bob, direct, as the scripted scenarios run
// by default) whose hops pass through toxiproxy, the fake provider on bob,
// and the client under test run through the exec adapter, so that crash
// steps can kill it (kill -9).
//
//	Machine ─Attempts─▶ exec client ─▶ client-provider proxy ─▶ provider (bob)
//	                         └───────▶ client-lnd proxy ──────▶ alice ─▶ bob
//	        ─Backend──▶ live.Backend: links, nodes, chain, phases, truth
type World struct {
	backend *Backend
	truth   truthBackend
	client  *adapter.Exec
	base    *url.URL
	log     *slog.Logger
	tmp     string // removed by Close; empty when the caller owns the state

	epochOnce sync.Once
	epoch     time.Time

	closeOnce sync.Once
	closeErr  error
}

var _ property.World = (*World)(nil)

// NewWorld starts a live world: the network (from the snapshot cache),
// the provider, the proxies, and the exec client. On failure it stops
// whatever it had started.
func NewWorld(ctx context.Context, opts WorldOptions) (_ *World, err error) {
	w := &World{log: opts.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.Close())
		}
	}()
	state := opts.StateDir
	if state == "" {
		if w.tmp, err = os.MkdirTemp("", "l402chaos-world-"); err != nil {
			return nil, fmt.Errorf("live world: %w", err)
		}
		state = w.tmp
	}
	command := opts.Command
	if command == nil {
		if command, err = adapter.ReferenceCommand(ctx, filepath.Join(state, "bin")); err != nil {
			return nil, fmt.Errorf("live world: %w", err)
		}
	}
	env, err := Start(ctx, harness.Network{}, w.log)
	if err != nil {
		return nil, fmt.Errorf("live world: %w", err)
	}
	b, ok := env.(*Backend)
	if !ok {
		env.Close()
		return nil, fmt.Errorf("live world: backend is %T, want *live.Backend", env)
	}
	w.backend = b
	w.truth = truthBackend{Backend: b, world: w}
	ends := b.Endpoints()
	if w.base, err = url.Parse(ends.ProviderURL); err != nil {
		return nil, fmt.Errorf("live world: provider url: %w", err)
	}
	w.client, err = adapter.NewExec(command, adapter.ExecConfig{
		StateRoot: filepath.Join(state, "client"), RPCServer: ends.PayerRPC,
		TLSCertPath: ends.PayerTLSCert, MacaroonPath: ends.PayerMacaroon,
	}, adapter.WithLogger(w.log))
	if err != nil {
		return nil, fmt.Errorf("live world: %w", err)
	}
	return w, nil
}

// Backend is the live backend, whose Truth starts at the world's epoch
// (see Now). Faults find its provider, network and Drain by type
// assertion, as on the live backend itself.
func (w *World) Backend() harness.Backend { return w.truth }

// Live is the live backend itself.
func (w *World) Live() *Backend { return w.backend }

// Client is the exec client under test; it implements harness.Killer.
func (w *World) Client() harness.Client { return w.client }

// BaseURL is the provider's URL through the client-provider proxy.
func (w *World) BaseURL() *url.URL {
	u := *w.base
	return &u
}

// Now is the wall clock. Its first reading is the world's epoch, the
// Truth's Started: a Machine reads it first, when its history begins, so
// history times and truth times share an origin, as on the simulator.
func (w *World) Now() time.Time {
	now := time.Now()
	w.epochOnce.Do(func() { w.epoch = now })
	return now
}

// started is the world's epoch: its first clock reading, now if the
// clock was never read.
func (w *World) started() time.Time {
	w.Now()
	return w.epoch
}

// truthBackend is the live backend whose Truth is dated from the world's
// epoch; every other ability (Provider, Network, Drain, Count) is the live
// backend's own.
type truthBackend struct {
	*Backend
	world *World
}

// Truth is the live backend's ground truth with Started set to the
// world's epoch, which the checkers read history times against.
func (b truthBackend) Truth(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	t, err := b.Backend.Truth(ctx, plan)
	if t != nil {
		t.Started = b.world.started()
	}
	return t, err
}

// TruthNow is the live backend's truth as it stands (no wait for HTLCs
// to clear), dated from the world's epoch: the checks between steps.
func (b truthBackend) TruthNow(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	t, err := b.Backend.TruthNow(ctx, plan)
	if t != nil {
		t.Started = b.world.started()
	}
	return t, err
}

// Pass sleeps d, or until ctx is done.
func (w *World) Pass(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pass %s: %w", d, ctx.Err())
	}
}

// Attempts runs every attempt at once, one client process each, and waits
// for all of them. An attempt with CrashAt set is killed once its phase
// has happened once more than it had when the attempts started; if the
// phase does not come before the attempt ends, the attempt ends on its
// own.
func (w *World) Attempts(ctx context.Context, as []property.Attempt) []property.Report {
	reps := make([]property.Report, len(as))
	// The counts are read before any attempt starts: only what happens
	// from now on can trigger a crash.
	next := make([]int, len(as))
	for i, a := range as {
		if a.CrashAt != "" {
			next[i] = w.backend.Count(a.CrashAt) + 1
		}
	}
	var wg sync.WaitGroup
	for i, a := range as {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i] = w.attempt(ctx, a, next[i])
		}()
	}
	wg.Wait()
	return reps
}

// attempt runs one purchase; with a crash phase, a kill of its key waits
// for occurrence n of the phase beside it, and is called off once the
// purchase has ended.
func (w *World) attempt(ctx context.Context, a property.Attempt, n int) property.Report {
	if a.CrashAt == "" {
		res, err := w.client.Purchase(ctx, a.Purchase)
		return property.Report{Result: res, Err: err, At: w.Now()}
	}
	kill := fault.After(fault.KillClient{Key: a.Purchase.Key}, a.CrashAt, n)
	env := &harness.Env{Backend: w.backend, Client: w.client, Log: w.log}
	wait, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := kill.Inject(wait, env); err != nil {
			// The phase never came, or came as the attempt ended on its
			// own: either way the attempt's report stands.
			w.log.Debug("crash not injected", "key", a.Purchase.Key, "phase", a.CrashAt, "err", err)
		}
	}()
	res, err := w.client.Purchase(ctx, a.Purchase)
	stop()
	// The kill is over before the next step starts: it never reaches a
	// later attempt of the same key.
	<-done
	return property.Report{Result: res, Err: err, At: w.Now()}
}

// Close stops the client's running attempts, the provider, the network
// and the proxies, and removes the temporary state directory. It is
// idempotent.
func (w *World) Close() error {
	w.closeOnce.Do(func() {
		var errs []error
		if w.client != nil {
			errs = append(errs, w.client.Close())
		}
		if w.backend != nil {
			errs = append(errs, w.backend.Close())
		}
		if w.tmp != "" {
			errs = append(errs, os.RemoveAll(w.tmp))
		}
		w.closeErr = errors.Join(errs...)
	})
	return w.closeErr
}
