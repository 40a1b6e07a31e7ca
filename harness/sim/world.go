package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"

	"net/url"
	"os"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/lightningnetwork/lnd/zpay32"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
)

// ErrUnsupported is a fault the model does not have.
var ErrUnsupported = errors.New("not modelled by the simulator")

// Host is the provider's address inside a simulation.
const Host = "provider.sim"

// Config sets up a World.
type Config struct {
	// Seed seeds every choice the model makes.
	Seed uint64
	// Buy runs one purchase attempt of the client under test. Required:
	// ClientBuyer gives the reference client ("") or a mutant of
	// client/mutant by name.
	Buy Buyer
	// StateDir holds the client's journals; default a temporary
	// directory that Close removes (under /dev/shm when there is one: the
	// journal syncs at every step).
	StateDir string
	// Provider is the provider's configuration; default
	// fakeprovider.DefaultConfig.
	Provider *fakeprovider.Config
	Log      *slog.Logger
}

// Buyer runs one purchase attempt on a rig, as `chaos client` does.
type Buyer func(ctx context.Context, r Rig) (*client.Outcome, error)

// Rig is what a purchase attempt runs on: the mutants' own, so that the
// reference client and every mutant run on the simulator unchanged.
type Rig = mutant.Rig

// World is one simulation: the model, the provider, the client. It
// implements property.World and harness.Backend. It is not safe for
// concurrent use.
type World struct {
	cfg      Config
	log      *slog.Logger
	rnd      *rand.Rand
	clock    clock
	ln       *lightning
	nodes    map[string]*node
	links    map[string]*link
	waiters  []func()
	phases   map[harness.Phase]int
	cur      *proc
	procCtx  context.Context
	prov     *fakeprovider.Provider
	provCfg  fakeprovider.Config
	base     *url.URL
	dir      string
	ownDir   bool
	payeeKey *btcec.PrivateKey
	// payerEpoch counts the client's connections to its node: a cut
	// link or a restart ends every stream of the one before.
	payerEpoch int
	before     map[string]history.Balance
	started    time.Time
	closed     bool
	// decoded caches zpay32 decodes by invoice string.
	decoded map[string]*zpay32.Invoice
	// lastEnd is when the last attempt ended.
	lastEnd time.Time
}

// node is an LND node's process.
type node struct {
	w    *World
	name string
	up   bool
}

func (n *node) Name() string { return n.name }

func (n *node) set(up bool) {
	if n.up == up {
		return
	}
	n.up = up
	if n.name == "alice" {
		n.w.payerEpoch++
	}
	n.w.ln.linkChanged()
}

func (n *node) Kill() error                     { n.set(false); return nil }
func (n *node) Pause() error                    { n.set(false); return nil }
func (n *node) Resume() error                   { n.set(true); return nil }
func (n *node) Start(ctx context.Context) error { n.set(true); return ctx.Err() }

// Restart breaks every connection to the node; it is back at once (a
// step never overlaps a restart). As on live networks, a node whose
// chain link is cut is not restarted (harness.ErrChainCut).
func (n *node) Restart(ctx context.Context) error {
	if !n.w.links[chainLink[n.name]].up {
		return fmt.Errorf("restart %s: %w", n.name, harness.ErrChainCut)
	}
	if n.name == "alice" {
		n.w.payerEpoch++
	}
	n.up = true
	n.w.ln.linkChanged()
	return ctx.Err()
}

// chainLink is each node's link to btcd.
var chainLink = map[string]string{"alice": harness.LinkPayerChain, "bob": harness.LinkPayeeChain}

// link is a modelled network hop, with the toxics the model reads.
type link struct {
	w         *World
	name      string
	up        bool
	delay     time.Duration // downstream latency
	blackhole bool          // timeout toxic: answers never come
	reset     bool          // reset_peer toxic
}

func (l *link) Name() string { return l.name }

// AddToxic applies a toxic: latency, timeout and reset_peer are
// modelled.
func (l *link) AddToxic(ctx context.Context, t harness.Toxic) (harness.Heal, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var undo func()
	switch t.Type {
	case "latency":
		d := time.Duration(toInt(t.Attributes["latency"])) * time.Millisecond
		l.delay += d
		undo = func() { l.delay -= d }
	case "timeout":
		l.blackhole = true
		undo = func() { l.blackhole = false }
	case "reset_peer":
		l.reset = true
		undo = func() { l.reset = false }
	default:
		return nil, fmt.Errorf("toxic %s on %s: %w", t.Type, l.name, ErrUnsupported)
	}
	var done bool
	return func(context.Context) error {
		if !done {
			done = true
			undo()
		}
		return nil
	}, nil
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// SetEnabled cuts the link or brings it back.
func (l *link) SetEnabled(ctx context.Context, up bool) error {
	if l.up != up {
		l.up = up
		if l.name == harness.LinkPayer {
			l.w.payerEpoch++
		}
		l.w.ln.linkChanged()
	}
	return ctx.Err()
}

// New starts a simulation.
func New(cfg Config) (*World, error) {
	if cfg.Buy == nil {
		return nil, errors.New("new simulation: no Buyer")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &World{
		cfg: cfg, log: log, rnd: rand.New(rand.NewPCG(cfg.Seed, 0x6c343032)),
		clock:  clock{now: Epoch},
		phases: map[harness.Phase]int{}, nodes: map[string]*node{}, links: map[string]*link{},
		payeeKey: nodeKey(cfg.Seed, "bob"), dir: cfg.StateDir, decoded: map[string]*zpay32.Invoice{},
	}
	w.started = w.clock.now
	w.ln = newLightning(w)
	for _, n := range []string{"alice", "bob"} {
		w.nodes[n] = &node{w: w, name: n, up: true}
	}
	for _, n := range []string{harness.LinkProvider, harness.LinkPayer, harness.LinkPeers, harness.LinkPayerChain, harness.LinkPayeeChain} {
		w.links[n] = &link{w: w, name: n, up: true}
	}
	if w.dir == "" {
		root := ""
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			root = "/dev/shm"
		}
		dir, err := os.MkdirTemp(root, "l402chaos-sim-")
		if err != nil {
			return nil, fmt.Errorf("new simulation: %w", err)
		}
		w.dir, w.ownDir = dir, true
	}
	w.provCfg = fakeprovider.DefaultConfig()
	if cfg.Provider != nil {
		w.provCfg = *cfg.Provider
	}
	prov, err := fakeprovider.New(payee{w}, w.provCfg,
		fakeprovider.WithRand(providerRand(cfg.Seed)),
		fakeprovider.WithClock(func() time.Time { return w.clock.now }),
		fakeprovider.WithObserver(w.observe), fakeprovider.WithLogger(log.With("component", "provider")))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("new simulation: %w", err)
	}
	w.prov = prov
	w.base = &url.URL{Scheme: "http", Host: Host}
	w.before = w.balances()
	return w, nil
}

func (w *World) observe(n fakeprovider.Note) {
	switch n.Kind {
	case fakeprovider.NoteChallenge:
		w.phase(harness.ChallengeIssued)
	case fakeprovider.NoteSideEffect:
		w.phase(harness.SideEffectDone)
	case fakeprovider.NoteDelivery:
		w.phase(harness.Delivered)
	}
}

func (w *World) balances() map[string]history.Balance {
	return map[string]history.Balance{
		"alice": {LocalMsat: w.ln.local, RemoteMsat: w.ln.remote},
		"bob":   {LocalMsat: w.ln.remote, RemoteMsat: w.ln.local},
	}
}

// Close stops the provider and removes the journals the world made.
func (w *World) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.prov != nil {
		errs = append(errs, w.prov.Close())
	}
	if w.ownDir {
		errs = append(errs, os.RemoveAll(w.dir))
	}
	return errors.Join(errs...)
}

// Now is the virtual clock.
func (w *World) Now() time.Time { return w.clock.now }

// BaseURL is the provider's URL inside the simulation.
func (w *World) BaseURL() *url.URL { u := *w.base; return &u }

// Backend is the world itself.
func (w *World) Backend() harness.Backend { return w }

// Client is the client under test, as faults see it (it can be killed
// only through crash steps).
func (w *World) Client() harness.Client { return simClient{w} }

// Provider is the provider.
func (w *World) Provider() *fakeprovider.Provider { return w.prov }

// ProviderControl is the provider as the knob and invoice faults drive
// it.
func (w *World) ProviderControl() fakeprovider.Controller { return w.prov.Controller() }

// Link returns a modelled link.
func (w *World) Link(name string) (harness.Link, error) {
	l, ok := w.links[name]
	if !ok {
		return nil, fmt.Errorf("link %q: %w", name, ErrUnsupported)
	}
	return l, nil
}

// Node returns a modelled node: alice (the payer) or bob (the payee).
func (w *World) Node(name string) (harness.Node, error) {
	n, ok := w.nodes[name]
	if !ok {
		return nil, fmt.Errorf("node %q: %w", name, ErrUnsupported)
	}
	return n, nil
}

// Mine adds blocks; held HTLCs near their expiry are failed back.
func (w *World) Mine(ctx context.Context, blocks int) error {
	if blocks < 1 {
		return fmt.Errorf("mine %d blocks: want at least 1", blocks)
	}
	w.ln.mine(blocks)
	w.settleEvents()
	return ctx.Err()
}

// Await reports whether phase p has happened n times. The simulator is
// single-threaded: nothing can happen while a caller waits, so it never
// blocks.
func (w *World) Await(ctx context.Context, p harness.Phase, n int) error {
	if w.phases[p] >= n {
		return nil
	}
	return fmt.Errorf("await %s #%d: seen %d: %w", p, n, w.phases[p], ErrUnsupported)
}

// Drain leaves the payer keepSat spendable: the rest moves to the payee.
func (w *World) Drain(ctx context.Context, keepSat int64) error {
	keep := keepSat * 1000
	if moved := w.ln.local - keep; moved > 0 {
		// Paid away outside the client's purchases: the balances the
		// truth compares against move with it, as the live drain's
		// payments are not the client's.
		w.ln.remote += moved
		w.ln.local = keep
		a, b := w.before["alice"], w.before["bob"]
		a.LocalMsat, a.RemoteMsat = a.LocalMsat-moved, a.RemoteMsat+moved
		b.LocalMsat, b.RemoteMsat = b.LocalMsat+moved, b.RemoteMsat-moved
		w.before["alice"], w.before["bob"] = a, b
	}
	return ctx.Err()
}

// Pass lets d pass on the virtual clock, running what falls due.
func (w *World) Pass(ctx context.Context, d time.Duration) error {
	w.clock.runUntil(w.clock.now.Add(d))
	return ctx.Err()
}

// settleEvents runs what is due now (messages in flight take hopDelay):
// a step's effects land before the next step, as they would on a real
// network before its next action.
func (w *World) settleEvents() {
	w.clock.runUntil(w.clock.now.Add(time.Second))
}

// providerRand is the provider's random source in a world of seed: its
// root keys and hold preimages replay with the seed.
func providerRand(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	copy(key[:], "l402chaos provider randomness..")
	binary.LittleEndian.PutUint64(key[:8], seed)
	return rand.NewChaCha8(key)
}
