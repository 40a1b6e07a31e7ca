package live

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
)

// Backend is a live system for one scenario run: a regtest network whose
// hops pass through toxiproxy, the fake provider on the payee node, and
// watchers that turn payment phases into triggers.
type Backend struct {
	log    *slog.Logger
	net    *regtest.Network
	links  *Links
	prov   *fakeprovider.Provider   // in this process (local processes)
	pp     *ProviderProgram         // a program of the network (containers)
	ap     *regtest.ApertureProcess // real Aperture in front of the provider, when asked for
	ctl    fakeprovider.Controller
	payer  *regtest.Node
	payee  *regtest.Node
	cfg    fakeprovider.Config
	ends   harness.Endpoints
	before map[string]history.Balance
	rec    *Recorder // the client's payment requests (local processes)
	// closedRead is each node's closed channels as last read (closedOf).
	closedMu   sync.Mutex
	closedRead map[string]closedRead
	pays       *listCursor // the payer's payments of the run (not before it, not drains)
	invs       *listCursor // the payee's invoices of the run

	phases *phases
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

var _ harness.Environment = (*Backend)(nil)

// Start is a harness.StartFunc: it starts a network for n (from the
// snapshot cache when it can), the provider on bob, and a proxy on every
// link the faults can reach.
func Start(ctx context.Context, n harness.Network, log *slog.Logger) (_ harness.Environment, err error) {
	b, err := start(ctx, n, log, regtest.Processes{})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// StartOn is Start on a runtime. On local processes (regtest.Processes)
// it is Start: the proxies run in this process. On any other (the
// containers backend) toxiproxy runs as a program of the network, beside
// the nodes (a container of the run's network, driven with its Go
// client), and the provider listens where the network's programs reach
// this machine, behind it.
func StartOn(rt regtest.Runtime) harness.StartFunc {
	return func(ctx context.Context, n harness.Network, log *slog.Logger) (harness.Environment, error) {
		b, err := start(ctx, n, log, rt)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
}

func start(ctx context.Context, n harness.Network, log *slog.Logger, rt regtest.Runtime) (*Backend, error) {
	return startWith(ctx, n, log, rt, false)
}

func startWith(ctx context.Context, n harness.Network, log *slog.Logger, rt regtest.Runtime, aperture bool) (_ *Backend, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := n.Validate(); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	b := &Backend{log: log, links: NewLinks(log), phases: newPhases(), pays: newListCursor(), invs: newListCursor()}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	topo := regtest.Direct
	next := regtest.Bob
	if n.Topology == "routed" {
		topo, next = regtest.Routed, regtest.Carol
	}
	opts := []regtest.Option{
		regtest.WithTopology(topo), regtest.WithSnapshot(true), regtest.WithLogger(log), regtest.WithRuntime(rt),
		regtest.WithInterpose(func(h regtest.Hop) (string, error) { return b.links.Interpose(h) }),
	}
	var chaosBin string
	if _, local := rt.(regtest.Processes); !local {
		var bin string
		if bin, chaosBin, err = StaticPrograms(ctx); err != nil {
			return nil, err
		}
		opts = append(opts, regtest.WithOnOpen(func(ctx context.Context, sb regtest.Sandbox, dir string) error {
			links, err := StartToxiproxy(ctx, sb, dir, bin, log)
			if err != nil {
				return err
			}
			b.links.Close()
			b.links = links
			return nil
		}))
	}
	b.cfg = providerConfig(n)
	if err := b.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("provider configuration: %w", err)
	}
	if chaosBin != "" && !aperture {
		// The provider program starts with the nodes and waits for the
		// payee's LND itself: its start overlaps theirs.
		opts = append(opts, regtest.WithOnNodes(func(ctx context.Context, net *regtest.Network) error {
			// The payee's addresses are allocated as its start begins.
			payee := net.Node(regtest.Bob)
			err := wait.Until(ctx, 10*time.Millisecond, func(context.Context) error {
				if payee.RPCPeerAddr() == "" {
					return fmt.Errorf("the payee's RPC address is not allocated yet")
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("start provider: %w", err)
			}
			b.pp, err = StartProviderProgram(ctx, net, payee, b.cfg, chaosBin, b.observe, log.With("component", "provider"))
			if err != nil {
				return fmt.Errorf("start provider: %w", err)
			}
			return nil
		}))
	}
	b.net, err = regtest.Start(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("start network: %w", err)
	}
	b.payer, b.payee = b.net.Node(regtest.Alice), b.net.Node(regtest.Bob)
	if err := b.links.Group(harness.LinkPeers, "p2p:"+regtest.Alice, "p2p:"+next); err != nil {
		return nil, err
	}
	if err := b.links.Group(harness.LinkPayerChain, "chain:"+regtest.Alice); err != nil {
		return nil, err
	}
	if err := b.links.Group(harness.LinkPayeeChain, "chain:"+regtest.Bob); err != nil {
		return nil, err
	}

	// On local processes the provider runs in this process; elsewhere
	// it is a program of the network beside the nodes (a container the
	// faults can pause or cut off), reached through its control API.
	var provUpstream, provGRPC string
	switch {
	case aperture:
		f, err := StartApertureFront(ctx, b.net, b.cfg, log, fakeprovider.WithObserver(b.observe))
		if err != nil {
			return nil, err
		}
		b.prov, b.ap = f.Backend, f.Aperture
		if err := b.prov.SetFront(b.ap.Endpoint.Host); err != nil {
			return nil, err
		}
		// The provider's face takes HTTP and h2c gRPC alike.
		b.ctl, provUpstream = b.prov.Controller(), strings.TrimPrefix(b.prov.URL(), "http://")
		provGRPC = provUpstream
	case chaosBin == "":
		b.prov, err = fakeprovider.Start(ctx, fakeprovider.NewLND(b.payee.LN(), b.payee.Invoices()), b.cfg,
			fakeprovider.WithLogger(log.With("component", "provider")), fakeprovider.WithObserver(b.observe))
		if err != nil {
			return nil, fmt.Errorf("start provider: %w", err)
		}
		b.ctl, provUpstream, provGRPC = b.prov.Controller(), strings.TrimPrefix(b.prov.URL(), "http://"), b.prov.GRPCAddr()
	default:
		// Started with the nodes (WithOnNodes above).
		b.ctl, provUpstream, provGRPC = b.pp.Control, b.pp.HTTP.Peer, b.pp.GRPC.Peer
	}
	// A client that buys over gRPC meets the scenario's client-provider
	// faults on its calls: in a gRPC network that link carries the gRPC
	// face, and the HTTP face has a link of its own.
	httpLink, grpcLink := harness.LinkProvider, harness.LinkProviderGRPC
	if n.Transport == harness.TransportGRPC {
		httpLink, grpcLink = harness.LinkProviderHTTP, harness.LinkProvider
	}
	provAddr, err := b.links.Add(httpLink, provUpstream)
	if err != nil {
		return nil, err
	}
	grpcAddr, err := b.links.Add(grpcLink, provGRPC)
	if err != nil {
		return nil, err
	}
	// On local processes the client-lnd link goes through a recorder of
	// the client's payment requests (the link's proxy in front of it, so
	// its faults still reach the client). On containers the link's proxy
	// runs in the network, which cannot reach this process: no record.
	payerUp := b.payer.RPCPeerAddr()
	if !b.net.CanIsolate() {
		b.rec, err = StartRecorder(b.payer.RPCAddr, b.payer.TLSCertPath(), filepath.Join(b.payer.Dir(), "tls.key"), log.With("component", "recorder"))
		if err != nil {
			return nil, err
		}
		payerUp = b.rec.Addr()
	}
	payerAddr, err := b.links.Add(harness.LinkPayer, payerUp)
	if err != nil {
		return nil, err
	}
	b.ends = harness.Endpoints{
		ProviderURL:   "http://" + provAddr,
		ProviderGRPC:  grpcAddr,
		PayerRPC:      payerAddr,
		PayerTLSCert:  b.payer.TLSCertPath(),
		PayerMacaroon: b.payer.AdminMacaroonPath(),
	}
	if err := b.markExisting(ctx); err != nil {
		return nil, err
	}
	if b.before, err = b.balances(ctx); err != nil {
		return nil, err
	}
	b.wg.Add(1)
	go b.watchPayments()
	return b, nil
}

// Endpoints are the client's ways in, through the proxies.
func (b *Backend) Endpoints() harness.Endpoints { return b.ends }

// Provider is the fake provider when it runs in this process (local
// processes), nil when it is a program of the network.
func (b *Backend) Provider() *fakeprovider.Provider { return b.prov }

// ProviderControl drives the provider wherever it runs (faults reach it
// by type assertion, see fault.ProviderBackend).
func (b *Backend) ProviderControl() fakeprovider.Controller { return b.ctl }

// ProviderProgram is the provider as a program of the network, nil when
// it runs in this process.
func (b *Backend) ProviderProgram() *ProviderProgram { return b.pp }

// Network is the regtest network.
func (b *Backend) Network() *regtest.Network { return b.net }

// Link returns a proxied link by name.
func (b *Backend) Link(name string) (harness.Link, error) { return b.links.Link(name) }

// Node returns a node's process controls.
func (b *Backend) Node(name string) (harness.Node, error) {
	if name == harness.ProviderNode {
		if b.pp == nil {
			return nil, fmt.Errorf("node %q: the provider runs in the harness's process on this backend: %w", name, harness.ErrNeedsIsolation)
		}
		return &providerNode{pp: b.pp}, nil
	}
	n := b.net.Node(name)
	if n == nil {
		return nil, fmt.Errorf("node %q: %w", name, ErrUnknownNode)
	}
	return &node{n: n, net: b.net, links: b.links}, nil
}

// CanIsolate reports whether the nodes can be cut from the network as a
// whole: on the containers backend.
func (b *Backend) CanIsolate() bool { return b.net.CanIsolate() }

// ErrUnknownNode: no node by that name in the topology.
var ErrUnknownNode = errors.New("unknown node")

// Mine mines blocks and waits until every running node has synced to
// them, but a node cut from btcd (see Links.Passes), which catches up
// once healed.
func (b *Backend) Mine(ctx context.Context, blocks int) error {
	if _, err := b.net.Chain().Mine(ctx, blocks); err != nil {
		return err
	}
	for _, n := range b.net.Nodes() {
		if !n.Running() || n.Paused() {
			continue
		}
		// A node cut from btcd (its chain link down or swallowing)
		// cannot see the blocks: it catches up once healed.
		if !b.links.Passes(regtest.ChainHop(n.Name())) {
			continue
		}
		if err := n.WaitSynced(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Await blocks until phase p has happened n times.
func (b *Backend) Await(ctx context.Context, p harness.Phase, n int) error {
	return b.phases.await(ctx, p, n)
}

// Count is how many times phase p has happened so far: Await(ctx, p,
// Count(p)+1) waits for the next occurrence.
func (b *Backend) Count(p harness.Phase) int { return b.phases.count(p) }

// Close stops the watchers, the provider, the network and the proxies.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		var errs []error
		if b.ap != nil {
			errs = append(errs, b.ap.Close())
		}
		if b.prov != nil {
			errs = append(errs, b.prov.Close())
		}
		if b.pp != nil {
			errs = append(errs, b.pp.Close())
		}
		if b.rec != nil {
			errs = append(errs, b.rec.Close())
		}
		if b.net != nil {
			errs = append(errs, b.net.Close())
		}
		b.wg.Wait()
		errs = append(errs, b.links.Close())
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}

// node adapts a regtest node to harness.Node. Start and Restart wait for
// the node's channels to carry payments again.
type node struct {
	n     *regtest.Node
	net   *regtest.Network
	links *Links
}

func (n *node) Name() string  { return n.n.Name() }
func (n *node) Kill() error   { return n.n.Kill() }
func (n *node) Pause() error  { return n.n.Pause() }
func (n *node) Resume() error { return n.n.Resume() }

func (n *node) Restart(ctx context.Context) error {
	if !n.links.Passes(regtest.ChainHop(n.n.Name())) {
		return fmt.Errorf("restart %s: %w", n.n.Name(), harness.ErrChainCut)
	}
	if err := n.n.Restart(ctx); err != nil {
		return err
	}
	return n.net.WaitReady(ctx)
}

// Isolate cuts the node from the run's network (containers only; on
// local processes it is harness.ErrNeedsIsolation).
func (n *node) Isolate(ctx context.Context) error {
	err := n.n.Isolate(ctx)
	if errors.Is(err, regtest.ErrNoIsolation) {
		return fmt.Errorf("%w: %w", harness.ErrNeedsIsolation, err)
	}
	return err
}

func (n *node) Start(ctx context.Context) error {
	if n.n.Isolated() {
		if err := n.n.Rejoin(ctx); err != nil {
			return err
		}
	}
	if n.n.Paused() {
		if err := n.n.Resume(); err != nil {
			return err
		}
	}
	if !n.n.Running() {
		if err := n.n.Start(ctx); err != nil {
			return err
		}
	}
	return n.net.WaitReady(ctx)
}

// Drain pays the payee until the payer can spend about keep sats more.
// The commitment fee and in-flight limits make the spendable amount hard
// to compute, so it converges: pay what is above the reserve and keep,
// halve on failure, stop below drainFloor sats.
func (b *Backend) Drain(ctx context.Context, keep int64) error {
	var last error
	paid := false
	amt := int64(-1)
	for range drainSteps {
		if amt < 0 {
			spendable, err := b.spendable(ctx)
			if err != nil {
				return fmt.Errorf("drain: %w", err)
			}
			amt = spendable - keep
		}
		if amt < drainFloor {
			break
		}
		inv, err := b.payee.AddInvoice(ctx, amt, "drain")
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		pay, err := b.payer.Pay(ctx, inv.PaymentRequest)
		if err != nil {
			last = err
			amt /= 2
			continue
		}
		b.drained(pay, hexHash(inv.GetRHash()))
		paid, amt = true, -1
	}
	if !paid && last != nil {
		return fmt.Errorf("drain to %d sat: %w", keep, last)
	}
	return nil
}

// drained keeps a drain payment out of the client's accounts: its
// payment and invoice join the ones from before the run, and the
// balances the truth compares against move with it.
func (b *Backend) drained(pay *lnrpc.Payment, invoiceHash string) {
	b.pays.forget(pay.GetPaymentHash())
	b.invs.forget(invoiceHash)
	value, fee := pay.GetValueMsat(), pay.GetFeeMsat()
	if a, ok := b.before[regtest.Alice]; ok {
		a.LocalMsat, a.RemoteMsat = a.LocalMsat-value-fee, a.RemoteMsat+value
		b.before[regtest.Alice] = a
	}
	if p, ok := b.before[regtest.Bob]; ok {
		p.LocalMsat, p.RemoteMsat = p.LocalMsat+value, p.RemoteMsat-value
		b.before[regtest.Bob] = p
	}
}

// spendable is the payer's local balance above its channel reserves.
func (b *Backend) spendable(ctx context.Context) (int64, error) {
	resp, err := b.payer.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{ActiveOnly: true})
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, c := range resp.GetChannels() {
		sum += c.GetLocalBalance() - int64(c.GetLocalConstraints().GetChanReserveSat())
	}
	return sum, nil
}

// Drain's bounds: at most drainSteps payments; amounts below drainFloor
// sats are left where they are.
const (
	drainSteps = 40
	drainFloor = 10
)

func hexHash(b []byte) string { return hex.EncodeToString(b) }

// observe turns provider notes into phases.
func (b *Backend) observe(n fakeprovider.Note) {
	switch n.Kind {
	case fakeprovider.NoteChallenge:
		b.phases.challenge(n.PaymentHash)
		if n.Hold {
			b.wg.Add(1)
			go b.watchHold(n.PaymentHash)
		}
	case fakeprovider.NoteSideEffect:
		b.phases.occur(harness.SideEffectDone)
	case fakeprovider.NoteDelivery:
		b.phases.occur(harness.Delivered)
	}
}

// watchHold waits for a hold invoice to be accepted (its HTLC held).
func (b *Backend) watchHold(hash string) {
	defer b.wg.Done()
	raw, err := hex.DecodeString(hash)
	if err != nil {
		return
	}
	_ = wait.Until(b.ctx, watchRetry, func(ctx context.Context) error {
		stream, err := b.payee.Invoices().SubscribeSingleInvoice(ctx, &invoicesrpc.SubscribeSingleInvoiceRequest{RHash: raw})
		if err != nil {
			return err
		}
		for {
			inv, err := stream.Recv()
			if err != nil {
				return err
			}
			switch inv.GetState() {
			case lnrpc.Invoice_ACCEPTED:
				b.phases.hit(harness.InvoiceAccepted, hash)
			case lnrpc.Invoice_SETTLED, lnrpc.Invoice_CANCELED:
				return nil
			}
		}
	})
}

// watchPayments follows the payer's payments, resubscribing when the node
// restarts, and catching up on what it missed with ListPayments.
func (b *Backend) watchPayments() {
	defer b.wg.Done()
	_ = wait.Until(b.ctx, watchRetry, func(ctx context.Context) error {
		stream, err := b.payer.Router().TrackPayments(ctx, &routerrpc.TrackPaymentsRequest{})
		if err != nil {
			return err
		}
		ps, err := listPayments(ctx, b.payer.LN(), b.pays)
		if err != nil {
			return err
		}
		for _, p := range ps {
			b.phases.payment(p.GetPaymentHash(), p.GetStatus())
		}
		for {
			p, err := stream.Recv()
			if err != nil {
				return err
			}
			b.phases.payment(p.GetPaymentHash(), p.GetStatus())
		}
	})
}

// watchRetry is how often a broken watcher stream is resubscribed.
const watchRetry = 200 * time.Millisecond

// providerConfig is the provider's configuration for a scenario's
// network: the default, with the network's invoice expiry, token
// lifetime and dialect.
func providerConfig(n harness.Network) fakeprovider.Config {
	cfg := fakeprovider.DefaultConfig()
	if n.InvoiceExpiry > 0 {
		cfg.Profile.InvoiceExpiry = fakeprovider.Duration(n.InvoiceExpiry)
	}
	if n.TokenTTL > 0 {
		for i := range cfg.Services {
			if cfg.Services[i].Pricing == fakeprovider.PerToken {
				cfg.Services[i].TokenTTL = fakeprovider.Duration(n.TokenTTL)
			}
		}
	}
	if h := n.Header; h != nil {
		cfg.Profile.Header = fakeprovider.HeaderStyle{
			Generation: fakeprovider.Generation(h.Generation), LowerScheme: h.LowerScheme, UpperParams: h.UpperParams, ExtraParams: h.ExtraParams,
		}
	}
	if n.InvalidCredential != 0 {
		cfg.Profile.InvalidCredential = n.InvalidCredential
	}
	return cfg
}
