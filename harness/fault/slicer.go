package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// Slicer cuts one direction's data into small pieces of about AvgSize
// bytes (± SizeVariation), waiting Delay after each: a response that
// trickles in, for parsers that assume whole reads. The sizes vary with
// toxiproxy's global random source, not the run's seed.
type Slicer struct {
	Link          string         `json:"link"`
	Stream        harness.Stream `json:"stream,omitempty"` // default downstream
	AvgSize       int            `json:"avg_size"`
	SizeVariation int            `json:"size_variation,omitempty"`
	Delay         time.Duration  `json:"delay,omitempty"`
}

func (s Slicer) Name() string {
	name := fmt.Sprintf("slicer %s %s %dB", s.Link, streamOf(s.Stream), s.AvgSize)
	if s.SizeVariation > 0 {
		name += fmt.Sprintf(" vary %dB", s.SizeVariation)
	}
	return name + " every " + s.Delay.String()
}

func (s Slicer) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if err := nonNegative(s.Name(), "delay", s.Delay); err != nil {
		return nil, err
	}
	if s.AvgSize < 1 || s.SizeVariation < 0 || s.SizeVariation >= s.AvgSize {
		return nil, fmt.Errorf("%s: %w: want 0 <= size variation (%d) < average size (%d)",
			s.Name(), ErrInvalidParam, s.SizeVariation, s.AvgSize)
	}
	// toxiproxy's slicer delay is in microseconds.
	delay := int64((s.Delay + time.Microsecond - 1) / time.Microsecond)
	return addToxic(ctx, env, s.Name(), s.Link, harness.Toxic{
		Type: "slicer", Stream: s.Stream,
		Attributes: map[string]any{"average_size": s.AvgSize, "size_variation": s.SizeVariation, "delay": delay},
	})
}
