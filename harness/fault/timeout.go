package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// Timeout blackholes one direction of a link: its data is dropped, and
// the connection is closed once no data has come for After (each chunk
// restarts the clock; 0: never, the caller hangs) or when the sending
// side closes. Healing closes the connections the toxic held; new ones
// pass.
type Timeout struct {
	Link   string         `json:"link"`
	Stream harness.Stream `json:"stream,omitempty"` // default downstream
	After  time.Duration  `json:"after,omitempty"`
}

func (t Timeout) Name() string {
	name := fmt.Sprintf("timeout %s %s", t.Link, streamOf(t.Stream))
	if t.After > 0 {
		name += " close after " + t.After.String()
	}
	return name
}

func (t Timeout) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if err := nonNegative(t.Name(), "after", t.After); err != nil {
		return nil, err
	}
	return addToxic(ctx, env, t.Name(), t.Link, harness.Toxic{
		Type: "timeout", Stream: t.Stream,
		Attributes: map[string]any{"timeout": millis(t.After)},
	})
}
