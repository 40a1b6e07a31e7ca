package fault

import (
	"context"
	"fmt"

	"github.com/l402chaos/l402chaos/harness"
)

// KillNode kills an LND node with SIGKILL; the heal starts it again and
// waits until its channels carry payments. "bob" offline is the payee
// offline.
type KillNode struct {
	Node string `json:"node"`
}

func (k KillNode) Name() string { return "kill -9 " + k.Node }

// HealsNode: the heal starts the node and waits until it carries
// payments (harness.NodeHealer).
func (KillNode) HealsNode() bool { return true }

func (k KillNode) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	n, err := env.Backend.Node(k.Node)
	if err != nil {
		return nil, err
	}
	if err := n.Kill(); err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	return n.Start, nil
}

// PauseNode freezes an LND node (SIGSTOP); the heal resumes it.
type PauseNode struct {
	Node string `json:"node"`
}

func (p PauseNode) Name() string { return "pause " + p.Node }

func (p PauseNode) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	n, err := env.Backend.Node(p.Node)
	if err != nil {
		return nil, err
	}
	if err := n.Pause(); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name(), err)
	}
	return n.Start, nil
}

// RestartNode stops an LND node gracefully and starts it again; Inject
// returns once its channels carry payments again.
type RestartNode struct {
	Node string `json:"node"`
}

func (r RestartNode) Name() string { return "restart " + r.Node }

func (r RestartNode) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	n, err := env.Backend.Node(r.Node)
	if err != nil {
		return nil, err
	}
	if err := n.Restart(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name(), err)
	}
	return noHeal, nil
}

// IsolateNode cuts an LND node from the network as a whole: its peers,
// its chain backend, the provider and the client all lose it at the IP
// level while it keeps running (the containers backend disconnects its
// container from the run's network). The heal joins it again and waits
// until its channels carry payments. Backends that cannot isolate
// (local processes) refuse it: see Scenario.NeedsIsolation.
type IsolateNode struct {
	Node string `json:"node"`
}

func (i IsolateNode) Name() string { return "isolate " + i.Node }

func (i IsolateNode) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	n, err := env.Backend.Node(i.Node)
	if err != nil {
		return nil, err
	}
	iso, ok := n.(harness.Isolator)
	if !ok {
		return nil, fmt.Errorf("%s: %w", i.Name(), harness.ErrNeedsIsolation)
	}
	if err := iso.Isolate(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", i.Name(), err)
	}
	return n.Start, nil
}
