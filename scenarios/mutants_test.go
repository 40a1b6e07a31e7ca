package scenarios_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/scenarios"
)

// exposes names, for each mutant, the scenario that reaches its bug.
var exposes = map[string]string{
	mutant.PayAfter5xx:      "5xx-persistent",
	mutant.MemoryJournal:    "crash-htlc-held",
	mutant.FailOnTimeout:    "hold-settled-after-give-up",
	mutant.IgnoreRetryAfter: "429-retry-after",
	mutant.Retry400:         "permanent-400",
	mutant.PayAnyAmount:     "overpriced-invoice",
	mutant.NoIdempotencyKey: "response-lost-after-processing",
	mutant.NoTokenReuse:     "token-reuse",
}

// TestMutantsCaught proves the checkers work: every deliberately broken
// client, run through the exec adapter on the scenario that reaches its
// bug, is found Invalid by the checker that names the bug. The reference
// client passes the same scenarios (TestScenarios).
func TestMutantsCaught(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err := mutant.Build(ctx, filepath.Join(binDir, "mutant"))
	cancel()
	require.NoError(t, err)
	byName := map[string]harness.Scenario{}
	for _, sc := range scenarios.All() {
		byName[sc.Name] = sc
	}
	for _, m := range mutant.All() {
		t.Run(m.Name, func(t *testing.T) {
			sc, ok := byName[exposes[m.Name]]
			require.True(t, ok, "no scenario exposes mutant %s", m.Name)
			applies(t, sc)
			s := seed(t)
			t.Logf("mutant %s on %s, seed %d", m.Name, sc.Name, s)
			r := runner(t, execClient(append([]string{bin}, m.Args()...)), "mutant "+m.Name)
			ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
			defer cancel()
			run := r.Run(ctx, sc, s)
			var caught *check.Result
			for i := range run.Results {
				if run.Results[i].Checker == m.CaughtBy {
					caught = &run.Results[i]
				}
			}
			require.NotNil(t, caught, "checker %s did not run\n%s", m.CaughtBy, report(t, run))
			require.Equal(t, check.Invalid, caught.Validity, "mutant %s escaped %s\n%s", m.Name, m.CaughtBy, report(t, run))
			t.Logf("caught: %s", caught)
		})
	}
}
