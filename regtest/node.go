package regtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/macaroons"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"gopkg.in/macaroon.v2"
)

// ErrNotRunning reports an operation on a node that is stopped or killed.
var ErrNotRunning = errors.New("node is not running")

// Node is one LND process with its own data directory. Its gRPC clients stay
// valid across restarts: gRPC reconnects to the same address.
type Node struct {
	name      string
	dir       string
	bin       string
	chain     *Chain
	extraArgs []string
	log       *slog.Logger
	interpose func(Hop) (string, error) // nil: no proxies
	sandbox   Sandbox

	mu     sync.Mutex
	rpc    Endpoint
	rest   Endpoint
	p2p    Endpoint
	proc   Proc
	conn   *grpc.ClientConn
	pubKey string
	hops   map[string]hopAddr // interposed hops by name
}

// Name is the node's name in the topology (alice, bob, carol).
func (n *Node) Name() string { return n.name }

// Dir is the node's lnddir.
func (n *Node) Dir() string { return n.dir }

// RPCAddr is the gRPC host:port, as this process dials it.
func (n *Node) RPCAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.rpc.Host }

// RPCPeerAddr is the gRPC host:port as the network's other programs
// (a proxy in front of the node) dial it.
func (n *Node) RPCPeerAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.rpc.Peer }

// RESTAddr is the REST host:port, as this process dials it.
func (n *Node) RESTAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.rest.Host }

// P2PAddr is the Lightning peer-to-peer host:port as the other nodes
// dial it.
func (n *Node) P2PAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.p2p.Peer }

// P2PHostAddr is the Lightning peer-to-peer host:port as this process
// dials it (P2PAddr for local processes, a published port for
// containers).
func (n *Node) P2PHostAddr() string { n.mu.Lock(); defer n.mu.Unlock(); return n.p2p.Host }

// LogPath is the file the node's output goes to.
func (n *Node) LogPath() string { return filepath.Join(n.dir, "lnd.out") }

// lnd's own ports, which an isolated runtime publishes.
const (
	lndRPCPort  = 10009
	lndRESTPort = 8080
	lndP2PPort  = 9735
)

// TLSCertPath is the path of the node's TLS certificate.
func (n *Node) TLSCertPath() string { return filepath.Join(n.dir, "tls.cert") }

// AdminMacaroonPath is the path of the node's admin macaroon.
func (n *Node) AdminMacaroonPath() string {
	return filepath.Join(n.dir, "data", "chain", "bitcoin", "regtest", "admin.macaroon")
}

// PubKey is the node's identity key, hex encoded.
func (n *Node) PubKey() string { n.mu.Lock(); defer n.mu.Unlock(); return n.pubKey }

// Pid is the process id of the running node, 0 when it is not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.Exited() != nil {
		return 0
	}
	return n.proc.Pid()
}

// LN is the node's main gRPC client.
func (n *Node) LN() lnrpc.LightningClient { return lnrpc.NewLightningClient(n.grpcConn()) }

// Router is the node's routerrpc client (payments).
func (n *Node) Router() routerrpc.RouterClient { return routerrpc.NewRouterClient(n.grpcConn()) }

// Invoices is the node's invoicesrpc client (hold invoices).
func (n *Node) Invoices() invoicesrpc.InvoicesClient {
	return invoicesrpc.NewInvoicesClient(n.grpcConn())
}

// State is the node's state service client, which answers without a macaroon.
func (n *Node) State() lnrpc.StateClient { return lnrpc.NewStateClient(n.grpcConn()) }

func (n *Node) grpcConn() *grpc.ClientConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.conn
}

// Running reports whether the node's process is alive (paused counts).
func (n *Node) Running() bool { return n.Pid() != 0 }

// Start starts a stopped node on its data directory and waits until it is
// ready: SERVER_ACTIVE and synced to the chain tip.
func (n *Node) Start(ctx context.Context) error {
	if n.Running() {
		return fmt.Errorf("start %s: already running", n.name)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = n.startOnce(ctx, attempt > 0); err == nil {
			return nil
		}
		var exit *ExitError
		if !errors.As(err, &exit) || !strings.Contains(exit.LogTail, "address already in use") {
			break
		}
		n.log.Warn("port taken meanwhile; restarting on fresh ports", "node", n.name)
	}
	return fmt.Errorf("start %s: %w", n.name, err)
}

func (n *Node) startOnce(ctx context.Context, freshPorts bool) error {
	n.mu.Lock()
	if n.rpc.Host == "" || freshPorts {
		for _, p := range []struct {
			ep   *Endpoint
			port int
		}{{&n.rpc, lndRPCPort}, {&n.rest, lndRESTPort}, {&n.p2p, lndP2PPort}} {
			ep, err := n.sandbox.Endpoint(n.name, p.port)
			if err != nil {
				n.mu.Unlock()
				return err
			}
			*p.ep = ep
		}
		if n.conn != nil {
			n.conn.Close()
			n.conn = nil
		}
	}
	n.mu.Unlock()
	if err := n.interposeHops(); err != nil {
		return err
	}
	n.mu.Lock()
	args := n.args()
	eps := []Endpoint{n.rpc, n.rest, n.p2p}
	n.mu.Unlock()

	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return fmt.Errorf("create node dir: %w", err)
	}
	n.log.Debug("starting lnd", "node", n.name, "rpc", args)
	proc, err := n.sandbox.Start(ctx, Spec{Name: n.name, Bin: n.bin, Args: args, Dir: n.dir, LogPath: n.LogPath(), Endpoints: eps})
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.proc = proc
	conn := n.conn
	n.mu.Unlock()
	if conn != nil {
		// The connection kept from before a crash may be between
		// attempts: try the new process at once.
		conn.ResetConnectBackoff()
	}
	if err := n.waitReady(ctx); err != nil {
		proc.Kill()
		return err
	}
	return nil
}

// args are the node's lnd flags. The caller holds n.mu.
func (n *Node) args() []string {
	user, pass := n.chain.Credentials()
	args := []string{
		"--lnddir=" + n.dir,
		"--alias=" + n.name,
		"--noseedbackup",
		"--nobootstrap",
		"--bitcoin.regtest",
		"--bitcoin.node=btcd",
		"--btcd.rpchost=" + n.hopAddrLocked(ChainHop(n.name), n.chain.RPCPeerAddr()),
		"--btcd.rpcuser=" + user,
		"--btcd.rpcpass=" + pass,
		"--btcd.rpccert=" + n.chain.CertPath(),
		"--rpclisten=" + n.rpc.Listen,
		"--restlisten=" + n.rest.Listen,
		"--listen=" + n.p2p.Listen,
		"--externalip=" + n.hopAddrLocked(P2PHop(n.name), n.p2p.Peer),
		"--debuglevel=info",
		"--logging.file.disable",
		"--logging.no-commit-hash",
		"--accept-keysend",
		// The harness reads failed attempts as ground truth.
		"--keep-failed-payment-attempts",
		"--bitcoin.defaultchanconfs=1",
		"--bitcoin.defaultremotedelay=4",
		"--protocol.wumbo-channels",
		"--maxpendingchannels=10",
		"--db.batch-commit-interval=10ms",
		"--trickledelay=50",
		"--gossip.sub-batch-delay=5ms",
		"--caches.rpc-graph-cache-duration=100ms",
		// Reconnect quickly after a restart or a cut link; the default
		// backoff grows to an hour.
		"--minbackoff=200ms",
		"--maxbackoff=2s",
		// Cutting a node from btcd is a fault we inject on purpose; the
		// health check would shut the node down instead.
		"--healthcheck.chainbackend.attempts=0",
	}
	// Later flags override earlier ones, so callers can change any of the
	// above (point --btcd.rpchost at a proxy, say).
	return append(args, n.extraArgs...)
}

// waitReady waits for the node to answer gRPC, reach SERVER_ACTIVE and sync
// to btcd's tip, failing fast if the process dies.
func (n *Node) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lndReadyTimeout)
	defer cancel()
	n.mu.Lock()
	proc := n.proc
	n.mu.Unlock()
	err := wait.Until(ctx, pollInterval, func(ctx context.Context) error {
		if err := proc.Exited(); err != nil {
			return wait.Permanent(err)
		}
		if n.grpcConn() == nil {
			if err := n.dial(); err != nil {
				return err
			}
		}
		st, err := n.State().GetState(ctx, &lnrpc.GetStateRequest{})
		if err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if st.State != lnrpc.WalletState_SERVER_ACTIVE {
			return fmt.Errorf("state is %v", st.State)
		}
		return n.synced(ctx)
	})
	if err != nil {
		return fmt.Errorf("wait for %s to be ready: %w\n--- last lines of %s ---\n%s", n.name, err, proc.LogPath(), tail(proc.LogPath(), 15))
	}
	return n.checkSubServers(ctx)
}

// synced is nil when the node is synced to chain at btcd's tip.
func (n *Node) synced(ctx context.Context) error {
	tip, err := n.chain.Height(ctx)
	if err != nil {
		return err
	}
	info, err := n.LN().GetInfo(ctx, &lnrpc.GetInfoRequest{})
	if err != nil {
		return fmt.Errorf("getinfo: %w", err)
	}
	n.mu.Lock()
	n.pubKey = info.IdentityPubkey
	n.mu.Unlock()
	if !info.SyncedToChain || int32(info.BlockHeight) < tip {
		return fmt.Errorf("at height %d of %d, synced=%v", info.BlockHeight, tip, info.SyncedToChain)
	}
	return nil
}

// WaitSynced waits until the node has caught up with btcd's tip, after
// blocks were mined.
func (n *Node) WaitSynced(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, lndReadyTimeout)
	defer cancel()
	if err := wait.Until(ctx, pollInterval, n.synced); err != nil {
		return fmt.Errorf("wait for %s to sync: %w", n.name, err)
	}
	return nil
}

// checkSubServers fails fast when the lnd binary lacks the sub-servers the
// harness needs (a user-supplied lnd built without the tags).
func (n *Node) checkSubServers(ctx context.Context) error {
	hash := make([]byte, 32)
	rand.Read(hash)
	_, err := n.Invoices().LookupInvoiceV2(ctx, &invoicesrpc.LookupInvoiceMsg{
		InvoiceRef: &invoicesrpc.LookupInvoiceMsg_PaymentHash{PaymentHash: hash},
	})
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%s: lnd was built without the invoicesrpc tag (want tags %s)", n.name, strings.Join(LNDTags, " "))
	}
	_, err = n.Router().GetMissionControlConfig(ctx, &routerrpc.GetMissionControlConfigRequest{})
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("%s: lnd was built without the routerrpc tag (want tags %s)", n.name, strings.Join(LNDTags, " "))
	}
	return nil
}

// dial opens the gRPC connection once the TLS certificate and the admin
// macaroon exist.
func (n *Node) dial() error {
	conn, err := Dial(n.RPCAddr(), n.TLSCertPath(), n.AdminMacaroonPath())
	if err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	n.mu.Lock()
	n.conn = conn
	n.mu.Unlock()
	return nil
}

// Dial opens a gRPC connection to any LND node from its RPC address, TLS
// certificate and macaroon files: the connection that lnrpc, routerrpc and
// invoicesrpc clients are built on. The connection is lazy: a node that is
// not up yet fails the first call, not Dial.
func Dial(rpcAddr, tlsCertPath, macaroonPath string) (*grpc.ClientConn, error) {
	return DialAs(rpcAddr, tlsCertPath, macaroonPath, "")
}

// DialBackoff is how a connection from Dial waits between attempts to
// reach a node that is down: at most a second. Nodes here are killed and
// restarted on the same address within seconds, and every call made
// while one is down lengthens gRPC's default backoff (up to two
// minutes), during which calls fail with the last dial error although
// the node is back: a harness waiting 20 s for a restarted node to be
// ready, or a client tracking its payment, would see it still refused.
var DialBackoff = backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second}

// DialAs is Dial checking the node's certificate against serverName
// rather than rpcAddr's host: for an address the certificate does not
// name (a node restored from a snapshot made at another address is
// still "localhost" to its certificate). Empty: rpcAddr's host.
func DialAs(rpcAddr, tlsCertPath, macaroonPath, serverName string) (*grpc.ClientConn, error) {
	creds, err := credentials.NewClientTLSFromFile(tlsCertPath, serverName)
	if err != nil {
		return nil, fmt.Errorf("tls cert %s: %w", tlsCertPath, err)
	}
	data, err := os.ReadFile(macaroonPath)
	if err != nil {
		return nil, fmt.Errorf("macaroon: %w", err)
	}
	mac := &macaroon.Macaroon{}
	if err := mac.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("macaroon %s: %w", macaroonPath, err)
	}
	macCred, err := macaroons.NewMacaroonCredential(mac)
	if err != nil {
		return nil, fmt.Errorf("macaroon %s: %w", macaroonPath, err)
	}
	conn, err := grpc.NewClient(rpcAddr,
		grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(macCred),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: DialBackoff, MinConnectTimeout: 5 * time.Second}),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", rpcAddr, err)
	}
	return conn, nil
}

func (n *Node) process() (Proc, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.Exited() != nil {
		return nil, fmt.Errorf("%s: %w", n.name, ErrNotRunning)
	}
	return n.proc, nil
}

// Stop shuts the node down gracefully (StopDaemon), killing it if it does
// not exit in time. Its data directory is then consistent.
func (n *Node) Stop(ctx context.Context) error {
	p, err := n.process()
	if err != nil {
		return nil // already stopped
	}
	if p.Paused() {
		p.Resume()
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	if _, err := n.LN().StopDaemon(ctx, &lnrpc.StopRequest{}); err != nil {
		return p.Terminate(stopTimeout)
	}
	return p.Wait(stopTimeout)
}

// Kill sends SIGKILL to the node's process group: a crash, with no chance to
// flush or close anything.
func (n *Node) Kill() error {
	p, err := n.process()
	if err != nil {
		return nil
	}
	return p.Kill()
}

// Pause freezes the node with SIGSTOP: its sockets stay open but nothing
// answers, as with a hung process or a long GC pause.
func (n *Node) Pause() error {
	p, err := n.process()
	if err != nil {
		return err
	}
	return p.Pause()
}

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() error {
	p, err := n.process()
	if err != nil {
		return err
	}
	return p.Resume()
}

// Paused reports whether the node is frozen by Pause.
func (n *Node) Paused() bool {
	p, err := n.process()
	return err == nil && p.Paused()
}

// Isolate cuts the node from the run's network: its peers, its chain
// backend and the harness all lose it, as in a real partition; the
// process keeps running. It wraps ErrNoIsolation on a backend that
// cannot (local processes).
func (n *Node) Isolate(ctx context.Context) error {
	p, err := n.process()
	if err != nil {
		return err
	}
	iso, ok := p.(Isolator)
	if !ok {
		return fmt.Errorf("isolate %s: %w", n.name, ErrNoIsolation)
	}
	if err := iso.Isolate(ctx); err != nil {
		return fmt.Errorf("isolate %s: %w", n.name, err)
	}
	return nil
}

// Rejoin joins an isolated node to the run's network again, at its
// address; its peers reconnect on their own (see Network.WaitReady).
func (n *Node) Rejoin(ctx context.Context) error {
	p, err := n.process()
	if err != nil {
		return err
	}
	iso, ok := p.(Isolator)
	if !ok {
		return fmt.Errorf("rejoin %s: %w", n.name, ErrNoIsolation)
	}
	if err := iso.Rejoin(ctx); err != nil {
		return fmt.Errorf("rejoin %s: %w", n.name, err)
	}
	return nil
}

// Isolated reports whether the node is cut from the network by Isolate.
func (n *Node) Isolated() bool {
	p, err := n.process()
	if err != nil {
		return false
	}
	iso, ok := p.(Isolator)
	return ok && iso.Isolated()
}

// Restart stops the node gracefully if it runs, starts it on the same data
// directory and waits until it is ready. Channels come back once peers
// reconnect: see Network.WaitReady.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Stop(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", n.name, err)
	}
	return n.Start(ctx)
}

// close kills the node and closes its connection.
func (n *Node) close() error {
	err := n.Kill()
	n.mu.Lock()
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
	n.mu.Unlock()
	return err
}
