package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// Reset resets connections (TCP RST) once data flows in the stream's
// direction, After that data arrived (0: at once). The RST needs
// SO_LINGER 0, which toxiproxy sets only on connections opened while the
// toxic is in place: a connection that was already open is closed
// gracefully (FIN) instead.
type Reset struct {
	Link   string         `json:"link"`
	Stream harness.Stream `json:"stream,omitempty"` // default downstream
	After  time.Duration  `json:"after,omitempty"`
}

func (r Reset) Name() string {
	name := fmt.Sprintf("reset %s %s", r.Link, streamOf(r.Stream))
	if r.After > 0 {
		name += " after " + r.After.String()
	}
	return name
}

func (r Reset) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if err := nonNegative(r.Name(), "after", r.After); err != nil {
		return nil, err
	}
	return addToxic(ctx, env, r.Name(), r.Link, harness.Toxic{
		Type: "reset_peer", Stream: r.Stream,
		Attributes: map[string]any{"timeout": millis(r.After)},
	})
}
