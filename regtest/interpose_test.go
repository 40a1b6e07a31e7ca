package regtest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
)

// TestInterposedHopsCarryPayments routes both nodes' p2p and chain hops
// through pass-through proxies, pays, takes the p2p proxies down and
// checks that the peers stay apart while LND keeps dialing the proxies,
// then brings them up and checks that LND reconnects by itself.
func TestInterposedHopsCarryPayments(t *testing.T) {
	px := newPassProxies(t)
	n := regtesttest.Start(t, regtest.WithInterpose(px.interpose))
	ctx := testCtx(t, 3*time.Minute)
	alice, bob := n.Node(regtest.Alice), n.Node(regtest.Bob)

	for _, node := range []*regtest.Node{alice, bob} {
		p2p, chain := px.get(regtest.P2PHop(node.Name())), px.get(regtest.ChainHop(node.Name()))
		require.NotNil(t, p2p, "the p2p hop of %s is interposed", node.Name())
		require.NotNil(t, chain, "the chain hop of %s is interposed", node.Name())
		require.Equal(t, node.P2PAddr(), p2p.target())
		require.Equal(t, n.Chain().RPCAddr(), chain.target())
		require.Equal(t, p2p.addr(), node.AdvertisedAddr())
		require.NotEqual(t, node.P2PAddr(), node.AdvertisedAddr())
		require.Positive(t, chain.accepted(), "%s reaches btcd through its chain hop", node.Name())
	}
	// Each node learns the other's proxy address from the graph, which
	// is where LND reconnects from.
	for _, pair := range [][2]*regtest.Node{{alice, bob}, {bob, alice}} {
		err := wait.Until(ctx, 50*time.Millisecond, func(ctx context.Context) error {
			info, err := pair[0].LN().GetNodeInfo(ctx, &lnrpc.NodeInfoRequest{PubKey: pair[1].PubKey()})
			if err != nil {
				return err
			}
			if a := info.Node.Addresses; len(a) != 1 || a[0].Addr != pair[1].AdvertisedAddr() {
				return fmt.Errorf("%s sees %s at %v", pair[0].Name(), pair[1].Name(), a)
			}
			return nil
		})
		require.NoError(t, err)
	}

	regtesttest.Pay(t, ctx, alice, bob, 1000)
	require.Positive(t, px.get(regtest.P2PHop(alice.Name())).accepted()+px.get(regtest.P2PHop(bob.Name())).accepted())
	_, err := n.Mine(ctx, 1) // the chain hops carry block notifications
	require.NoError(t, err)

	// Down: every peer connection goes through one of the two proxies.
	p2ps := []*passProxy{px.get(regtest.P2PHop(alice.Name())), px.get(regtest.P2PHop(bob.Name()))}
	for _, p := range p2ps {
		p.setUp(false)
	}
	requirePeers(t, ctx, alice, 0)
	requirePeers(t, ctx, bob, 0)
	// LND keeps dialing the proxies, not the real addresses: after
	// refused attempts the peers are still apart.
	refusedBefore := p2ps[0].refused() + p2ps[1].refused()
	err = wait.Until(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		if got := p2ps[0].refused() + p2ps[1].refused() - refusedBefore; got < 2 {
			return fmt.Errorf("%d reconnection attempts refused", got)
		}
		return nil
	})
	require.NoError(t, err)
	requirePeers(t, ctx, alice, 0)

	// Up: LND reconnects on its own, through the proxies.
	for _, p := range p2ps {
		p.setUp(true)
	}
	point := n.Channels()[0].Point
	for _, node := range []*regtest.Node{alice, bob} {
		err := wait.Until(ctx, 50*time.Millisecond, func(ctx context.Context) error {
			resp, err := node.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{ActiveOnly: true})
			if err != nil {
				return err
			}
			for _, c := range resp.Channels {
				if c.ChannelPoint == point {
					return nil
				}
			}
			return fmt.Errorf("channel not active on %s", node.Name())
		})
		require.NoError(t, err)
	}
	require.NoError(t, n.WaitReady(ctx))
	regtesttest.Pay(t, ctx, alice, bob, 2000)
}

// requirePeers waits until node has want peers.
func requirePeers(t *testing.T, ctx context.Context, node *regtest.Node, want int) {
	t.Helper()
	err := wait.Until(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		resp, err := node.LN().ListPeers(ctx, &lnrpc.ListPeersRequest{})
		if err != nil {
			return err
		}
		if len(resp.Peers) != want {
			return fmt.Errorf("%s has %d peers, want %d", node.Name(), len(resp.Peers), want)
		}
		return nil
	})
	require.NoError(t, err)
}

// passProxies is a set of pass-through TCP proxies, one per hop, created
// on first use: the interpose function of the test.
type passProxies struct {
	mu sync.Mutex
	m  map[string]*passProxy
}

func newPassProxies(t *testing.T) *passProxies {
	px := &passProxies{m: map[string]*passProxy{}}
	t.Cleanup(func() {
		px.mu.Lock()
		defer px.mu.Unlock()
		for _, p := range px.m {
			p.close()
		}
	})
	return px
}

func (px *passProxies) interpose(h regtest.Hop) (string, error) {
	px.mu.Lock()
	defer px.mu.Unlock()
	p, ok := px.m[h.Name]
	if !ok {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		p = &passProxy{ln: ln, up: true, conns: map[net.Conn]struct{}{}}
		px.m[h.Name] = p
		go p.serve()
	}
	p.setTarget(h.Upstream)
	return p.addr(), nil
}

func (px *passProxies) get(name string) *passProxy {
	px.mu.Lock()
	defer px.mu.Unlock()
	return px.m[name]
}

// passProxy forwards every accepted connection to its target. While down
// it closes every connection and closes new ones at once, counting them:
// the listening port stays taken, so nothing else can take it.
type passProxy struct {
	ln net.Listener

	mu       sync.Mutex
	upstream string
	up       bool
	conns    map[net.Conn]struct{}
	nAccept  int
	nRefuse  int
}

func (p *passProxy) addr() string { return p.ln.Addr().String() }

func (p *passProxy) target() string { p.mu.Lock(); defer p.mu.Unlock(); return p.upstream }

func (p *passProxy) setTarget(s string) { p.mu.Lock(); defer p.mu.Unlock(); p.upstream = s }

func (p *passProxy) accepted() int { p.mu.Lock(); defer p.mu.Unlock(); return p.nAccept }

func (p *passProxy) refused() int { p.mu.Lock(); defer p.mu.Unlock(); return p.nRefuse }

func (p *passProxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *passProxy) close() {
	p.ln.Close()
	p.setUp(false)
}

func (p *passProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		up, target := p.up, p.upstream
		if !up {
			p.nRefuse++
		} else {
			p.nAccept++
		}
		p.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		go p.pipe(c, target)
	}
}

func (p *passProxy) pipe(c net.Conn, target string) {
	u, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if !p.up {
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}
