package fault

import (
	"context"
	"errors"
	"fmt"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/regtest"
)

// ErrNoNetwork: the backend does not expose its regtest network.
var ErrNoNetwork = errors.New("backend has no regtest network")

type networkBackend interface {
	Network() *regtest.Network
}

func network(env *harness.Env) (*regtest.Network, error) {
	nb, ok := env.Backend.(networkBackend)
	if !ok || nb.Network() == nil {
		return nil, ErrNoNetwork
	}
	return nb.Network(), nil
}

// Mine mines blocks.
type Mine struct {
	Blocks int `json:"blocks"`
}

func (m Mine) Name() string { return fmt.Sprintf("mine %d", m.Blocks) }

func (m Mine) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	if m.Blocks < 1 {
		return nil, fmt.Errorf("%s: want at least one block", m.Name())
	}
	return noHeal, env.Backend.Mine(ctx, m.Blocks)
}

// hodlMargin is how many blocks before an HTLC's expiry lnd cancels a
// held HTLC back (the invoice registry's expiry delta).
const hodlMargin = 18

// MineUntilCancel mines blocks until the payee has cancelled every HTLC
// it was holding back to the payer: the hodl timeout, driven by blocks.
// MaxBlocks bounds it (default 300).
type MineUntilCancel struct {
	Node      string `json:"node"` // the payee; default bob
	MaxBlocks int    `json:"max_blocks,omitempty"`
}

func (m MineUntilCancel) Name() string { return "mine until held HTLCs time out" }

func (m MineUntilCancel) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	net, err := network(env)
	if err != nil {
		return nil, err
	}
	name := m.Node
	if name == "" {
		name = regtest.Bob
	}
	node := net.Node(name)
	if node == nil {
		return nil, fmt.Errorf("%s: no node %q", m.Name(), name)
	}
	limit := m.MaxBlocks
	if limit == 0 {
		limit = 300
	}
	mined := 0
	for {
		expiry, err := lowestIncomingExpiry(ctx, node)
		if err != nil {
			return nil, err
		}
		if expiry == 0 {
			return noHeal, nil // nothing held any more
		}
		height, err := net.Height(ctx)
		if err != nil {
			return nil, err
		}
		step := int(expiry) - hodlMargin - int(height)
		if step < 1 {
			step = 1
		}
		if mined+step > limit {
			return nil, fmt.Errorf("%s: still held after %d blocks (expiry %d, height %d)", m.Name(), mined, expiry, height)
		}
		if err := env.Backend.Mine(ctx, step); err != nil {
			return nil, err
		}
		mined += step
	}
}

// lowestIncomingExpiry is the lowest expiry height of the HTLCs node is
// holding for itself, or 0 when there are none.
func lowestIncomingExpiry(ctx context.Context, node *regtest.Node) (uint32, error) {
	resp, err := node.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{})
	if err != nil {
		return 0, fmt.Errorf("%s: list channels: %w", node.Name(), err)
	}
	var low uint32
	for _, c := range resp.GetChannels() {
		for _, h := range c.GetPendingHtlcs() {
			if h.GetIncoming() && (low == 0 || h.GetExpirationHeight() < low) {
				low = h.GetExpirationHeight()
			}
		}
	}
	return low, nil
}

// Drain moves the payer's funds to the payee until the payer has about
// Keep sats on its side: its next purchase fails for want of funds.
type Drain struct {
	Keep int64 `json:"keep_sat"`
}

func (d Drain) Name() string { return fmt.Sprintf("drain payer to %d sat", d.Keep) }

type drainer interface {
	Drain(ctx context.Context, keepSat int64) error
}

func (d Drain) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	dr, ok := env.Backend.(drainer)
	if !ok {
		return nil, fmt.Errorf("%s: backend cannot drain", d.Name())
	}
	return noHeal, dr.Drain(ctx, d.Keep)
}
