package harness_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/sim"
)

// The runner's tests run it on the simulator: a fresh simulated world per
// scenario, the reference client (or a mutant) in process. Scenarios here
// keep to what the single-threaded simulator allows: setup faults and
// purchases one after another.

func simRunner(t *testing.T, client string, opts ...harness.Option) *harness.Runner {
	t.Helper()
	st := &sim.Start{Config: sim.Config{Seed: 1, Buy: sim.ClientBuyer(client)}}
	r, err := harness.NewRunner(st.Start, st.Client, opts...)
	require.NoError(t, err)
	return r
}

func runSim(t *testing.T, r *harness.Runner, sc harness.Scenario) *check.RunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r.Run(ctx, sc, 7)
}

func knob(k fakeprovider.Knob) harness.Fault { return fault.Knob{Knob: k} }

func events(h history.History, f func(history.Event) bool) []history.Event {
	var out []history.Event
	for _, e := range h {
		if f(e) {
			out = append(out, e)
		}
	}
	return out
}

func TestRunnerValidRun(t *testing.T) {
	sc := harness.Scenario{
		Name:    "two-services",
		Traffic: []harness.Traffic{{Key: "d1", Service: harness.ServiceData}, {Key: "o1", Service: harness.ServiceOps}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.NoError(t, run.Err)
	require.Equal(t, check.Valid, run.Verdict(), "%v", run.Results)
	require.Len(t, run.Results, len(check.All()))
	require.Equal(t, harness.ReplayCommand("two-services", 7), run.Replay)

	ok := events(run.History, func(e history.Event) bool { return e.Type == history.OK })
	require.Len(t, ok, 2)
	require.Equal(t, "d1", ok[0].Key)
	require.Equal(t, "o1", ok[1].Key)

	// The plan holds what each key bought, by the traffic rules.
	require.Len(t, run.Truth.Plan.Purchases, 2)
	d, o := run.Truth.Plan.Purchases[0], run.Truth.Plan.Purchases[1]
	require.Equal(t, "GET", d.Method)
	require.Equal(t, "/data/p/d1", d.Path)
	require.Equal(t, "POST", o.Method)
	require.Equal(t, "/ops/p/o1", o.Path)
	require.EqualValues(t, harness.DefaultMaxCostSat*1000, o.MaxCostMsat)
}

func TestRunnerWritesTheRecord(t *testing.T) {
	dir := t.TempDir()
	sc := harness.Scenario{Name: "record", Traffic: []harness.Traffic{{Key: "d1", Service: harness.ServiceData}}}
	run := runSim(t, simRunner(t, "", harness.WithReportDir(dir)), sc)
	require.Equal(t, filepath.Join(dir, "record"), run.Dir)

	h, truth, err := history.ReadRecord(run.Dir)
	require.NoError(t, err)
	require.Equal(t, len(run.History), len(h))
	require.Equal(t, len(run.Truth.Payments), len(truth.Payments))
	again, err := check.Recheck(run.Dir)
	require.NoError(t, err)
	require.Equal(t, run.Results, again)
}

// A broken client is caught by its checker on the runner as on the
// property tier; the reference client passes the same scenario.
func TestRunnerCatchesMutant(t *testing.T) {
	sc := harness.Scenario{
		Name:     "overpriced-invoice",
		Setup:    []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice, Times: 1, AmountSat: 5000})},
		Traffic:  []harness.Traffic{{Key: "d1", Service: harness.ServiceData}},
		Checkers: []check.Checker{check.PriceCap{}},
	}
	ref := runSim(t, simRunner(t, ""), sc)
	require.Equal(t, check.Valid, ref.Verdict(), "%v", ref.Results)

	bad := runSim(t, simRunner(t, mutant.PayAnyAmount), sc)
	require.Equal(t, check.Invalid, bad.Verdict(), "%v", bad.Results)
	require.Equal(t, mutant.PriceCap, bad.Results[0].Checker)
}

// A purchase whose answer was lost is in doubt; after the heal the runner
// runs it once more, and the client resolves it without paying again.
func TestRunnerResolvesWhatIsInDoubt(t *testing.T) {
	sc := harness.Scenario{
		Name:    "answer-lost",
		Setup:   []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.DropAfter, Match: fakeprovider.Match{Credentialed: true}})},
		Traffic: []harness.Traffic{{Key: "o1", Service: harness.ServiceOps, Attempts: 1}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.NoError(t, run.Err)
	require.Equal(t, check.Valid, run.Verdict(), "%v", run.Results)

	invokes := events(run.History, func(e history.Event) bool { return e.Type == history.Invoke })
	require.Len(t, invokes, 2, "one attempt, one rerun after the heal")
	require.Equal(t, 2, invokes[1].Attempt)
	stop := events(run.History, func(e history.Event) bool { return e.F == history.FaultStop })
	require.Len(t, stop, 1)
	require.Less(t, stop[0].Index, invokes[1].Index, "the rerun comes after the heal")
	last := run.History[len(run.History)-1]
	require.Equal(t, history.OK, last.Type, "the rerun delivers")
	require.Len(t, run.Truth.Payments, 1, "one payment")
}

// A setup fault that cannot be injected is the harness's failure: the
// verdict is unknown, nothing was bought, and the history has the
// fault's error and no window (no start without a stop).
func TestRunnerSetupFaultFails(t *testing.T) {
	sc := harness.Scenario{
		Name:    "no-such-link",
		Setup:   []harness.Fault{fault.Down{Link: "no-such-link"}},
		Traffic: []harness.Traffic{{Key: "d1", Service: harness.ServiceData}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.ErrorContains(t, run.Err, "setup fault")
	require.Equal(t, check.Unknown, run.Verdict())
	require.Empty(t, events(run.History, func(e history.Event) bool { return e.Type == history.Invoke }))
	require.Len(t, events(run.History, func(e history.Event) bool { return e.F == history.FaultError }), 1)
	require.Empty(t, events(run.History, func(e history.Event) bool { return e.F == history.FaultStart || e.F == history.FaultStop }))
}

func TestRunnerRejectsBadScenario(t *testing.T) {
	run := runSim(t, simRunner(t, ""), harness.Scenario{
		Name: "bad", Traffic: []harness.Traffic{{Key: "k", Service: "video"}},
	})
	require.ErrorContains(t, run.Err, `unknown service "video"`)
	require.Equal(t, check.Unknown, run.Verdict())
}

// spanFault is a fault on a schedule of real time that notes when it
// went in and when it was healed; lasting says whether its schedule is a
// span (harness.Lasting) or ends with the traffic.
type spanFault struct {
	d        time.Duration
	lasting  bool
	mu       sync.Mutex
	injected time.Time
	healed   time.Time
}

func (f *spanFault) Name() string { return "span" }

func (f *spanFault) Inject(context.Context, *harness.Env) (harness.Heal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected = time.Now()
	return func(context.Context) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.healed.IsZero() {
			f.healed = time.Now()
		}
		return nil
	}, nil
}

func (f *spanFault) HealAfter(ctx context.Context, _ *harness.Env) error {
	t := time.NewTimer(f.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *spanFault) Lasts() time.Duration {
	if f.lasting {
		return f.d
	}
	return 0
}

func (f *spanFault) held() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.healed.Sub(f.injected)
}

// TestRunnerHoldsALastingFault: a fault that lasts a span holds for all
// of it though the traffic ends at once; a fault on another schedule
// ends with the traffic.
func TestRunnerHoldsALastingFault(t *testing.T) {
	const span = 400 * time.Millisecond
	lasting, other := &spanFault{d: span, lasting: true}, &spanFault{d: time.Minute}
	sc := harness.Scenario{
		Name:    "lasting",
		Setup:   []harness.Fault{lasting, other},
		Traffic: []harness.Traffic{{Key: "d1", Service: harness.ServiceData}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.NoError(t, run.Err)
	require.GreaterOrEqual(t, lasting.held(), span, "a lasting fault holds for its span")
	require.Less(t, other.held(), time.Minute, "another schedule ends with the traffic")
	require.Positive(t, other.held())
}

// TestHealAllHealsNodesLast: a killed node comes back after the links
// are healed, whatever the order the faults went in, since its start
// waits until it carries payments.
func TestHealAllHealsNodesLast(t *testing.T) {
	sc := harness.Scenario{
		Name:    "node-and-link",
		Setup:   []harness.Fault{fault.Down{Link: harness.LinkPayeeChain}, fault.KillNode{Node: "bob"}, fault.Down{Link: harness.LinkPeers}},
		Traffic: []harness.Traffic{{Key: "d1", Service: harness.ServiceData}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.NoError(t, run.Err)
	var stops []string
	for _, e := range events(run.History, func(e history.Event) bool { return e.F == history.FaultStop }) {
		stops = append(stops, e.Fault)
	}
	require.Equal(t, []string{"down lnd-lnd", "down payee-btcd", "kill -9 bob"}, stops)
}

// unhealable is a fault whose heal fails and leaves it in place, as a
// link that will not come up again does.
type unhealable struct{ harness.Fault }

var errWouldNotComeUp = errors.New("bring up: address already in use")

func (u unhealable) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if _, err := u.Fault.Inject(ctx, env); err != nil {
		return nil, err
	}
	return func(context.Context) error { return errWouldNotComeUp }, nil
}

// TestRunnerFaultNotHealed: when the harness cannot heal a fault, the run
// never reaches the healed state in which the client must have resolved
// what it left open. That is the harness's failure, not the client's:
// the checkers of a healed run answer Unknown, with what they saw, and
// the verdict is Unknown; the checkers that hold at every moment still
// judge.
func TestRunnerFaultNotHealed(t *testing.T) {
	sc := harness.Scenario{
		Name:    "held-never-healed",
		Setup:   []harness.Fault{unhealable{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice})}},
		Traffic: []harness.Traffic{{Key: "o1", Service: harness.ServiceOps, Attempts: 1}},
	}
	run := runSim(t, simRunner(t, ""), sc)
	require.ErrorIs(t, run.Err, harness.ErrNotHealed)
	require.ErrorIs(t, run.Err, errWouldNotComeUp)
	require.Equal(t, check.Unknown, run.Verdict(), "%v", run.Results)
	require.Len(t, events(run.History, func(e history.Event) bool { return e.Type == history.Invoke }), 1, "no rerun: nothing healed")

	unknown := 0
	for i, c := range check.All() {
		r := run.Results[i]
		if check.HoldsAnytime(c) {
			require.Equal(t, check.Valid, r.Validity, "%s holds at every moment: judged as ever: %v", c.Name(), r)
			continue
		}
		require.Equal(t, check.Unknown, r.Validity, "%s judges a healed run: %v", c.Name(), r)
		require.Contains(t, r.Message, "the harness could not heal a fault")
		unknown++
	}
	require.Positive(t, unknown)
	// What the run was left in (the HTLC still held), judged as if it
	// had healed, would have been held against the client.
	raw := check.Run(run.History, run.Truth, check.All())
	require.Equal(t, check.Invalid, check.Merge(raw), "%v", raw)
}
