package regtest

import (
	"errors"
	"fmt"
	"net"
)

// Hop is a network hop of a node that can be routed through a proxy:
//
//	p2p:<node>    peers ----> proxy ----> the node's --listen address
//	chain:<node>  the node -> proxy ----> btcd's RPC address
//
// Upstream is where the proxy must forward to: the real address, which
// changes when the node is restarted on fresh ports or the network is
// restored from a snapshot.
type Hop struct {
	Name     string `json:"name"`
	Upstream string `json:"upstream"`
}

// P2PHop names the hop of inbound peer connections to node.
func P2PHop(node string) string { return "p2p:" + node }

// ChainHop names the hop from node to btcd's RPC.
func ChainHop(node string) string { return "chain:" + node }

// WithInterpose routes every node's inbound p2p connections and its btcd
// RPC connection through addresses that f returns, so that a proxy (a
// fault injector) sits on those hops.
//
// f is called before a node starts and again whenever a hop's upstream
// changes; it returns the address to use instead (a proxy's listen
// address on 127.0.0.1, stable for a given hop name). Nodes start
// concurrently, so f must be safe for concurrent use.
//
// A node advertises its p2p hop's address (--externalip) and the package
// dials it in every ConnectPeer, so peers reconnecting from the channel
// graph pass the proxy too. The node reaches btcd through its chain hop
// (--btcd.rpchost). TLS still validates: btcd's and LND's certificates
// carry the IP 127.0.0.1 and certificates do not name ports.
//
// LND retries a refused peer after 5 s, then 10 s, 15 s and so on: after
// a long p2p outage it can take long to reconnect by itself, while
// Network.WaitReady reconnects at once.
func WithInterpose(f func(h Hop) (string, error)) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("interpose function is nil")
		}
		c.interpose = f
		return nil
	}
}

// hopAddr is a hop's last upstream and the address f gave for it.
type hopAddr struct {
	upstream string
	addr     string
}

// interposeHops asks the interpose function for the addresses of the
// node's hops whose upstream is new or changed.
func (n *Node) interposeHops() error {
	if n.interpose == nil {
		return nil
	}
	hops := []Hop{
		{Name: P2PHop(n.name), Upstream: n.P2PAddr()},
		{Name: ChainHop(n.name), Upstream: n.chain.RPCPeerAddr()},
	}
	for _, h := range hops {
		n.mu.Lock()
		last, ok := n.hops[h.Name]
		n.mu.Unlock()
		if ok && last.upstream == h.Upstream {
			continue
		}
		addr, err := n.interpose(h)
		if err != nil {
			return fmt.Errorf("interpose %s: %w", h.Name, err)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("interpose %s: address %q: %w", h.Name, addr, err)
		}
		n.mu.Lock()
		n.hops[h.Name] = hopAddr{upstream: h.Upstream, addr: addr}
		n.mu.Unlock()
	}
	return nil
}

// hopAddrLocked is the address the node uses for a hop: the interposed
// one if any, else def. The caller holds n.mu.
func (n *Node) hopAddrLocked(name, def string) string {
	if h, ok := n.hops[name]; ok {
		return h.addr
	}
	return def
}

// AdvertisedAddr is the p2p address the node announces and peers dial:
// its p2p hop's proxy when interposed, else P2PAddr.
func (n *Node) AdvertisedAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hopAddrLocked(P2PHop(n.name), n.p2p.Peer)
}
