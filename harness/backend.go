package harness

import (
	"context"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

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
	// Truth collects the ground truth after healing. What it could not
	// read is listed in the truth's Errors (and joined in the error); a
	// nil truth means nothing could be read.
	Truth(ctx context.Context, plan history.Plan) (*history.Truth, error)
}

// Clock is an optional Backend ability: a backend with a clock of its
// own (the simulator's virtual one) dates the history by it.
type Clock interface {
	Now() time.Time
}

// Forgetter is an optional Backend ability: dropping what the backend
// holds of purchases judged for good (their records at the provider,
// their payments and invoices from later reads of the truth), by the
// paths they asked for. Session.Retire calls it, so that a long run's
// truth stays the size of what is live.
type Forgetter interface {
	Forget(paths []string)
}

// TruthNower is an optional Backend ability: the ground truth as it
// stands, without first letting HTLCs clear, so that a check between
// steps moves nothing.
type TruthNower interface {
	TruthNow(ctx context.Context, plan history.Plan) (*history.Truth, error)
}

// Link names. Each is one toxiproxy proxy (or a pair, for a p2p link).
const (
	// LinkProvider: client -> provider HTTP (its gRPC face in a gRPC
	// network).
	LinkProvider = "client-provider"
	// LinkProviderGRPC: client -> provider gRPC (gRPC purchases in an
	// HTTP network).
	LinkProviderGRPC = "client-provider-grpc"
	// LinkProviderHTTP: client -> provider HTTP in a gRPC network
	// (Network.Transport "grpc"), where client-provider carries the
	// gRPC face.
	LinkProviderHTTP = "client-provider-http"
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

// ProviderNode is the name Environment.Node gives the provider, on a
// backend that runs it as a program of its own (the containers
// backend): faults pause or isolate it as they do a node. A provider
// in the harness's process is no node.
const ProviderNode = "provider"

// Isolator is an optional Node ability: cutting the node from the
// network as a whole, as a real partition does (the containers backend
// disconnects its container from the run's network). Node.Start heals
// it.
type Isolator interface {
	Isolate(ctx context.Context) error
}

// Isolating is an optional Environment ability: reporting whether its
// nodes can be isolated (see Isolator, Scenario.NeedsIsolation).
type Isolating interface {
	CanIsolate() bool
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
