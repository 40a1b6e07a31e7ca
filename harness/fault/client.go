package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/l402chaos/l402chaos/harness"
)

// ErrNotKillable: the client under test cannot be killed (in-process).
var ErrNotKillable = errors.New("client cannot be killed")

// KillClient kills the client's processes for a purchase with SIGKILL, as
// a crash would. The runner starts the purchase again with the same key
// and state directory; there is nothing to heal.
type KillClient struct {
	Key string `json:"key"`
}

func (k KillClient) Name() string { return "kill -9 client " + k.Key }

func (k KillClient) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	killer, ok := env.Client.(harness.Killer)
	if !ok {
		return nil, ErrNotKillable
	}
	n, err := killer.Kill(k.Key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no client process running", k.Name())
	}
	return noHeal, nil
}
