package harness

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Scenario is one scripted test: a network, faults, traffic, the checkers
// that judge it and the coverage it must reach. Scenarios are a table
// (scenarios.All), not a registry.
type Scenario struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Network     Network `json:"network"`
	// Setup faults are in place before the traffic starts (a knob armed,
	// a link already down); they heal at the end like the others.
	Setup []Fault `json:"setup,omitempty"`
	// Faults start with the traffic, each in its own goroutine; wrappers
	// (fault.After, fault.For) decide when they fire and heal.
	Faults  []Fault   `json:"faults"`
	Traffic []Traffic `json:"traffic"`
	// Checkers judge the run; nil means check.All().
	Checkers []check.Checker `json:"-"`
	// Coverage lists the dangerous moments the run must reach: a run that
	// did not reach them proves nothing, and says so.
	Coverage []Coverage `json:"coverage"`
	// Timeout bounds the traffic; 0 means DefaultTimeout.
	Timeout time.Duration `json:"timeout"`
	// Vary, when set, is the scenario's seeded variation: the runner
	// calls it with a source seeded by the run's seed, before anything
	// starts, to draw the scenario's parameters within what keeps its
	// coverage (how long after its phase a fault fires, how long it
	// lasts, latencies, Retry-After values). It changes sc, copying what
	// it changes (the catalogue's values are shared), and says what it
	// drew, for the run's record. The same seed draws the same scenario.
	Vary func(r *rand.Rand, sc *Scenario) []string `json:"-"`
	// NeedsKiller marks scenarios that kill the client: they need a
	// Client that implements Killer.
	NeedsKiller bool `json:"needs_killer,omitempty"`
	// NeedsCrashPoints marks scenarios that make the client die at a
	// named point inside it (Traffic.CrashAt): they need a client with
	// crash points (the reference client; a client whose descriptor
	// declares crash-points). Black-box clients get the phase-triggered
	// kills of the crash-* scenarios instead.
	NeedsCrashPoints bool `json:"needs_crash_points,omitempty"`
	// NeedsIsolation marks scenarios that cut a node from the network
	// as a whole or freeze the provider: they need a backend whose nodes
	// are Isolators and whose provider is a program of its own (the
	// containers backend); elsewhere they do not apply.
	NeedsIsolation bool `json:"needs_isolation,omitempty"`
}

// DefaultTimeout bounds a scenario's traffic.
const DefaultTimeout = 3 * time.Minute

// Network is what the backend starts for a scenario.
type Network struct {
	// Topology is "direct" (alice -> bob, the default) or "routed"
	// (alice -> carol -> bob).
	Topology string `json:"topology,omitempty"`
	// InvoiceExpiry overrides the provider's invoice expiry.
	InvoiceExpiry time.Duration `json:"invoice_expiry,omitempty"`
	// TokenTTL overrides the per-token service's token lifetime.
	TokenTTL time.Duration `json:"token_ttl,omitempty"`
	// Header, when set, is how the provider writes its challenges: a
	// dialect of L402 (header generation, scheme case, unknown
	// parameters) that certification runs scenarios under. The backend
	// checks it (fakeprovider.HeaderStyle has the same fields).
	Header *Header `json:"header,omitempty"`
	// InvalidCredential, when set, is the provider's status for a
	// credential that does not verify: 401, or 402 with a fresh challenge
	// (the default).
	InvalidCredential int `json:"invalid_credential,omitempty"`
	// Transport, when "grpc", says the client buys over the provider's
	// gRPC face: the client-provider link then carries that face (so
	// the faults a scenario puts on client-provider reach the client's
	// calls), and the HTTP face is reached directly.
	Transport string `json:"transport,omitempty"`
}

// Header is how a provider writes its L402 challenges, as data: the
// fields of fakeprovider.HeaderStyle (this package does not link the
// provider).
type Header struct {
	// Generation is l402, l402-legacy, lsat or aperture.
	Generation  string `json:"generation"`
	LowerScheme bool   `json:"lower_scheme,omitempty"`
	UpperParams bool   `json:"upper_params,omitempty"`
	ExtraParams bool   `json:"extra_params,omitempty"`
}

// Validate checks a network's shape; the backend checks the provider's
// side of it when it configures the provider.
func (n Network) Validate() error {
	switch n.Topology {
	case "", "direct", "routed":
	default:
		return fmt.Errorf("unknown topology %q", n.Topology)
	}
	if n.Header != nil && n.Header.Generation == "" {
		return fmt.Errorf("header without a generation")
	}
	switch n.InvalidCredential {
	case 0, 401, 402:
	default:
		return fmt.Errorf("invalid_credential %d: want 401 or 402", n.InvalidCredential)
	}
	switch n.Transport {
	case "", TransportHTTP, TransportGRPC:
	default:
		return fmt.Errorf("transport %q: want %s or %s", n.Transport, TransportHTTP, TransportGRPC)
	}
	return nil
}

// Coverage is a dangerous moment a scenario must reach.
type Coverage struct {
	Name    string                                         `json:"name"`
	Reached func(h history.History, t *history.Truth) bool `json:"-"`
}

// Endpoints is how a client reaches the system, through the proxied links.
type Endpoints struct {
	ProviderURL string `json:"provider_url"`
	// ProviderGRPC is the provider's gRPC face (host:port, plaintext).
	ProviderGRPC string `json:"provider_grpc,omitempty"`
	// The payer LND, as the client sees it (LND_RPCSERVER and friends).
	PayerRPC      string `json:"payer_rpc"`
	PayerTLSCert  string `json:"payer_tls_cert"`
	PayerMacaroon string `json:"payer_macaroon"`
}

// Environment is a started backend for one scenario run.
type Environment interface {
	Backend
	Endpoints() Endpoints
	Close() error
}

// StartFunc starts a backend for a scenario's network.
type StartFunc func(ctx context.Context, n Network, log *slog.Logger) (Environment, error)

// ClientFunc makes the client under test for a started backend. dir is a
// directory for its state, removed after the run.
type ClientFunc func(ctx context.Context, e Endpoints, dir string) (Client, error)

// Validate checks a scenario's shape before anything starts.
func (s Scenario) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("scenario without a name")
	}
	if len(s.Traffic) == 0 {
		return fmt.Errorf("scenario %s: no traffic", s.Name)
	}
	seen := map[string]bool{}
	for _, t := range s.Traffic {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		if seen[t.Key] && !t.Concurrent {
			return fmt.Errorf("scenario %s: key %s twice", s.Name, t.Key)
		}
		seen[t.Key] = true
	}
	if err := s.Network.Validate(); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return nil
}
