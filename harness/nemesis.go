package harness

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// The nemesis's seam: what a fault is, what it acts on, and how it heals.
// The faults themselves are package harness/fault, one file each.

// Heal undoes a fault. It is idempotent: the runner heals everything at
// the end, whether or not the fault healed itself before.
type Heal func(ctx context.Context) error

// Fault is one thing the nemesis does. Faults are data: their parameter
// structs are also their JSON form, written into reports.
type Fault interface {
	// Name is the fault's kind and target, for the history:
	// "latency client-provider 2s".
	Name() string
	// Inject applies the fault and returns how to undo it. It returns
	// once the fault is in place; a fault that waits for a trigger does so
	// inside Inject.
	Inject(ctx context.Context, env *Env) (Heal, error)
}

// Env is what a fault acts on.
type Env struct {
	Backend Backend
	Client  Client
	// Rand is the run's random source, seeded from the run's seed. Faults
	// that choose anything choose from it.
	Rand *rand.Rand
	Log  *slog.Logger
	// Record appends a nemesis event to the history (wrappers use it to
	// mark when a fault really started and stopped).
	Record func(history.Event) history.Event
}

// ErrNotTriggered is returned by a fault whose trigger never came before
// the traffic ended. It is recorded, not a harness failure: the scenario's
// coverage says whether that matters.
var ErrNotTriggered = errors.New("fault trigger never came")

// Scheduled is an optional Fault ability: a fault that heals itself. The
// runner calls HealAfter once the fault is in place and heals it when
// HealAfter returns nil (fault.For, fault.Until).
type Scheduled interface {
	HealAfter(ctx context.Context, env *Env) error
}

// Lasting is a Scheduled fault whose schedule is a span of time (a 5 s
// partition: fault.For): the fault is the span, so it holds for all of
// it even when the traffic ends first, within the scenario's timeout.
// Other schedules (a phase: fault.Until) end with the traffic.
type Lasting interface {
	// Lasts is the span; 0 when the schedule is not one.
	Lasts() time.Duration
}

// lasts is f's span, 0 if it has none.
func lasts(f Fault) time.Duration {
	if l, ok := f.(Lasting); ok {
		return l.Lasts()
	}
	return 0
}
