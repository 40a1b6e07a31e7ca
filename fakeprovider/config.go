package fakeprovider

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"
)

// Duration is a time.Duration written as "1.5s" in JSON (a bare number is
// read as seconds).
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "2s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "2s", "150ms" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil {
			return fmt.Errorf("duration: want a string like \"2s\" or seconds, got %s", b)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Pricing is how a service charges.
type Pricing string

const (
	// PerToken: a paid token opens every path of its service until it
	// expires or is revoked.
	PerToken Pricing = "token"
	// PerRequest: a paid token buys one request (one purchase: replays
	// under the same Idempotency-Key reuse it).
	PerRequest Pricing = "request"
)

// Service is one priced service, served under /<name>/.
type Service struct {
	Name     string  `json:"name"`
	PriceSat int64   `json:"price_sat"`
	Pricing  Pricing `json:"pricing"`
	// TokenTTL, when set, puts a "<name>_valid_until" caveat on tokens.
	TokenTTL Duration `json:"token_ttl,omitempty"`
}

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks a service definition.
func (s Service) Validate() error {
	if !serviceName.MatchString(s.Name) {
		return fmt.Errorf("%w: service name %q: want lowercase letters, digits and dashes", ErrInvalidConfig, s.Name)
	}
	if s.PriceSat <= 0 {
		return fmt.Errorf("%w: service %s: price_sat must be positive", ErrInvalidConfig, s.Name)
	}
	if s.Pricing != PerToken && s.Pricing != PerRequest {
		return fmt.Errorf("%w: service %s: pricing %q: want %q or %q", ErrInvalidConfig, s.Name, s.Pricing, PerToken, PerRequest)
	}
	if s.TokenTTL < 0 {
		return fmt.Errorf("%w: service %s: negative token_ttl", ErrInvalidConfig, s.Name)
	}
	return nil
}

// Profile is how the provider speaks L402. A correct provider may make
// either choice; clients must cope with both.
type Profile struct {
	Header HeaderStyle `json:"header"`
	// InvalidCredential is the status for a credential that does not
	// verify: 401, or 402 with a fresh challenge.
	InvalidCredential int `json:"invalid_credential"`
	// InvoiceExpiry is the expiry of challenge invoices.
	InvoiceExpiry Duration `json:"invoice_expiry"`
}

// DefaultProfile speaks the current specification, answers 402 with a
// fresh challenge to bad credentials, and mints ten-minute invoices.
func DefaultProfile() Profile {
	return Profile{
		Header:            HeaderStyle{Generation: GenL402},
		InvalidCredential: 402,
		InvoiceExpiry:     Duration(10 * time.Minute),
	}
}

// Validate checks a profile.
func (p Profile) Validate() error {
	if err := p.Header.Validate(); err != nil {
		return err
	}
	if p.InvalidCredential != 401 && p.InvalidCredential != 402 {
		return fmt.Errorf("%w: invalid_credential %d: want 401 or 402", ErrInvalidConfig, p.InvalidCredential)
	}
	if p.InvoiceExpiry < Duration(time.Second) {
		return fmt.Errorf("%w: invoice_expiry %s: want at least 1s", ErrInvalidConfig, time.Duration(p.InvoiceExpiry))
	}
	return nil
}

// Config is a provider's whole configuration, loadable from JSON.
type Config struct {
	Services []Service `json:"services"`
	Profile  Profile   `json:"profile"`
	// Backend puts the provider behind an L402 proxy (Aperture): it sells
	// nothing and checks no credential (the proxy did both), and serves
	// every request as paid, recording the credential passed on. Its
	// gRPC port then serves TLS, gRPC and HTTP alike, as a proxy reaches
	// a gRPC backend over HTTP/2. Knobs that act on requests still
	// apply; those about challenges and tokens have nothing to act on.
	Backend bool `json:"backend,omitempty"`
}

// DefaultConfig has two services: "data" sold per token (one hour) and
// "ops" sold per request.
func DefaultConfig() Config {
	return Config{
		Services: []Service{
			{Name: "data", PriceSat: 100, Pricing: PerToken, TokenTTL: Duration(time.Hour)},
			{Name: "ops", PriceSat: 250, Pricing: PerRequest},
		},
		Profile: DefaultProfile(),
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Services) == 0 {
		return fmt.Errorf("%w: no services", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		if err := s.Validate(); err != nil {
			return err
		}
		if seen[s.Name] {
			return fmt.Errorf("%w: service %s defined twice", ErrInvalidConfig, s.Name)
		}
		seen[s.Name] = true
	}
	return c.Profile.Validate()
}

// LoadConfig reads a JSON configuration file. Unknown fields are errors,
// so a typo does not silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	defer f.Close()
	cfg := Config{Profile: DefaultProfile()}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
