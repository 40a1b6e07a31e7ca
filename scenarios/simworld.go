package scenarios

import (
	"context"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/sim"
	"github.com/l402chaos/l402chaos/scenarios/mutant/sabotage"
)

// SimBuyer runs a client on the simulator: the reference client for "",
// or the named mutant of scenarios/mutant/catalog.
func SimBuyer(mutant string) sim.Buyer {
	return func(ctx context.Context, r sim.Rig) (*client.Outcome, error) {
		return sabotage.Buy(ctx, mutant, sabotage.Rig{Env: r.Env, Payer: r.Payer, Options: r.Options, Transport: r.Transport, Log: r.Log})
	}
}

// SimWorlds makes a fresh simulator per rapid check, for the named client
// ("" the reference client).
func SimWorlds(mutant string) property.NewWorld {
	return func(_ *rapid.T, seed uint64) (property.World, error) {
		return sim.New(sim.Config{Seed: seed, Buy: SimBuyer(mutant)})
	}
}
