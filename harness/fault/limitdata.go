package fault

import (
	"context"
	"fmt"

	"github.com/l402chaos/l402chaos/harness"
)

// LimitData closes each connection once Bytes bytes have passed in the
// stream's direction: downstream by default, so a response is cut part
// way (a paid answer that never fully arrives).
type LimitData struct {
	Link   string         `json:"link"`
	Stream harness.Stream `json:"stream,omitempty"` // default downstream
	Bytes  int64          `json:"bytes"`
}

func (l LimitData) Name() string {
	return fmt.Sprintf("limit-data %s %s %dB", l.Link, streamOf(l.Stream), l.Bytes)
}

func (l LimitData) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if l.Bytes < 0 {
		return nil, fmt.Errorf("%s: %w: bytes %d is negative", l.Name(), ErrInvalidParam, l.Bytes)
	}
	return addToxic(ctx, env, l.Name(), l.Link, harness.Toxic{
		Type: "limit_data", Stream: l.Stream,
		Attributes: map[string]any{"bytes": l.Bytes},
	})
}
