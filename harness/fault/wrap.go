package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Triggered injects its fault once a payment phase has happened Count
// times: a trigger on the payment, not a sleep.
type Triggered struct {
	Fault harness.Fault `json:"fault"`
	Phase harness.Phase `json:"phase"`
	Count int           `json:"count"`
	// Lag puts the fault in this long after the phase: a parameter a
	// scenario's seeded variation draws (see harness.Scenario.Vary), not
	// a synchronisation.
	Lag time.Duration `json:"lag,omitempty"`
}

// After fires f when phase p has happened (n times, default once).
func After(f harness.Fault, p harness.Phase, n ...int) *Triggered {
	c := 1
	if len(n) > 0 && n[0] > 0 {
		c = n[0]
	}
	return &Triggered{Fault: f, Phase: p, Count: c}
}

func (t *Triggered) Name() string {
	lag := ""
	if t.Lag > 0 {
		lag = " " + t.Lag.String()
	}
	if t.Count > 1 {
		return fmt.Sprintf("%s%s after %s x%d", t.Fault.Name(), lag, t.Phase, t.Count)
	}
	return fmt.Sprintf("%s%s after %s", t.Fault.Name(), lag, t.Phase)
}

func (t *Triggered) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if err := env.Backend.Await(ctx, t.Phase, max(t.Count, 1)); err != nil {
		return nil, err
	}
	if env.Record != nil {
		env.Record(history.Event{Process: history.Nemesis, Type: history.Info, F: history.Phase, Fault: t.Fault.Name(), Detail: string(t.Phase)})
	}
	if t.Lag > 0 {
		timer := time.NewTimer(t.Lag)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("%s: %w", t.Name(), ctx.Err())
		}
	}
	// Once triggered, the fault goes in whole even if the traffic ends
	// meanwhile (a node restart must not be left half done).
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), injectTimeout)
	defer cancel()
	return t.Fault.Inject(ictx, env)
}

// injectTimeout bounds a triggered fault's injection.
const injectTimeout = 2 * time.Minute

// HealAfter passes on the inner fault's schedule, if it has one.
func (t *Triggered) HealAfter(ctx context.Context, env *harness.Env) error {
	return healAfter(ctx, env, t.Fault)
}

// Lasts passes on the inner fault's span, if it has one.
func (t *Triggered) Lasts() time.Duration {
	if l, ok := t.Fault.(harness.Lasting); ok {
		return l.Lasts()
	}
	return 0
}

func healAfter(ctx context.Context, env *harness.Env, f harness.Fault) error {
	if s, ok := f.(harness.Scheduled); ok {
		return s.HealAfter(ctx, env)
	}
	<-ctx.Done()
	return ctx.Err()
}

// Timed heals its fault after a duration. The duration is the fault's
// parameter (a 5 s partition), not a synchronisation.
type Timed struct {
	Fault    harness.Fault `json:"fault"`
	Duration time.Duration `json:"duration"`
}

// For heals f d after it was injected.
func For(f harness.Fault, d time.Duration) *Timed { return &Timed{Fault: f, Duration: d} }

func (t *Timed) Name() string { return fmt.Sprintf("%s for %s", t.Fault.Name(), t.Duration) }

func (t *Timed) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if t.Duration <= 0 {
		return nil, fmt.Errorf("%s: duration must be positive", t.Name())
	}
	return t.Fault.Inject(ctx, env)
}

// Lasts is the fault's span: it holds for all of it, traffic or not.
func (t *Timed) Lasts() time.Duration { return t.Duration }

func (t *Timed) HealAfter(ctx context.Context, _ *harness.Env) error {
	timer := time.NewTimer(t.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bounded heals its fault once a phase has happened Count times.
type Bounded struct {
	Fault harness.Fault `json:"fault"`
	Phase harness.Phase `json:"phase"`
	Count int           `json:"count"`
}

// Until heals f when phase p has happened (n times, default once).
func Until(f harness.Fault, p harness.Phase, n ...int) *Bounded {
	c := 1
	if len(n) > 0 && n[0] > 0 {
		c = n[0]
	}
	return &Bounded{Fault: f, Phase: p, Count: c}
}

func (b *Bounded) Name() string { return fmt.Sprintf("%s until %s", b.Fault.Name(), b.Phase) }

func (b *Bounded) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	return b.Fault.Inject(ctx, env)
}

func (b *Bounded) HealAfter(ctx context.Context, env *harness.Env) error {
	return env.Backend.Await(ctx, b.Phase, max(b.Count, 1))
}

// noHeal is the Heal of a fault that leaves nothing to undo (a restart, a
// kill of the client, mined blocks).
func noHeal(context.Context) error { return nil }

// Sequence injects its faults one after the other, each once the one
// before is in place (a link cut, then blocks mined behind it); its heal
// undoes them newest first.
type Sequence struct {
	Faults []harness.Fault `json:"faults"`
}

// Then is the sequence of fs.
func Then(fs ...harness.Fault) *Sequence { return &Sequence{Faults: fs} }

func (s *Sequence) Name() string {
	names := make([]string, len(s.Faults))
	for i, f := range s.Faults {
		names[i] = f.Name()
	}
	return strings.Join(names, ", then ")
}

func (s *Sequence) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if len(s.Faults) == 0 {
		return nil, errors.New("empty sequence of faults")
	}
	var heals []harness.Heal
	healAll := func(ctx context.Context) error {
		var errs []error
		for _, h := range slices.Backward(heals) {
			if err := h(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, f := range s.Faults {
		h, err := f.Inject(ctx, env)
		if err != nil {
			// What is in place already is undone by the final heal.
			return healAll, fmt.Errorf("%s: %w", f.Name(), err)
		}
		if h != nil {
			heals = append(heals, h)
		}
	}
	return healAll, nil
}

// HealsNode passes on the inner fault's (harness.NodeHealer).
func (t *Triggered) HealsNode() bool { return harness.HealsNode(t.Fault) }

// HealsNode passes on the inner fault's (harness.NodeHealer).
func (t *Timed) HealsNode() bool { return harness.HealsNode(t.Fault) }

// HealsNode passes on the inner fault's (harness.NodeHealer).
func (b *Bounded) HealsNode() bool { return harness.HealsNode(b.Fault) }

// HealsNode: a sequence with a fault that brings a node back heals after
// the others (harness.NodeHealer).
func (s *Sequence) HealsNode() bool { return slices.ContainsFunc(s.Faults, harness.HealsNode) }
