package scenarios_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest/containers"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/l402chaos/l402chaos/scenarios"
)

// backendsAgree are the scenarios the differential test runs on both
// backends: a link fault, a node crash at a payment phase, a provider
// knob and a hold invoice between them.
var backendsAgree = []string{"partition-after-payment", "payer-lnd-killed-in-flight", "response-lost-after-processing", "payee-frozen-in-flight"}

// TestBackendsAgree runs the same scenarios with the same seed on local
// processes and on containers: each checker must give the same verdict
// on both, and both must be valid. Without a Docker engine it skips,
// except in CI (CI=true), where it fails.
func TestBackendsAgree(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	eng, err := containers.Connect(ctx)
	cancel()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Docker engine: %v", err)
		}
		t.Skipf("no Docker engine (CI would fail here): %v", err)
	}
	t.Cleanup(func() { eng.Close() })

	cmd := referenceCommand(t)
	byName := map[string]harness.Scenario{}
	for _, sc := range scenarios.All() {
		byName[sc.Name] = sc
	}
	starts := map[string]harness.StartFunc{
		"process":    live.Start,
		"containers": live.StartOn(containers.New(eng, containers.WithLogger(regtesttest.Logger(t)))),
	}
	for _, name := range backendsAgree {
		sc, ok := byName[name]
		require.True(t, ok, "no scenario %s", name)
		t.Run(name, func(t *testing.T) {
			s := seed(t)
			t.Logf("seed %d", s)
			verdicts := map[string]map[string]check.Validity{}
			for _, backend := range []string{"process", "containers"} {
				r, err := harness.NewRunner(starts[backend], execClient(cmd),
					harness.WithLogger(regtesttest.Logger(t)), harness.WithReportDir(t.TempDir()), harness.WithClientName("reference (exec)"))
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
				run := r.Run(ctx, sc, s)
				cancel()
				require.Equal(t, check.Valid, run.Verdict(), "on %s:\n%s", backend, report(t, run))
				verdicts[backend] = map[string]check.Validity{}
				for _, res := range run.Results {
					verdicts[backend][res.Checker] = res.Validity
				}
			}
			require.Equal(t, verdicts["process"], verdicts["containers"], "checker verdicts differ between the backends")
		})
	}
}
