package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/regtest"
)

// ApertureFront is real Aperture selling the fake provider's services:
// Aperture on the payee's LND mints the challenges and checks the
// credentials; the provider, in backend mode behind it, serves the
// requests and keeps the ledger of deliveries and side effects.
//
//	client ─HTTP or h2c gRPC─▶ Aperture (bob's LND) ─TLS, HTTP/2─▶ provider backend
type ApertureFront struct {
	Aperture *regtest.ApertureProcess
	// Backend is the provider behind Aperture, in this process.
	Backend *fakeprovider.Provider
}

// StartApertureFront builds (or finds in the cache) Aperture, starts the
// provider with cfg in backend mode on the payee's LND, and Aperture in
// front of it, one Aperture service per provider service: /<name>/...
// for HTTP and /<name>.<Service>/<Method> for gRPC, at the service's
// price, the per-token lifetime as Aperture's timeout caveat. It runs on
// the process backend.
func StartApertureFront(ctx context.Context, n *regtest.Network, cfg fakeprovider.Config, log *slog.Logger, opts ...fakeprovider.Option) (*ApertureFront, error) {
	if n.Runtime().Name() != (regtest.Processes{}).Name() {
		return nil, fmt.Errorf("%w: aperture runs on the process backend (this network is on %s)", regtest.ErrInvalidConfig, n.Runtime().Name())
	}
	bin, version, err := regtest.EnsureAperture(ctx)
	if err != nil {
		return nil, err
	}
	cfg.Backend = true
	payee := n.Node(regtest.Bob)
	backend, err := fakeprovider.Start(ctx, fakeprovider.NewLND(payee.LN(), payee.Invoices()), cfg,
		append([]fakeprovider.Option{fakeprovider.WithLogger(log.With("component", "provider"))}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("start the provider behind aperture: %w", err)
	}
	start := time.Now()
	ap, err := regtest.StartAperture(ctx, n, bin, version, apertureConfig(payee, cfg, backend.GRPCAddr()))
	if err != nil {
		backend.Close()
		return nil, err
	}
	log.Info("aperture up", "version", version, "url", ap.URL(), "took", time.Since(start).Round(time.Millisecond), "log", ap.LogPath())
	return &ApertureFront{Aperture: ap, Backend: backend}, nil
}

// URL is where HTTP clients buy: Aperture.
func (f *ApertureFront) URL() string { return f.Aperture.URL() }

// GRPCAddr is where gRPC clients buy (plaintext HTTP/2): Aperture's
// listener too.
func (f *ApertureFront) GRPCAddr() string { return f.Aperture.Endpoint.Host }

// Close stops Aperture (removing its database and keys) and the backend.
func (f *ApertureFront) Close() error {
	return errors.Join(f.Aperture.Close(), f.Backend.Close())
}

// apertureConfig sells cfg's services from payee's LND, one Aperture
// service per provider service at its price, proxied to the provider's
// backend listener; a per-token lifetime becomes Aperture's timeout caveat.
func apertureConfig(payee *regtest.Node, cfg fakeprovider.Config, backend string) regtest.ApertureConfig {
	acfg := regtest.ApertureConfig{
		LNDHost: payee.RPCAddr(), LNDTLSCert: payee.TLSCertPath(), LNDMacaroonDir: filepath.Dir(payee.AdminMacaroonPath()),
	}
	for _, s := range cfg.Services {
		acfg.Services = append(acfg.Services, regtest.ApertureService{
			Name:       s.Name,
			PathRegexp: "^/" + regexp.QuoteMeta(s.Name) + "[/.]",
			Backend:    backend, Protocol: "https",
			PriceSat:   s.PriceSat,
			TimeoutSec: int64((time.Duration(s.TokenTTL) + time.Second - 1) / time.Second),
		})
	}
	return acfg
}

// StartAperture is a harness.StartFunc on local processes with real
// Aperture selling the provider's services: the client's HTTP and gRPC
// calls go through client-provider to the provider's face, which forwards
// each to Aperture and records it with the challenge Aperture answered
// (fakeprovider.Provider.SetFront); Aperture, on the payee's LND, calls the
// provider's backend listener. Networks that need what only the fake
// provider does (its challenge dialects, an invoice expiry of its own)
// are refused with ErrNotApplicable.
func StartAperture(ctx context.Context, n harness.Network, log *slog.Logger) (harness.Environment, error) {
	if n.Header != nil && n.Header.Generation != string(fakeprovider.GenAperture) {
		return nil, fmt.Errorf("%w: real Aperture writes its own challenges (%s), not %s", ErrNotApplicable, fakeprovider.GenAperture, n.Header.Generation)
	}
	if n.InvalidCredential == 401 {
		return nil, fmt.Errorf("%w: real Aperture answers a bad credential with a new challenge, not 401", ErrNotApplicable)
	}
	if n.InvoiceExpiry != 0 {
		return nil, fmt.Errorf("%w: real Aperture's invoices have an expiry of their own", ErrNotApplicable)
	}
	b, err := startWith(ctx, n, log, regtest.Processes{}, true)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// ErrNotApplicable: the network asks for something the chosen provider
// cannot do.
var ErrNotApplicable = errors.New("not applicable")
