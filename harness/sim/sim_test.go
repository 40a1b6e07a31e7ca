package sim_test

import (
	"context"
	"testing"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
	"github.com/l402chaos/l402chaos/scenarios/mutant/sabotage"
)

// buyer runs the named mutant ("" the reference client).
func buyer(name string) sim.Buyer {
	return func(ctx context.Context, r sim.Rig) (*client.Outcome, error) {
		return sabotage.Buy(ctx, name, sabotage.Rig{Env: r.Env, Payer: r.Payer, Options: r.Options, Transport: r.Transport, Log: r.Log})
	}
}

func newWorld(t *testing.T, seed uint64, mutant string) *sim.World {
	t.Helper()
	w, err := sim.New(sim.Config{Seed: seed, Buy: buyer(mutant)})
	t.Cleanup(func() { _ = w.Close() })
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 1, "")
	m := property.NewMachine(w, 1, nil)
	steps := []property.Step{
		{Op: property.OpBuy, Key: "k1", Service: "ops"},
		{Op: property.OpBuy, Key: "k2", Service: "data"},
		{Op: property.OpFault, Fault: "knob error-after"},
		{Op: property.OpBuy, Key: "k3", Service: "ops"},
		{Op: property.OpHeal},
		{Op: property.OpCrash, Key: "k4", Service: "data", Phase: "payment-in-flight"},
		{Op: property.OpBuy, Key: "k4", Service: "data"},
		{Op: property.OpFault, Fault: "down client-provider"},
		{Op: property.OpBuy, Key: "k5", Service: "data"},
		{Op: property.OpHeal},
		{Op: property.OpFault, Fault: "knob hold-invoice"},
		{Op: property.OpBuy, Key: "k6", Service: "ops"},
		{Op: property.OpMine, Blocks: 70},
	}
	for _, s := range steps {
		if err := m.Apply(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	rs, _, err := m.Finish(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Log(r)
	}
	for k, c := range property.Classes(m.History()) {
		t.Log(k, c)
	}
	for _, e := range m.History() {
		t.Log(e)
	}
}
