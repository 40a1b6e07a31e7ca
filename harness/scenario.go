package harness

import (
	"context"
	"fmt"
	"log/slog"
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
	// NeedsKiller marks scenarios that kill the client: they need a
	// Client that implements Killer.
	NeedsKiller bool `json:"needs_killer,omitempty"`
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
}

// Traffic is one purchase key the client is asked to buy.
type Traffic struct {
	Key string `json:"key"`
	// Service is the provider service: "data" (priced per token, GET) or
	// "ops" (priced per request, POST with a side effect).
	Service string `json:"service"`
	Method  string `json:"method,omitempty"` // default: GET for data, POST for ops
	Body    string `json:"body,omitempty"`
	// Resource is the path under the service; default "p/<key>".
	Resource string `json:"resource,omitempty"`
	// MaxCostSat is the client's price cap; default 1000.
	MaxCostSat int64 `json:"max_cost_sat,omitempty"`
	// Processes runs that many client processes for the key at once.
	Processes int `json:"processes,omitempty"`
	// Instance is the client instance (state directory) to use.
	Instance int `json:"instance,omitempty"`
	// Concurrent starts this purchase with the previous one instead of
	// after it.
	Concurrent bool `json:"concurrent,omitempty"`
	// Attempts bounds the runs of the key (restarts after a crash or an
	// Info); default 3.
	Attempts int `json:"attempts,omitempty"`
	// ClientTimeout is the client's own deadline; default 60s.
	ClientTimeout time.Duration `json:"client_timeout,omitempty"`
	// Wait is a pause before the purchase starts: a scenario parameter
	// (let a token expire), not a synchronisation.
	Wait time.Duration `json:"wait,omitempty"`
	// After delays the purchase until a phase has happened that many
	// times (its Count), e.g. a second buyer once the first HTLC is held.
	After *Trigger `json:"after,omitempty"`
}

// Trigger is a phase count.
type Trigger struct {
	Phase Phase `json:"phase"`
	Count int   `json:"count"`
}

// Coverage is a dangerous moment a scenario must reach.
type Coverage struct {
	Name    string                                         `json:"name"`
	Reached func(h history.History, t *history.Truth) bool `json:"-"`
}

// Endpoints is how a client reaches the system, through the proxied links.
type Endpoints struct {
	ProviderURL string `json:"provider_url"`
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
		if t.Key == "" {
			return fmt.Errorf("scenario %s: traffic without a key", s.Name)
		}
		if seen[t.Key] && !t.Concurrent {
			return fmt.Errorf("scenario %s: key %s twice", s.Name, t.Key)
		}
		seen[t.Key] = true
		switch t.Service {
		case "data", "ops":
		default:
			return fmt.Errorf("scenario %s: key %s: unknown service %q", s.Name, t.Key, t.Service)
		}
	}
	switch s.Network.Topology {
	case "", "direct", "routed":
	default:
		return fmt.Errorf("scenario %s: unknown topology %q", s.Name, s.Network.Topology)
	}
	return nil
}
