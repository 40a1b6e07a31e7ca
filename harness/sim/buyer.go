package sim

import (
	"context"

	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/property"
)

// ClientBuyer runs a client on the simulator: the reference client for
// "", or the named mutant of client/mutant.
func ClientBuyer(name string) Buyer {
	return func(ctx context.Context, r Rig) (*client.Outcome, error) {
		return mutant.Buy(ctx, name, r)
	}
}

// Worlds makes a fresh simulator per rapid check, for the named client
// ("" the reference client).
func Worlds(name string) property.NewWorld {
	return func(_ *rapid.T, seed uint64) (property.World, error) {
		return New(Config{Seed: seed, Buy: ClientBuyer(name)})
	}
}
