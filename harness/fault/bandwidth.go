package fault

import (
	"context"
	"fmt"

	"github.com/l402chaos/l402chaos/harness"
)

// Bandwidth limits one direction of a link to KBps kilobytes (1000
// bytes) per second.
type Bandwidth struct {
	Link   string         `json:"link"`
	Stream harness.Stream `json:"stream,omitempty"` // default downstream
	KBps   int64          `json:"kbps"`
}

func (b Bandwidth) Name() string {
	return fmt.Sprintf("bandwidth %s %s %dKB/s", b.Link, streamOf(b.Stream), b.KBps)
}

func (b Bandwidth) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if b.KBps < 1 {
		return nil, fmt.Errorf("%s: %w: rate %d KB/s, want at least 1", b.Name(), ErrInvalidParam, b.KBps)
	}
	return addToxic(ctx, env, b.Name(), b.Link, harness.Toxic{
		Type: "bandwidth", Stream: b.Stream,
		Attributes: map[string]any{"rate": b.KBps},
	})
}
