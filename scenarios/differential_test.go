package scenarios_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
)

// replaySim carries steps out on a fresh simulator with the reference
// client and returns the machine after Finish, with Finish's results.
func replaySim(t *testing.T, seed uint64, steps []property.Step) (*property.Machine, []string) {
	t.Helper()
	m, rs := replaySimResults(t, seed, steps, 0)
	var bad []string
	for _, r := range property.Invalid(rs) {
		bad = append(bad, r.String())
	}
	return m, bad
}

// replaySimResults replays steps on a fresh simulated world and returns
// it with its checkers' results. checkEvery collects the truth after
// every n-th step (0: never), as a live run with that CheckEvery did:
// reading the truth is not free of effects (the provider reads its
// invoices' states, which the reused-invoice knob then picks from), so
// the replay must read it where the run did.
func replaySimResults(t *testing.T, seed uint64, steps []property.Step, checkEvery int) (*property.Machine, []check.Result) {
	t.Helper()
	ctx := context.Background()
	w, err := sim.New(sim.Config{Seed: seed, Buy: sim.ClientBuyer("")})
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, err)
	m := property.NewMachine(w, seed, nil)
	for i, s := range steps {
		require.NoError(t, m.Apply(ctx, s), "step %s", s)
		if checkEvery > 0 && (i+1)%checkEvery == 0 {
			_, _, err := m.Check(ctx, nil)
			require.NoError(t, err)
		}
	}
	rs, _, err := m.Finish(ctx, nil)
	require.NoError(t, err)
	return m, rs
}

// compareVerdicts compares the live tier's checker results with the
// simulator's, checker by checker: a checker valid on one tier and
// invalid on the other is a disagreement (a simulator bug, or behaviour
// it does not model); one that could not judge on a tier (unknown: a
// ledger the live tier could not read) is only logged.
func compareVerdicts(t *testing.T, live, sim []check.Result) {
	t.Helper()
	byName := func(rs []check.Result) map[string]check.Result {
		m := make(map[string]check.Result, len(rs))
		for _, r := range rs {
			m[r.Checker] = r
		}
		return m
	}
	l, s := byName(live), byName(sim)
	require.NotEmpty(t, l, "the live tier's checker results")
	for name, lr := range l {
		sr, ok := s[name]
		switch {
		case !ok:
			t.Errorf("checker %s judged the live run (%s) but not the simulated one", name, lr.Validity)
		case lr.Validity == sr.Validity:
		case lr.Validity == check.Unknown || sr.Validity == check.Unknown:
			t.Logf("checker %s: live %s, simulator %s (one tier could not judge): %s | %s", name, lr.Validity, sr.Validity, lr.Message, sr.Message)
		default:
			t.Errorf("checker %s disagrees: live %s (%s), simulator %s (%s)", name, lr.Validity, lr.Message, sr.Validity, sr.Message)
		}
	}
	for name := range s {
		if _, ok := l[name]; !ok {
			t.Errorf("checker %s judged the simulated run but not the live one", name)
		}
	}
}

// TestSimRegressions replays the named sequences under
// testdata/sequences: each once made the simulator find a bug of the
// reference client, now fixed. Each must end with every checker valid,
// the same way twice.
func TestSimRegressions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sequences", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			steps, err := property.ParseSteps(b)
			require.NoError(t, err)
			m1, bad := replaySim(t, 1, steps)
			require.Empty(t, bad, "sequence:\n%s", property.FormatSteps(steps))
			m2, _ := replaySim(t, 1, steps)
			require.Equal(t, property.Classes(m1.History()), property.Classes(m2.History()))
			require.Equal(t, len(m1.History()), len(m2.History()))
		})
	}
}

// TestSimDeterministic: a seed replays a simulation exactly. Every
// sequence rapid draws runs on a world, then again on a fresh world with
// the same seed; the histories (times, outcomes, payment hashes) must be
// identical.
// worldDir is a simulated world's temporary directory, in messages.
var worldDir = regexp.MustCompile(`l402chaos-sim-[0-9]+`)

// worldless is e with its world's directory named the same in every run.
func worldless(e history.Event) history.Event {
	e.Detail = worldDir.ReplaceAllString(e.Detail, "l402chaos-sim-*")
	if e.Value != nil {
		v := *e.Value
		v.Error = worldDir.ReplaceAllString(v.Error, "l402chaos-sim-*")
		e.Value = &v
	}
	return e
}

// tokensOf lists the token IDs and macaroon digests in a truth, request
// by request, then delivery by delivery.
func tokensOf(t *history.Truth) []string {
	var out []string
	for _, r := range t.Requests {
		out = append(out, r.TokenID+"/"+r.MacaroonHash+"/"+r.CredentialToken+"/"+r.CredentialHash)
	}
	for _, d := range t.Deliveries {
		out = append(out, d.TokenID)
	}
	return out
}

func TestSimDeterministic(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		seed := rapid.Uint64().Draw(rt, "seed")
		w, err := sim.New(sim.Config{Seed: seed, Buy: sim.ClientBuyer("")})
		if err != nil {
			rt.Fatal(err)
		}
		defer w.Close()
		m := property.NewMachine(w, seed, nil)
		rt.Repeat(property.Actions(ctx, m, property.Config{MaxWait: 2 * time.Minute, Checkers: []check.Checker{}}))
		w2, err := sim.New(sim.Config{Seed: seed, Buy: sim.ClientBuyer("")})
		if err != nil {
			rt.Fatal(err)
		}
		defer w2.Close()
		m2 := property.NewMachine(w2, seed, nil)
		for _, s := range m.Steps() {
			if err := m2.Apply(ctx, s); err != nil {
				rt.Fatal(err)
			}
			// The run collected the truth after every step, which lets
			// pending HTLCs settle: so does the replay.
			if _, _, err := m2.Check(ctx, nil); err != nil {
				rt.Fatal(err)
			}
		}
		// The provider's side too: the same tokens minted and presented
		// (their IDs drawn from the seed, not from crypto/rand).
		_, t1, err := m.Check(ctx, nil)
		if err != nil {
			rt.Fatal(err)
		}
		_, t2, err := m2.Check(ctx, nil)
		if err != nil {
			rt.Fatal(err)
		}
		if a, b := tokensOf(t1), tokensOf(t2); !slices.Equal(a, b) {
			rt.Fatalf("replay minted or saw other tokens:\n  run:    %v\n  replay: %v", a, b)
		}
		h1, h2 := m.History(), m2.History()
		if len(h1) != len(h2) {
			rt.Fatalf("replay recorded %d events, the run %d", len(h2), len(h1))
		}
		// Whole events: times, details, reports and their errors (token
		// IDs included); only the worlds' temporary directories differ.
		for i := range h1 {
			a, b := worldless(h1[i]), worldless(h2[i])
			if !reflect.DeepEqual(a, b) {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				rt.Fatalf("event %d differs on replay:\n  %s\n  %s", i, ja, jb)
			}
		}
	})
}

// The differential check: one sequence on both tiers must give every
// purchase the same outcome classes. A disagreement is a simulator bug or
// a real LND or provider behaviour the simulator does not model.
var differentialSteps = []property.Step{
	{Op: property.OpBuy, Key: "o1", Service: harness.ServiceOps},
	{Op: property.OpBuy, Key: "d1", Service: harness.ServiceData},
	{Op: property.OpFault, Fault: "knob retry-after"},
	{Op: property.OpBuy, Key: "o2", Service: harness.ServiceOps},
	{Op: property.OpHeal},
	{Op: property.OpCrash, Key: "o3", Service: harness.ServiceOps, Phase: harness.PaymentInFlight},
	{Op: property.OpBuy, Key: "o3", Service: harness.ServiceOps},
	{Op: property.OpFault, Fault: "knob overpriced-invoice"},
	{Op: property.OpBuy, Key: "o4", Service: harness.ServiceOps},
	{Op: property.OpHeal},
	{Op: property.OpFault, Fault: "down client-provider"},
	{Op: property.OpBuy, Key: "d2", Service: harness.ServiceData},
	{Op: property.OpHeal},
	{Op: property.OpFault, Fault: "knob drop-after on paid"},
	{Op: property.OpBuy, Key: "w1", Service: harness.ServiceData, Method: "POST"},
	{Op: property.OpHeal},
	{Op: property.OpFault, Fault: "knob error-after"},
	{Op: property.OpBuy, Key: "d3", Service: harness.ServiceData},
	{Op: property.OpHeal},
}

// knownGenerated are the disagreements TestPropertyDifferentialGenerated
// finds on its default sequences (seed 3), by sequence number and
// purchase, with what is known of them: reported, not failed. Any other
// disagreement fails the test.
var knownGenerated = map[string]string{
	"2:d1": "on the live tier the first payment (d3's), made through 500ms of latency on the provider link and " +
		"killed while in flight, is failed by the payee with INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS (seen in every run; " +
		"without the latency it settles), so d1 finds no token and is challenged and killed; the simulator settles " +
		"d3's payment and d1 reuses its token. Not yet explained: an LND behaviour the simulator does not model",
	"1:w2": "timing on the live tier (seen once in three runs): the pair of step 46 starts just after bob was killed " +
		"and restarted; on the live tier one process can report failed, where the simulator's second process waits " +
		"for the journal past its timeout and reports unknown (then the final rerun delivers). The checkers are valid " +
		"on both; which of the two the live tier does depends on how long bob's channel takes to come back",
}

func TestPropertyDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("a live world takes minutes; not in -short")
	}
	cmd := referenceCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	live := property.NewMachine(liveWorld(t, ctx, cmd), 1, worldLogger(t))
	start := time.Now()
	for _, s := range differentialSteps {
		require.NoError(t, live.Apply(ctx, s), "step %s", s)
	}
	lrs, _, err := live.Finish(ctx, nil)
	require.NoError(t, err)
	liveTime := time.Since(start)
	start = time.Now()
	simm, srs := replaySimResults(t, 1, differentialSteps, 0)
	simTime := time.Since(start)
	lc, sc := property.Classes(live.History()), property.Classes(simm.History())
	js, _ := json.Marshal(map[string]any{"live": lc, "sim": sc})
	t.Logf("classes: %s", js)
	t.Logf("%d steps: live %s, simulator %s (%.0fx)", len(differentialSteps), liveTime.Round(time.Millisecond), simTime.Round(time.Microsecond), liveTime.Seconds()/simTime.Seconds())
	reportDisagreements(t, lc, sc, nil, "")
	compareVerdicts(t, lrs, srs)
}

// reportDisagreements fails the test on every disagreement that known
// does not list under prefix+key.
func reportDisagreements(t *testing.T, live, sim map[string][]string, known map[string]string, prefix string) {
	t.Helper()
	for _, d := range property.Diff("live", live, "sim", sim) {
		if why, ok := known[prefix+d.Key]; ok {
			t.Logf("known disagreement %s: %s", d, why)
			continue
		}
		t.Errorf("disagreement: %s (a simulator bug, or real behaviour it does not model)", d)
	}
}

// TestPropertyDifferentialGenerated runs sequences rapid draws (seed 3,
// two sequences of about 12 steps unless rapid's flags say otherwise) on
// live worlds, replays each on the simulator and compares every
// purchase's outcome classes.
func TestPropertyDifferentialGenerated(t *testing.T) {
	if testing.Short() {
		t.Skip("live worlds take minutes; not in -short")
	}
	seed := rapidDefault(t, "rapid.seed", "3")
	checks := rapidDefault(t, "rapid.checks", "2")
	steps := rapidDefault(t, "rapid.steps", "12")
	t.Logf("rapid seed %s, %s checks of %s steps; replay: go test ./scenarios -run '^TestPropertyDifferentialGenerated$' -rapid.seed=%s -rapid.checks=%s -rapid.steps=%s",
		seed, checks, steps, seed, checks, steps)
	cmd := referenceCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cfg := liveConfig
	n := 0
	cfg.OnFinish = func(m *property.Machine, lrs []check.Result) {
		n++
		simm, srs := replaySimResults(t, 1, m.Steps(), liveConfig.CheckEvery)
		lc, sc := property.Classes(m.History()), property.Classes(simm.History())
		js, _ := json.Marshal(map[string]any{"live": lc, "sim": sc})
		t.Logf("sequence %d, %d steps:\n%sclasses: %s", n, len(m.Steps()), property.FormatSteps(m.Steps()), js)
		reportDisagreements(t, lc, sc, knownGenerated, fmt.Sprintf("%d:", n))
		compareVerdicts(t, lrs, srs)
	}
	rapid.Check(t, property.Property(ctx, liveWorlds(t, ctx, cmd), cfg))
}

// TestLiveRegression replays on a live world the sequence the live tier
// found (a second process of a pair waited past its timeout for the
// journal and reported failed for a purchase that had paid), with the
// simulator beside it: every checker valid on both, the same classes.
func TestLiveRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("a live world takes minutes; not in -short")
	}
	b, err := os.ReadFile(filepath.Join("testdata", "sequences", "journal-held-past-timeout.json"))
	require.NoError(t, err)
	steps, err := property.ParseSteps(b)
	require.NoError(t, err)
	cmd := referenceCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	live := property.NewMachine(liveWorld(t, ctx, cmd), 1, worldLogger(t))
	for _, s := range steps {
		require.NoError(t, live.Apply(ctx, s), "step %s", s)
	}
	rs, _, err := live.Finish(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, property.Invalid(rs))
	simm, srs := replaySimResults(t, 1, steps, 0)
	require.Empty(t, property.Invalid(srs))
	compareVerdicts(t, rs, srs)
	lc, sc := property.Classes(live.History()), property.Classes(simm.History())
	t.Logf("classes: live %v, sim %v", lc, sc)
	reportDisagreements(t, lc, sc, map[string]string{
		"d3": "timing on the live tier (seen once, on a loaded machine): whether the pair's second process waits " +
			"for the journal past its own timeout (unknown, as the simulator has it) or gets the journal in time and " +
			"reports paid-not-delivered depends on when the first process lets go; both say the purchase may have " +
			"paid, the checkers are valid on both, and the final rerun delivers",
	}, "")
}
