package regtest

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInterposeAsksAgainOnlyWhenUpstreamChanges checks the hook's
// contract without processes: asked before the first start, asked again
// for a hop whose upstream moved, and the flags follow its answers.
func TestInterposeAsksAgainOnlyWhenUpstreamChanges(t *testing.T) {
	var asked []Hop
	proxies := map[string]string{}
	f := func(h Hop) (string, error) {
		asked = append(asked, h)
		if _, ok := proxies[h.Name]; !ok {
			proxies[h.Name] = fmt.Sprintf("127.0.0.1:%d", 40000+len(proxies))
		}
		return proxies[h.Name], nil
	}
	chain := &Chain{rpc: local("127.0.0.1:18334")}
	n := &Node{name: Alice, chain: chain, log: slog.New(slog.DiscardHandler), interpose: f,
		hops: map[string]hopAddr{}, rpc: local("127.0.0.1:10009"), rest: local("127.0.0.1:8080"), p2p: local("127.0.0.1:9735")}

	require.NoError(t, n.interposeHops())
	require.Equal(t, []Hop{{"p2p:alice", "127.0.0.1:9735"}, {"chain:alice", "127.0.0.1:18334"}}, asked)
	args := n.args()
	require.Contains(t, args, "--externalip="+proxies["p2p:alice"])
	require.Contains(t, args, "--btcd.rpchost="+proxies["chain:alice"])
	require.Contains(t, args, "--listen=127.0.0.1:9735", "lnd still listens on its own port")
	require.Equal(t, proxies["p2p:alice"], n.AdvertisedAddr())

	// A restart on the same ports asks nothing.
	require.NoError(t, n.interposeHops())
	require.Len(t, asked, 2)

	// Fresh ports: only the moved hop is asked again, and keeps its proxy.
	n.p2p = local("127.0.0.1:9736")
	require.NoError(t, n.interposeHops())
	require.Equal(t, Hop{"p2p:alice", "127.0.0.1:9736"}, asked[2])
	require.Len(t, asked, 3)
	require.Equal(t, proxies["p2p:alice"], n.AdvertisedAddr())
}

func TestInterposeErrorsAndDefault(t *testing.T) {
	chain := &Chain{rpc: local("127.0.0.1:18334")}
	boom := errors.New("boom")
	n := &Node{name: Bob, chain: chain, hops: map[string]hopAddr{}, p2p: local("127.0.0.1:9735"),
		interpose: func(Hop) (string, error) { return "", boom }}
	require.ErrorIs(t, n.interposeHops(), boom)
	n.interpose = func(Hop) (string, error) { return "not an address", nil }
	require.Error(t, n.interposeHops())

	// Without a hook nothing changes.
	plain := &Node{name: Bob, chain: chain, p2p: local("127.0.0.1:9735")}
	require.NoError(t, plain.interposeHops())
	args := plain.args()
	require.Contains(t, args, "--externalip=127.0.0.1:9735")
	require.Contains(t, args, "--btcd.rpchost=127.0.0.1:18334")
	require.Equal(t, "127.0.0.1:9735", plain.AdvertisedAddr())

	var c config
	require.Error(t, WithInterpose(nil)(&c))
}

// local is a process runtime's endpoint: one address for every side.
func local(addr string) Endpoint { return Endpoint{Listen: addr, Host: addr, Peer: addr} }
