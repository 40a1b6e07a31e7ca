package sim

import (
	"context"
	"errors"
	"log/slog"

	"github.com/l402chaos/l402chaos/harness"
)

var _ harness.Environment = (*World)(nil)

// errNotStarted: a client asked for before any world was started.
var errNotStarted = errors.New("sim: client before the world started")

// Endpoints is how the client reaches the simulated system: the
// provider's URL. The payer is modelled in process, with no address.
func (w *World) Endpoints() harness.Endpoints {
	return harness.Endpoints{ProviderURL: w.base.String()}
}

// Start is a harness.StartFunc on the simulator, for the scripted
// runner: each scenario gets a fresh World from cfg (the scenario's
// network is the simulator's one topology, alice -> bob), and Client
// gives that world's client. The simulator is single-threaded: the
// scenarios it runs must not drive it from two goroutines at once (no
// concurrent traffic, no faults that fire during traffic; setup faults
// are fine).
type Start struct {
	Config Config
	world  *World
}

// Start starts a fresh World.
func (s *Start) Start(_ context.Context, _ harness.Network, log *slog.Logger) (harness.Environment, error) {
	cfg := s.Config
	if cfg.Log == nil {
		cfg.Log = log
	}
	w, err := New(cfg)
	if err != nil {
		return nil, err
	}
	s.world = w
	return w, nil
}

// Client is the client of the world Start started last.
func (s *Start) Client(context.Context, harness.Endpoints, string) (harness.Client, error) {
	if s.world == nil {
		return nil, errNotStarted
	}
	return s.world.Client(), nil
}
