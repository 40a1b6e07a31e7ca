package scenarios_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/scenarios"
)

// names are a scenario's faults in their JSON form (their parameters,
// the drawn ones included).
func names(sc harness.Scenario) string {
	b, err := json.Marshal(map[string]any{"setup": sc.Setup, "faults": sc.Faults})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestVariationsAreSeeded: a scenario's seeded variation draws the same
// scenario for the same seed, other scenarios for other seeds, leaves
// the catalogue's own values alone, and draws only valid scenarios.
func TestVariationsAreSeeded(t *testing.T) {
	varied := 0
	for _, sc := range scenarios.All() {
		if sc.Vary == nil {
			continue
		}
		varied++
		t.Run(sc.Name, func(t *testing.T) {
			before := names(sc)
			draw := func(seed uint64) (harness.Scenario, []string) {
				c := sc
				notes := c.Vary(rand.New(rand.NewPCG(seed, 1)), &c)
				require.NoError(t, c.Validate())
				return c, notes
			}
			a, notesA := draw(7)
			b, notesB := draw(7)
			require.NotEmpty(t, notesA, "a variation says what it drew")
			require.Equal(t, notesA, notesB)
			require.Equal(t, names(a), names(b))
			distinct := map[string]bool{}
			for seed := range uint64(20) {
				c, _ := draw(seed)
				distinct[names(c)] = true
			}
			require.Greater(t, len(distinct), 1, "twenty seeds draw more than one scenario")
			require.Equal(t, before, names(sc), "the catalogue's faults are not changed")
		})
	}
	require.GreaterOrEqual(t, varied, 10)
}
