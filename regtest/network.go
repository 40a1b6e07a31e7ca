package regtest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/l402chaos/l402chaos/internal/owned"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/lightningnetwork/lnd/lnrpc"
	"golang.org/x/sync/errgroup"
)

// Node names of the default topologies.
const (
	Alice = "alice" // the client's payer node
	Bob   = "bob"   // the provider's node
	Carol = "carol" // the routing hop of the routed topology
)

// Topology is the shape of the channel graph.
type Topology string

const (
	// Direct is alice -> bob.
	Direct Topology = "direct"
	// Routed is alice -> carol -> bob, for faults on a routing hop.
	Routed Topology = "routed"
)

// segwitHeight is where btcd's regtest (the version lnd pins) activates
// segwit (432), rounded up with margin. Channels need segwit.
const segwitHeight = 500

// ErrInvalidConfig marks a rejected setting: the caller's mistake, not a
// failure of the network.
var ErrInvalidConfig = errors.New("invalid configuration")

// Defaults of the settings.
const (
	DefaultCapacity    = btcutil.Amount(10_000_000)
	DefaultWalletUTXOs = 4
	DefaultWalletUTXO  = btcutil.Amount(100_000_000)
)

// ChannelSpec is one channel of a topology, opened by From.
type ChannelSpec struct {
	From     string         `json:"from"`
	To       string         `json:"to"`
	Capacity btcutil.Amount `json:"capacity_sat"`
	Push     btcutil.Amount `json:"push_sat"`
	// Point is the funding outpoint "txid:index", set once opened.
	Point string `json:"channel_point,omitempty"`
}

type config struct {
	topology    Topology
	capacity    btcutil.Amount
	push        btcutil.Amount
	walletUTXOs int
	walletUTXO  btcutil.Amount
	baseDir     string
	keep        bool
	snapshot    bool
	snapshotDir string
	log         *slog.Logger
	bins        *Binaries
	buildOpts   []BuildOption
	nodeArgs    map[string][]string
	interpose   func(Hop) (string, error)
	runtime     Runtime
	onOpen      func(context.Context, Sandbox, string) error
	onNodes     func(context.Context, *Network) error
}

// Option adjusts a Network. Options validate their arguments.
type Option func(*config) error

// WithTopology selects Direct (default) or Routed.
func WithTopology(t Topology) Option {
	return func(c *config) error {
		if t != Direct && t != Routed {
			return fmt.Errorf("topology %q: want %q or %q", t, Direct, Routed)
		}
		c.topology = t
		return nil
	}
}

// WithCapacity sets the capacity of every channel, in satoshis.
func WithCapacity(sat btcutil.Amount) Option {
	return func(c *config) error {
		if sat < 20_000 {
			return fmt.Errorf("channel capacity %d sat: want at least 20000", sat)
		}
		c.capacity = sat
		return nil
	}
}

// WithPush sets how much of each channel's capacity the opener pushes to
// the other side at opening, in satoshis.
func WithPush(sat btcutil.Amount) Option {
	return func(c *config) error {
		if sat < 0 {
			return fmt.Errorf("push %d sat: must not be negative", sat)
		}
		c.push = sat
		return nil
	}
}

// WithWalletFunds sets how each node's on-chain wallet is funded: count
// outputs of each satoshis.
func WithWalletFunds(count int, each btcutil.Amount) Option {
	return func(c *config) error {
		if count < 1 || each < 1_000_000 {
			return fmt.Errorf("wallet funds %d x %d sat: want at least 1 x 1000000", count, each)
		}
		c.walletUTXOs, c.walletUTXO = count, each
		return nil
	}
}

// WithBaseDir sets where run directories are created (default: the system
// temp dir).
func WithBaseDir(dir string) Option {
	return func(c *config) error { c.baseDir = dir; return nil }
}

// WithKeepDir keeps the run directory (data and logs) after Close.
func WithKeepDir(keep bool) Option {
	return func(c *config) error { c.keep = keep; return nil }
}

// WithSnapshot starts the network from a cached snapshot of a funded,
// channel-ready network with the same settings, making the snapshot first
// if there is none.
func WithSnapshot(use bool) Option {
	return func(c *config) error { c.snapshot = use; return nil }
}

// WithSnapshotDir sets where snapshots are kept (default: snapshots under
// CacheDir).
func WithSnapshotDir(dir string) Option {
	return func(c *config) error { c.snapshotDir = dir; return nil }
}

// WithLogger sets the logger for progress and diagnostics.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("logger is nil")
		}
		c.log = l
		return nil
	}
}

// WithBinaries uses these executables instead of EnsureBinaries' choice.
func WithBinaries(b Binaries) Option {
	return func(c *config) error {
		if b.LND == "" || b.Btcd == "" {
			return errors.New("binaries: both lnd and btcd paths are required")
		}
		c.bins = &b
		return nil
	}
}

// WithBuildOptions passes options to EnsureBinaries.
func WithBuildOptions(opts ...BuildOption) Option {
	return func(c *config) error { c.buildOpts = append(c.buildOpts, opts...); return nil }
}

// WithNodeArgs appends lnd flags for one node; they override the defaults.
func WithNodeArgs(node string, args ...string) Option {
	return func(c *config) error {
		c.nodeArgs[node] = append(c.nodeArgs[node], args...)
		return nil
	}
}

func (c *config) channels() []ChannelSpec {
	if c.topology == Routed {
		return []ChannelSpec{
			{From: Alice, To: Carol, Capacity: c.capacity, Push: c.push},
			{From: Carol, To: Bob, Capacity: c.capacity, Push: c.push},
		}
	}
	return []ChannelSpec{{From: Alice, To: Bob, Capacity: c.capacity, Push: c.push}}
}

func (c *config) nodeNames() []string {
	if c.topology == Routed {
		return []string{Alice, Bob, Carol}
	}
	return []string{Alice, Bob}
}

// Network is a running regtest Lightning network: one btcd and named LND
// nodes on loopback, in one run directory.
type Network struct {
	cfg      config
	bins     Binaries
	dir      string
	sandbox  Sandbox
	log      *slog.Logger
	chain    *Chain
	nodes    map[string]*Node
	channels []ChannelSpec

	// opened is the open hook's answer (WithOnOpen): it runs while the
	// chain starts, and the nodes wait for it.
	opened     chan error
	openedOnce sync.Once
	openedErr  error

	closeOnce sync.Once
	closeErr  error
}

// Start builds a network: btcd, the topology's LND nodes with funded
// wallets, and open channels, and returns once a payment can route from
// alice to bob. On error everything it started is torn down.
func Start(ctx context.Context, opts ...Option) (*Network, error) {
	cfg := config{
		topology:    Direct,
		capacity:    DefaultCapacity,
		walletUTXOs: DefaultWalletUTXOs,
		walletUTXO:  DefaultWalletUTXO,
		baseDir:     os.TempDir(),
		log:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		nodeArgs:    map[string][]string{},
		runtime:     Processes{},
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("regtest: %w: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.push >= cfg.capacity {
		return nil, fmt.Errorf("regtest: %w: push %d sat must be below capacity %d sat", ErrInvalidConfig, cfg.push, cfg.capacity)
	}
	if need := cfg.capacity + 1_000_000; cfg.walletUTXO < need {
		return nil, fmt.Errorf("regtest: %w: wallet outputs of %d sat cannot fund a %d sat channel", ErrInvalidConfig, cfg.walletUTXO, cfg.capacity)
	}
	var bins Binaries
	if cfg.bins != nil {
		bins = *cfg.bins
	} else {
		b, err := EnsureBinaries(ctx, cfg.buildOpts...)
		if err != nil {
			return nil, fmt.Errorf("regtest: %w", err)
		}
		bins = b
	}
	if cfg.snapshot {
		return startFromSnapshot(ctx, cfg, bins)
	}
	return startFresh(ctx, cfg, bins)
}

// newNetwork creates the run directory and opens the runtime's sandbox
// for it; the nodes are not yet started.
func newNetwork(ctx context.Context, cfg config, bins Binaries) (*Network, error) {
	if err := os.MkdirAll(cfg.baseDir, 0o755); err != nil {
		return nil, fmt.Errorf("regtest: create base dir: %w", err)
	}
	sweepRuns(cfg.baseDir, cfg.log)
	dir, err := os.MkdirTemp(cfg.baseDir, runPrefix)
	if err != nil {
		return nil, fmt.Errorf("regtest: create run dir: %w", err)
	}
	// A kept run dir has no owner file, so no later sweep removes it.
	if !cfg.keep {
		if err := owned.Claim(dir); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("regtest: %w", err)
		}
	}
	n := &Network{cfg: cfg, bins: bins, dir: dir, log: cfg.log, nodes: map[string]*Node{}, channels: cfg.channels()}
	if n.sandbox, err = cfg.runtime.Open(ctx, dir); err != nil {
		n.Close()
		return nil, fmt.Errorf("regtest: %s runtime: %w", cfg.runtime.Name(), err)
	}
	if cfg.onOpen != nil {
		// btcd needs nothing of the hook (a proxy on the nodes' hops):
		// they start side by side, and the nodes wait in addNodes.
		n.opened = make(chan error, 1)
		go func() { n.opened <- cfg.onOpen(ctx, n.sandbox, dir) }()
	}
	return n, nil
}

// awaitOpen waits for the open hook, if any, and returns its error.
func (n *Network) awaitOpen() error {
	n.openedOnce.Do(func() {
		if n.opened != nil {
			if err := <-n.opened; err != nil {
				n.openedErr = fmt.Errorf("open hook: %w", err)
			}
		}
	})
	return n.openedErr
}

// addNodes waits for the open hook, then makes the topology's nodes.
func (n *Network) addNodes() error {
	if err := n.awaitOpen(); err != nil {
		return err
	}
	for _, name := range n.cfg.nodeNames() {
		n.nodes[name] = &Node{
			name: name, dir: filepath.Join(n.dir, name), bin: n.bins.LND,
			chain: n.chain, extraArgs: n.cfg.nodeArgs[name], log: n.log, sandbox: n.sandbox,
			interpose: n.cfg.interpose, hops: map[string]hopAddr{},
		}
	}
	return nil
}

func startFresh(ctx context.Context, cfg config, bins Binaries) (_ *Network, err error) {
	n, err := newNetwork(ctx, cfg, bins)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.Close()
			err = fmt.Errorf("regtest: %w", err)
		}
	}()
	ph := newPhases()
	if n.chain, err = startChain(ctx, n.sandbox, bins.Btcd, filepath.Join(n.dir, "btcd"), n.log); err != nil {
		return nil, err
	}
	ph.done("btcd")
	if err := n.addNodes(); err != nil {
		return nil, err
	}

	// Mine past segwit activation while the nodes start.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, err := n.chain.Mine(gctx, segwitHeight)
		return err
	})
	for _, node := range n.nodes {
		g.Go(func() error { return node.Start(gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ph.done("mine+lnd")
	if err := n.fundWallets(ctx); err != nil {
		return nil, err
	}
	ph.done("fund")
	if err := n.openChannels(ctx); err != nil {
		return nil, err
	}
	ph.done("open")
	if err := n.WaitReady(ctx); err != nil {
		return nil, err
	}
	ph.done("ready")
	if cfg.onNodes != nil {
		if err := cfg.onNodes(ctx, n); err != nil {
			return nil, err
		}
		ph.done("hook")
	}
	n.log.Info("network started", "dir", n.dir, "phases", ph)
	return n, nil
}

// fundWallets pays each node's wallet from the miner's coinbases and waits
// until the funds are confirmed in every wallet.
func (n *Network) fundWallets(ctx context.Context) error {
	var outs []Payout
	for _, node := range n.Nodes() {
		for i := 0; i < n.cfg.walletUTXOs; i++ {
			addr, err := node.LN().NewAddress(ctx, &lnrpc.NewAddressRequest{Type: lnrpc.AddressType_WITNESS_PUBKEY_HASH})
			if err != nil {
				return fmt.Errorf("%s: new address: %w", node.name, err)
			}
			outs = append(outs, Payout{Address: addr.Address, Amount: n.cfg.walletUTXO})
		}
	}
	if _, err := n.chain.Send(ctx, outs); err != nil {
		return err
	}
	if _, err := n.Mine(ctx, 1); err != nil {
		return err
	}
	want := int64(n.cfg.walletUTXO) * int64(n.cfg.walletUTXOs)
	ctx, cancel := context.WithTimeout(ctx, lndReadyTimeout)
	defer cancel()
	for _, node := range n.Nodes() {
		err := wait.Until(ctx, pollInterval, func(ctx context.Context) error {
			bal, err := node.LN().WalletBalance(ctx, &lnrpc.WalletBalanceRequest{})
			if err != nil {
				return err
			}
			if bal.ConfirmedBalance < want {
				return fmt.Errorf("confirmed balance %d of %d", bal.ConfirmedBalance, want)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fund %s: %w", node.name, err)
		}
	}
	return nil
}

// openChannels connects the peers and opens every channel of the topology
// at once, then mines them deep enough to be announced (6 blocks).
func (n *Network) openChannels(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for i := range n.channels {
		ch := &n.channels[i]
		g.Go(func() error {
			from, to := n.nodes[ch.From], n.nodes[ch.To]
			toKey, err := hex.DecodeString(to.PubKey())
			if err != nil {
				return fmt.Errorf("%s pubkey: %w", to.name, err)
			}
			if err := n.connect(gctx, from, to); err != nil {
				return err
			}
			point, err := from.LN().OpenChannelSync(gctx, &lnrpc.OpenChannelRequest{
				NodePubkey:         toKey,
				LocalFundingAmount: int64(ch.Capacity),
				PushSat:            int64(ch.Push),
			})
			if err != nil {
				return fmt.Errorf("open channel %s -> %s: %w", ch.From, ch.To, err)
			}
			txid, err := lnrpc.GetChanPointFundingTxid(point)
			if err != nil {
				return err
			}
			ch.Point = fmt.Sprintf("%s:%d", txid, point.OutputIndex)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	_, err := n.Mine(ctx, 6)
	return err
}

// connect makes from a peer of to, at the address to advertises (its p2p
// hop's proxy when interposed).
func (n *Network) connect(ctx context.Context, from, to *Node) error {
	_, err := from.LN().ConnectPeer(ctx, &lnrpc.ConnectPeerRequest{
		Addr: &lnrpc.LightningAddress{Pubkey: to.PubKey(), Host: to.AdvertisedAddr()},
		Perm: false,
	})
	if err != nil && !strings.Contains(err.Error(), "already connected") {
		return fmt.Errorf("connect %s -> %s: %w", from.name, to.name, err)
	}
	return nil
}

// WaitReady returns once every channel of the topology is active on both
// sides, alice knows the route to bob, and a probe HTLC actually travels
// from alice to bob. Call it after restarting or resuming nodes. A channel
// reported active can still fail its first payment for a moment; the probe
// is what proves it can carry one.
func (n *Network) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, channelReadyTimeout)
	defer cancel()
	for _, ch := range n.channels {
		from, to := n.nodes[ch.From], n.nodes[ch.To]
		err := wait.Until(ctx, pollInterval, func(ctx context.Context) error {
			for _, pair := range [][2]*Node{{from, to}, {to, from}} {
				active, err := channelActive(ctx, pair[0], ch.Point)
				if err != nil {
					return err
				}
				if !active {
					// Reconnect in case the peers lost each other
					// (new ports after a restore, a restart).
					if err := n.connect(ctx, from, to); err != nil {
						return err
					}
					return fmt.Errorf("channel %s not active on %s", short(ch.Point), pair[0].name)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("channel %s -> %s: %w", ch.From, ch.To, err)
		}
	}
	alice, bob := n.nodes[Alice], n.nodes[Bob]
	err := wait.Until(ctx, pollInterval, func(ctx context.Context) error {
		return alice.probe(ctx, bob.PubKey(), 1000)
	})
	if err != nil {
		return fmt.Errorf("route alice -> bob: %w", err)
	}
	return nil
}

func channelActive(ctx context.Context, node *Node, point string) (bool, error) {
	resp, err := node.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{ActiveOnly: true})
	if err != nil {
		return false, fmt.Errorf("%s: list channels: %w", node.name, err)
	}
	for _, c := range resp.Channels {
		if c.ChannelPoint == point {
			return true, nil
		}
	}
	return false, nil
}

// Mine mines blocks and waits until every running, unpaused node has seen
// them.
func (n *Network) Mine(ctx context.Context, blocks int) ([]*chainhash.Hash, error) {
	hashes, err := n.chain.Mine(ctx, blocks)
	if err != nil {
		return nil, err
	}
	for _, node := range n.Nodes() {
		if !node.Running() || node.Paused() {
			continue
		}
		if err := node.WaitSynced(ctx); err != nil {
			return hashes, err
		}
	}
	return hashes, nil
}

// Height is the chain tip's height.
func (n *Network) Height(ctx context.Context) (int32, error) { return n.chain.Height(ctx) }

// Chain is the network's btcd.
func (n *Network) Chain() *Chain { return n.chain }

// Node returns the named node, or nil.
func (n *Network) Node(name string) *Node { return n.nodes[name] }

// Nodes returns the nodes in topology order.
func (n *Network) Nodes() []*Node {
	var out []*Node
	for _, name := range n.cfg.nodeNames() {
		out = append(out, n.nodes[name])
	}
	return out
}

// Channels returns the topology's channels with their funding outpoints.
func (n *Network) Channels() []ChannelSpec { return append([]ChannelSpec(nil), n.channels...) }

// Dir is the run directory.
func (n *Network) Dir() string { return n.dir }

// Sandbox is where the network's programs run: start more programs
// beside them with its Start.
func (n *Network) Sandbox() Sandbox { return n.sandbox }

// CanIsolate reports whether the network's nodes can be cut from it as
// a whole (Node.Isolate): its sandbox says so.
func (n *Network) CanIsolate() bool {
	c, ok := n.sandbox.(interface{ CanIsolate() bool })
	return ok && c.CanIsolate()
}

// Runtime is the network's runtime.
func (n *Network) Runtime() Runtime { return n.cfg.runtime }

// Binaries are the executables the network runs.
func (n *Network) Binaries() Binaries { return n.bins }

// Keep marks the run directory to be kept by Close (for a post-mortem of
// a failed test).
func (n *Network) Keep() {
	n.cfg.keep = true
	os.Remove(filepath.Join(n.dir, ownerFile))
}

// Close kills every process group of the network and removes the run
// directory unless it is kept. It is safe to call more than once.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		// What the hook starts is the sandbox's: let it finish first.
		_ = n.awaitOpen()
		var errs []error
		for _, node := range n.nodes {
			errs = append(errs, node.close())
		}
		if n.chain != nil {
			errs = append(errs, n.chain.stop(false))
		}
		if n.sandbox != nil {
			errs = append(errs, n.sandbox.Close())
		}
		if !n.cfg.keep {
			errs = append(errs, os.RemoveAll(n.dir))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// phases records how long each step of a start took, for the log.
type phases struct {
	last  time.Time
	start time.Time
	b     strings.Builder
}

func newPhases() *phases { now := time.Now(); return &phases{last: now, start: now} }

func (p *phases) done(name string) {
	now := time.Now()
	fmt.Fprintf(&p.b, "%s=%s ", name, now.Sub(p.last).Round(time.Millisecond))
	p.last = now
}

func (p *phases) String() string {
	return p.b.String() + "total=" + time.Since(p.start).Round(time.Millisecond).String()
}
