package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// Latency delays the data of one direction of a link by Delay (± Jitter)
// per chunk. Jitter is 0 by default: toxiproxy draws it from the global
// random source, so a run with jitter does not replay exactly from its
// seed.
type Latency struct {
	Link   string         `json:"link"`
	Stream harness.Stream `json:"stream,omitempty"` // default downstream
	Delay  time.Duration  `json:"delay"`
	Jitter time.Duration  `json:"jitter,omitempty"`
}

func (l Latency) Name() string {
	name := fmt.Sprintf("latency %s %s %s", l.Link, streamOf(l.Stream), l.Delay)
	if l.Jitter != 0 {
		name += " jitter " + l.Jitter.String()
	}
	return name
}

func (l Latency) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if err := errors.Join(nonNegative(l.Name(), "delay", l.Delay), nonNegative(l.Name(), "jitter", l.Jitter)); err != nil {
		return nil, err
	}
	return addToxic(ctx, env, l.Name(), l.Link, harness.Toxic{
		Type: "latency", Stream: l.Stream,
		Attributes: map[string]any{"latency": millis(l.Delay), "jitter": millis(l.Jitter)},
	})
}

// The helpers below are shared by the network faults (latency.go,
// timeout.go, reset.go, limitdata.go, bandwidth.go, slicer.go, down.go).

// ErrInvalidParam: a fault's parameters are out of range (a negative
// duration, an empty link name).
var ErrInvalidParam = errors.New("invalid fault parameter")

// streamOf is the stream a toxic acts on: downstream (towards the
// caller: the response) unless set.
func streamOf(s harness.Stream) harness.Stream {
	if s == "" {
		return harness.Downstream
	}
	return s
}

// link finds a fault's link after checking its name and the env.
func link(env *harness.Env, fault, name string) (harness.Link, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: %w: no link", fault, ErrInvalidParam)
	}
	if env == nil || env.Backend == nil {
		return nil, fmt.Errorf("%s: no backend", fault)
	}
	l, err := env.Backend.Link(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fault, err)
	}
	return l, nil
}

// addToxic puts t on the named link; its heal takes it off.
func addToxic(ctx context.Context, env *harness.Env, fault, name string, t harness.Toxic) (harness.Heal, error) {
	switch t.Stream {
	case "":
		t.Stream = harness.Downstream
	case harness.Upstream, harness.Downstream:
	default:
		return nil, fmt.Errorf("%s: %w: unknown stream %q", fault, ErrInvalidParam, t.Stream)
	}
	l, err := link(env, fault, name)
	if err != nil {
		return nil, err
	}
	heal, err := l.AddToxic(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fault, err)
	}
	return heal, nil
}

// nonNegative rejects a negative duration parameter.
func nonNegative(fault, param string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s: %w: %s %s is negative", fault, ErrInvalidParam, param, d)
	}
	return nil
}

// millis is d in whole milliseconds, rounded up so that a positive
// duration never becomes 0 (which toxiproxy reads as "never" or "none").
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
