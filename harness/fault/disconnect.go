package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
)

// Disconnect cuts the payer from its channel peer (the lnd-lnd link down)
// and returns once the payer sees no active channel: a payment made now
// finds no route, rather than waiting in the switch for the peer to come
// back. The heal brings the link up and waits until a payment can route.
type Disconnect struct{}

func (Disconnect) Name() string { return "disconnect payer from its peer" }

func (d Disconnect) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	net, err := network(env)
	if err != nil {
		return nil, err
	}
	link, err := env.Backend.Link(harness.LinkPeers)
	if err != nil {
		return nil, err
	}
	if err := link.SetEnabled(ctx, false); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name(), err)
	}
	heal := func(ctx context.Context) error {
		if err := link.SetEnabled(ctx, true); err != nil {
			return err
		}
		return net.WaitReady(ctx)
	}
	payer := net.Node(regtest.Alice)
	err = wait.Until(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		resp, err := payer.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{ActiveOnly: true})
		if err != nil {
			return err
		}
		if n := len(resp.GetChannels()); n > 0 {
			return fmt.Errorf("%d channels still active", n)
		}
		return nil
	})
	if err != nil {
		return heal, fmt.Errorf("%s: %w", d.Name(), err)
	}
	return heal, nil
}
