package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/scenarios"
)

// TestDurationsCoverCatalogue: -shard balances by measured durations, so
// every scenario the process backend runs has one (a new scenario needs
// `chaos report durations`), and a dialect's case takes its scenario's.
func TestDurationsCoverCatalogue(t *testing.T) {
	measured := map[string]time.Duration{}
	for _, sc := range scenarios.All() {
		d := scenarios.Expected(sc.Name)
		require.Positive(t, d, sc.Name)
		measured[sc.Name] = d
		if sc.NeedsIsolation {
			continue // containers only: not in a process run's table
		}
		_, ok := scenarios.Measured(sc.Name)
		require.True(t, ok, "scenarios/durations.json lacks %s: refresh it with chaos report durations", sc.Name)
	}
	require.Equal(t, scenarios.Expected("token-reuse"), scenarios.Expected("token-reuse@lsat"))
	// The table round-trips: what DurationsTable writes is what
	// Expected reads.
	_, err := scenarios.DurationsTable(measured)
	require.NoError(t, err)
	_, err = scenarios.DurationsTable(map[string]time.Duration{"no-such-scenario": time.Second})
	require.Error(t, err)
}
