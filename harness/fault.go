package harness

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Heal undoes a fault. It is idempotent: the runner heals everything at
// the end, whether or not the fault healed itself before.
type Heal func(ctx context.Context) error

// Fault is one thing the nemesis does. Faults are data: their parameter
// structs are also their JSON form, written into reports.
type Fault interface {
	// Name is the fault's kind and target, for the history:
	// "latency client-provider 2s".
	Name() string
	// Inject applies the fault and returns how to undo it. It returns
	// once the fault is in place; a fault that waits for a trigger does so
	// inside Inject.
	Inject(ctx context.Context, env *Env) (Heal, error)
}

// Env is what a fault acts on.
type Env struct {
	Backend Backend
	Client  Client
	// Rand is the run's random source, seeded from the run's seed. Faults
	// that choose anything choose from it.
	Rand *rand.Rand
	Log  *slog.Logger
	// Record appends a nemesis event to the history (wrappers use it to
	// mark when a fault really started and stopped).
	Record func(history.Event) history.Event
}

// Backend is the system around the client: the network, the nodes, the
// chain, the provider. The live implementation is in harness/live.
type Backend interface {
	// Link returns a network link by name (see the Link* constants).
	Link(name string) (Link, error)
	// Node returns an LND node by name ("alice", "bob", "carol").
	Node(name string) (Node, error)
	// Mine mines blocks and waits until every running node has seen them.
	Mine(ctx context.Context, blocks int) error
	// Await blocks until phase p has happened at least n times since the
	// run began.
	Await(ctx context.Context, p Phase, n int) error
	// Truth collects the ground truth after healing.
	Truth(ctx context.Context, plan history.Plan) (*history.Truth, error)
}

// Link names. Each is one toxiproxy proxy (or a pair, for a p2p link).
const (
	// LinkProvider: client -> provider HTTP.
	LinkProvider = "client-provider"
	// LinkPayer: client -> its LND's gRPC.
	LinkPayer = "client-lnd"
	// LinkPeers: payer LND <-> the next LND on the route (p2p).
	LinkPeers = "lnd-lnd"
	// LinkPayerChain and LinkPayeeChain: an LND -> btcd RPC.
	LinkPayerChain = "payer-btcd"
	LinkPayeeChain = "payee-btcd"
)

// Stream is a direction on a link.
type Stream string

const (
	Upstream   Stream = "upstream"   // towards the server
	Downstream Stream = "downstream" // towards the caller
)

// Toxic is a toxiproxy toxic: its type ("latency", "timeout",
// "reset_peer", "limit_data", "bandwidth", "slicer", "slow_close"), the
// stream it acts on and its attributes as toxiproxy names them. Toxicity
// is always 1: the harness, not toxiproxy, decides when a fault fires.
type Toxic struct {
	Type       string         `json:"type"`
	Stream     Stream         `json:"stream"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Link is a proxied network hop.
type Link interface {
	Name() string
	// AddToxic adds a toxic and returns its removal. Both are bounded by
	// ctx: removing a toxic under traffic can hang in toxiproxy.
	AddToxic(ctx context.Context, t Toxic) (Heal, error)
	// SetEnabled takes the link down (closing every connection through
	// it and refusing new ones) or brings it back.
	SetEnabled(ctx context.Context, up bool) error
}

// Node is an LND node's process.
type Node interface {
	Name() string
	Kill() error
	Pause() error
	Resume() error
	// Restart stops the node (gracefully) and starts it again, waiting
	// until it is ready.
	Restart(ctx context.Context) error
	// Start starts a killed or stopped node and waits until it is ready.
	Start(ctx context.Context) error
}

// Phase is a moment of a payment that a fault can wait for.
type Phase string

const (
	// ChallengeIssued: the provider answered 402 with an invoice.
	ChallengeIssued Phase = "challenge-issued"
	// PaymentInFlight: a payment of the client is IN_FLIGHT on its LND.
	PaymentInFlight Phase = "payment-in-flight"
	// InvoiceAccepted: a hold invoice of the provider is ACCEPTED: the
	// HTLC is held at the payee.
	InvoiceAccepted Phase = "invoice-accepted"
	// PreimageReceived: a payment of the client SUCCEEDED on its LND; the
	// preimage is known to the client's node.
	PreimageReceived Phase = "preimage-received"
	// SideEffectDone: the provider executed a POST's side effect.
	SideEffectDone Phase = "side-effect-done"
	// Delivered: the provider wrote a paid answer in full.
	Delivered Phase = "delivered"
)

// Timeouts for the runner, in one place.
const (
	// healTimeout bounds one Heal.
	healTimeout = 30 * time.Second
	// truthTimeout bounds collecting the ground truth.
	truthTimeout = 60 * time.Second
)
