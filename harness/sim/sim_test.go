package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
)

func newWorld(t *testing.T, seed uint64, mutant string) *sim.World {
	t.Helper()
	w, err := sim.New(sim.Config{Seed: seed, Buy: sim.ClientBuyer(mutant)})
	t.Cleanup(func() { _ = w.Close() })
	require.NoError(t, err)
	return w
}

// run applies steps on a fresh world and returns the machine and the
// truth as it stands after them (no settling).
func run(t *testing.T, steps ...property.Step) (*property.Machine, *history.Truth, *sim.World) {
	t.Helper()
	ctx := context.Background()
	w := newWorld(t, 1, "")
	m := property.NewMachine(w, 1, nil)
	for _, s := range steps {
		require.NoError(t, m.Apply(ctx, s), "step %s", s)
	}
	_, truth, err := m.Check(ctx, nil)
	require.NoError(t, err)
	return m, truth, w
}

func buy(key string, svc harness.Service) property.Step {
	return property.Step{Op: property.OpBuy, Key: key, Service: svc}
}
func fault(name string) property.Step { return property.Step{Op: property.OpFault, Fault: name} }
func mine(n int) property.Step        { return property.Step{Op: property.OpMine, Blocks: n} }
func wait(d time.Duration) property.Step {
	return property.Step{Op: property.OpWait, Wait: d}
}

var heal = property.Step{Op: property.OpHeal}

func statuses(tr *history.Truth) []string {
	var out []string
	for _, p := range tr.Payments {
		s := p.Status
		if p.FailureReason != "" {
			s += " " + p.FailureReason
		}
		out = append(out, s)
	}
	return out
}

// TestSequence: purchases behind knobs, a crash and its restart, a link
// down, a hold invoice timed out by blocks; every checker valid at the
// end, and each purchase's classes as the model says.
func TestSequence(t *testing.T) {
	m, _, _ := run(t,
		buy("k1", "ops"), buy("k2", "data"), fault("knob error-after"), buy("k3", "ops"), heal,
		property.Step{Op: property.OpCrash, Key: "k4", Service: "ops", Phase: harness.PaymentInFlight}, buy("k4", "ops"),
		fault("down client-provider"), buy("k5", "data"), heal,
		fault("knob hold-invoice"), buy("k6", "ops"), mine(70),
	)
	rs, _, err := m.Finish(context.Background(), nil)
	require.NoError(t, err)
	require.Empty(t, property.Invalid(rs))
	require.Equal(t, map[string][]string{
		"k1": {property.ClassDelivered},
		"k2": {property.ClassDelivered},
		"k3": {property.ClassDelivered},
		"k4": {property.ClassNoReport, property.ClassDelivered},
		"k5": {property.ClassFailed},
		"k6": {property.ClassUnknown, property.ClassDelivered},
	}, property.Classes(m.History()))
}

// A held HTLC is failed back once the height is within 19 blocks of its
// expiry (80 + 3 blocks after it was sent): not at 63 blocks, at 64.
func TestHeldHTLCTimesOut(t *testing.T) {
	_, tr, _ := run(t, fault("knob hold-invoice"), buy("o1", "ops"), mine(63))
	require.Equal(t, []string{"IN_FLIGHT"}, statuses(tr))
	require.Len(t, tr.Pending, 2, "outgoing at alice, incoming at bob")
	_, tr, _ = run(t, fault("knob hold-invoice"), buy("o1", "ops"), mine(64))
	require.Equal(t, []string{"FAILED FAILURE_REASON_INCORRECT_PAYMENT_DETAILS"}, statuses(tr))
	require.Empty(t, tr.Pending)
}

// With the peer link down an HTLC waits in the payer's mailbox: it is
// forwarded if the link comes back within 60s, failed back after.
func TestMailbox(t *testing.T) {
	_, tr, _ := run(t, fault("down lnd-lnd"), buy("d1", "data"), heal, wait(time.Second))
	require.Equal(t, []string{"SUCCEEDED"}, statuses(tr))
	_, tr, _ = run(t, fault("down lnd-lnd"), buy("d1", "data"), wait(45*time.Second), wait(5*time.Second))
	require.Equal(t, []string{"FAILED FAILURE_REASON_NO_ROUTE"}, statuses(tr))
}

// An HTLC the peer cannot resolve (the link down) makes the payer go to
// chain 10 blocks before its expiry: the channel closes, the payment
// fails, nothing routes after.
func TestForceClose(t *testing.T) {
	_, tr, _ := run(t, fault("down lnd-lnd"), buy("d1", "data"), mine(72))
	require.Equal(t, []string{"IN_FLIGHT"}, statuses(tr))
	require.Empty(t, tr.Closed)
	_, tr, _ = run(t, fault("down lnd-lnd"), buy("d1", "data"), mine(73), heal, buy("o1", "ops"))
	require.Equal(t, "FAILED FAILURE_REASON_TIMEOUT", statuses(tr)[0])
	require.NotEmpty(t, tr.Closed)
	for _, s := range statuses(tr)[1:] {
		require.Equal(t, "FAILED FAILURE_REASON_NO_ROUTE", s)
	}
}

// A payer drained below a price fails with insufficient balance, and the
// drain is not counted as the client's spending; an invoice already paid
// (the reused-invoice knob) is not paid twice: LND's one payment per
// hash.
func TestPayerRules(t *testing.T) {
	_, tr, _ := run(t, fault("drain payer to 50 sat"), buy("o1", "ops"))
	for _, s := range statuses(tr) { // one per challenge the client paid
		require.Equal(t, "FAILED FAILURE_REASON_INSUFFICIENT_BALANCE", s)
	}
	require.Equal(t, tr.Before["alice"].LocalMsat, tr.After["alice"].LocalMsat, "the drain moves the baseline too")
	m, tr, _ := run(t, buy("o1", "ops"), fault("knob reused-invoice"), buy("o2", "ops"))
	// o2's challenge carries o1's settled invoice: the payer refuses to
	// pay the hash again (AlreadyExists), tracks it, and has the preimage.
	require.Equal(t, []string{"SUCCEEDED"}, statuses(tr))
	require.Equal(t, []string{property.ClassDelivered}, property.Classes(m.History())["o2"])
	rs, _, err := m.Check(context.Background(), property.Safety())
	require.NoError(t, err)
	require.Empty(t, property.Invalid(rs))
}

// A seed replays a world exactly: the same steps give the same history.
func TestReplay(t *testing.T) {
	steps := []property.Step{buy("o1", "ops"), fault("knob retry-after"), buy("d1", "data"), heal,
		property.Step{Op: property.OpCrash, Key: "o2", Service: "ops", Phase: harness.PreimageReceived}, buy("o2", "ops")}
	m1, _, _ := run(t, steps...)
	m2, _, _ := run(t, steps...)
	require.Equal(t, m1.History(), m2.History())
}

// TestRestartRefusedWhileChainCut: a node whose link to btcd is cut is
// not restarted (it could not sync), as on live networks; healed, it is.
func TestRestartRefusedWhileChainCut(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 1, "")
	chain, err := w.Link(harness.LinkPayeeChain)
	require.NoError(t, err)
	bob, err := w.Node("bob")
	require.NoError(t, err)
	require.NoError(t, chain.SetEnabled(ctx, false))
	require.ErrorIs(t, bob.Restart(ctx), harness.ErrChainCut)
	require.NoError(t, chain.SetEnabled(ctx, true))
	require.NoError(t, bob.Restart(ctx))
}

// TestPaymentWaitsForThePayersChain: a payment the payer starts while
// cut from btcd stays in flight with no HTLC (LND cannot read the height
// its expiry is reckoned from), so the client reports the outcome
// unknown; once the link is back the payment goes out and settles, and
// the purchase's rerun delivers without a second payment.
func TestPaymentWaitsForThePayersChain(t *testing.T) {
	m, tr, _ := run(t, fault("down payer-btcd"), buy("o1", harness.ServiceOps))
	require.Equal(t, []string{"IN_FLIGHT"}, statuses(tr))
	require.Empty(t, tr.Pending, "no HTLC went out")
	require.Equal(t, map[string][]string{"o1": {"unknown"}}, property.Classes(m.History()))

	m, tr, _ = run(t, fault("down payer-btcd"), buy("o1", harness.ServiceOps), heal, buy("o1", harness.ServiceOps))
	require.Equal(t, []string{"SUCCEEDED"}, statuses(tr))
	require.Equal(t, map[string][]string{"o1": {"unknown", "delivered"}}, property.Classes(m.History()))
}
