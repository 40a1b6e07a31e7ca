package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// restoreTimeout bounds bringing a link back up after a failed Down.
const restoreTimeout = 10 * time.Second

// Down takes a link down: every connection through it is closed and new
// ones are refused. The heal brings it up on the same address.
type Down struct {
	Link string `json:"link"`
}

func (d Down) Name() string { return "down " + d.Link }

func (d Down) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	l, err := link(env, d.Name(), d.Link)
	if err != nil {
		return nil, err
	}
	if err := l.SetEnabled(ctx, false); err != nil {
		// A group may be part way down: bring it all back up, even if
		// ctx is what failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
		defer cancel()
		return nil, errors.Join(fmt.Errorf("%s: %w", d.Name(), err), l.SetEnabled(rctx, true))
	}
	return func(ctx context.Context) error {
		if err := l.SetEnabled(ctx, true); err != nil {
			return fmt.Errorf("heal %s: %w", d.Name(), err)
		}
		return nil
	}, nil
}
