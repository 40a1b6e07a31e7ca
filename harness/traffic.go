package harness

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Service is a provider service the traffic buys from
// (fakeprovider.DefaultConfig's).
type Service string

const (
	// ServiceData is priced per token: GET reads a resource, and one
	// token opens every path of the service for its lifetime.
	ServiceData Service = "data"
	// ServiceOps is priced per request: POST runs an operation with a
	// side effect, once per Idempotency-Key.
	ServiceOps Service = "ops"
)

// Services are the services traffic can name.
func Services() []Service { return []Service{ServiceData, ServiceOps} }

// Valid reports whether s is a known service.
func (s Service) Valid() bool { return s == ServiceData || s == ServiceOps }

// Method is the service's own method: GET for data, POST for ops.
func (s Service) Method() string {
	if s == ServiceOps {
		return "POST"
	}
	return "GET"
}

// Traffic defaults.
const (
	// DefaultMaxCostSat is a purchase's price cap when none is set.
	DefaultMaxCostSat = 1000
	// DefaultClientTimeout is an attempt's own deadline when none is set.
	DefaultClientTimeout = 60 * time.Second
	// DefaultAttempts bounds the runs of a key in a scripted scenario.
	DefaultAttempts = 3
)

// Traffic is one purchase key the client is asked to buy.
type Traffic struct {
	Key string `json:"key"`
	// Service is the provider service: data (priced per token, GET) or
	// ops (priced per request, POST with a side effect).
	Service Service `json:"service"`
	Method  string  `json:"method,omitempty"` // default: the service's own
	Body    string  `json:"body,omitempty"`
	// Resource is the path under the service; default "p/<key>".
	Resource string `json:"resource,omitempty"`
	// Transport is how the client buys: "http" (the default) or "grpc"
	// (one unary call per request, to the method
	// /<service>.L402/<key> of the provider's gRPC face).
	Transport string `json:"transport,omitempty"`
	// MaxCostSat is the client's price cap; default DefaultMaxCostSat.
	MaxCostSat int64 `json:"max_cost_sat,omitempty"`
	// Processes runs that many client processes for the key at once.
	Processes int `json:"processes,omitempty"`
	// Instance is the client instance (state directory) to use.
	Instance int `json:"instance,omitempty"`
	// Concurrent starts this purchase with the previous one instead of
	// after it.
	Concurrent bool `json:"concurrent,omitempty"`
	// Attempts bounds the runs of the key (restarts after a crash or an
	// Info); default DefaultAttempts.
	Attempts int `json:"attempts,omitempty"`
	// ClientTimeout is the client's own deadline; default
	// DefaultClientTimeout.
	ClientTimeout time.Duration `json:"client_timeout,omitempty"`
	// Wait is a pause before the purchase starts: a scenario parameter
	// (let a token expire), not a synchronisation.
	Wait time.Duration `json:"wait,omitempty"`
	// After delays the purchase until a phase has happened that many
	// times (its Count), e.g. a second buyer once the first HTLC is held.
	After *Trigger `json:"after,omitempty"`
	// CrashAt names a crash point inside the client (client.CrashPoints)
	// where the key's first attempt dies; the restarts run without it.
	// The scenario needs a client with crash points
	// (Scenario.NeedsCrashPoints).
	CrashAt string `json:"crash_at,omitempty"`
}

// Trigger is a phase count.
type Trigger struct {
	Phase Phase `json:"phase"`
	Count int   `json:"count"`
}

// Validate checks what the traffic buys.
func (t Traffic) Validate() error {
	if t.Key == "" {
		return fmt.Errorf("traffic without a key")
	}
	if t.CrashAt != "" && (t.Processes > 1 || strings.ContainsAny(t.CrashAt, "=; \t\n")) {
		return fmt.Errorf("key %s: crash point %q: one process, and a name without '=', ';' or blanks", t.Key, t.CrashAt)
	}
	if !t.Service.Valid() {
		return fmt.Errorf("key %s: unknown service %q: want %s or %s", t.Key, t.Service, ServiceData, ServiceOps)
	}
	switch t.Method {
	case "", "GET", "POST":
	default:
		return fmt.Errorf("key %s: method %q: want GET or POST", t.Key, t.Method)
	}
	switch t.Transport {
	case "", TransportHTTP:
	case TransportGRPC:
		if t.Method == "GET" {
			return fmt.Errorf("key %s: a gRPC call is a POST, not a GET", t.Key)
		}
		if strings.ContainsAny(t.Key, "/. ") {
			return fmt.Errorf("key %s: a gRPC purchase's key names its method: no '/', '.' or blank", t.Key)
		}
	default:
		return fmt.Errorf("key %s: transport %q: want %s or %s", t.Key, t.Transport, TransportHTTP, TransportGRPC)
	}
	return nil
}

// Transports.
const (
	TransportHTTP = "http"
	TransportGRPC = "grpc"
)

// grpcMethod is a gRPC purchase's full method: /<service>.L402/<key>.
func (t Traffic) grpcMethod() string { return "/" + string(t.Service) + ".L402/" + t.Key }

// Path is the resource's path at the provider: /<service>/<resource>.
func (t Traffic) Path() string {
	if t.Transport == TransportGRPC {
		// As the provider names a call: the service, then the method.
		return "/" + string(t.Service) + t.grpcMethod()
	}
	res := t.Resource
	if res == "" {
		res = "p/" + t.Key
	}
	return "/" + string(t.Service) + "/" + strings.TrimPrefix(res, "/")
}

// Purchase is the attempt's input for a provider at base: the URL of the
// resource, the method (the service's own by default), a body naming the
// purchase for a POST without one, and the defaults above.
func (t Traffic) Purchase(base *url.URL) Purchase { return t.PurchaseVia(base, "") }

// PurchaseVia is Purchase, with the provider's gRPC face at grpcTarget
// (host:port) for a gRPC purchase: its URL is
// grpc://<grpcTarget>/<service>.L402/<key>, its method POST.
func (t Traffic) PurchaseVia(base *url.URL, grpcTarget string) Purchase {
	u := *base
	u.Path = t.Path()
	method := t.Method
	if method == "" {
		method = t.Service.Method()
	}
	if t.Transport == TransportGRPC {
		u = url.URL{Scheme: TransportGRPC, Host: grpcTarget, Path: t.grpcMethod()}
		method = "POST"
	}
	body := []byte(t.Body)
	if method == "POST" && len(body) == 0 {
		body = []byte(`{"purchase":"` + t.Key + `"}`)
	}
	maxCost := t.MaxCostSat
	if maxCost == 0 {
		maxCost = DefaultMaxCostSat
	}
	timeout := t.ClientTimeout
	if timeout == 0 {
		timeout = DefaultClientTimeout
	}
	return Purchase{Key: t.Key, Method: method, URL: u.String(), Body: body, MaxCostSat: maxCost, Timeout: timeout, Instance: t.Instance}
}

// Planned is the purchase as the checkers read it from the plan.
func (t Traffic) Planned(base *url.URL) history.PlannedPurchase { return t.PlannedVia(base, "") }

// PlannedVia is Planned with the provider's gRPC face at grpcTarget.
func (t Traffic) PlannedVia(base *url.URL, grpcTarget string) history.PlannedPurchase {
	p := t.PurchaseVia(base, grpcTarget)
	return history.PlannedPurchase{
		Key: t.Key, Method: p.Method, URL: p.URL, Path: t.Path(),
		Service: string(t.Service), MaxCostMsat: p.MaxCostSat * 1000, Instance: t.Instance,
	}
}

// Kind is what a generated key buys, named by the key's prefix ("o17" is
// an ops purchase), so that a key alone says what it buys: the property's
// steps and the soak's workload draw keys of these kinds.
type Kind struct {
	Prefix  string
	Service Service
	Method  string // empty: the service's own
}

// Kinds are the kinds of generated keys: a data GET, an ops POST, and a
// POST on the per-token service, where only the Idempotency-Key keeps a
// resent request from running twice.
func Kinds() []Kind {
	return []Kind{
		{"d", ServiceData, ""},
		{"o", ServiceOps, ""},
		{"w", ServiceData, "POST"},
	}
}
