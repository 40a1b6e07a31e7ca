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
	acfg := regtest.ApertureConfig{
		LNDHost: payee.RPCAddr(), LNDTLSCert: payee.TLSCertPath(), LNDMacaroonDir: filepath.Dir(payee.AdminMacaroonPath()),
	}
	for _, s := range cfg.Services {
		acfg.Services = append(acfg.Services, regtest.ApertureService{
			Name:       s.Name,
			PathRegexp: "^/" + regexp.QuoteMeta(s.Name) + "[/.]",
			Backend:    backend.GRPCAddr(), Protocol: "https",
			PriceSat:   s.PriceSat,
			TimeoutSec: int64(time.Duration(s.TokenTTL) / time.Second),
		})
	}
	start := time.Now()
	ap, err := regtest.StartAperture(ctx, n, bin, version, acfg)
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
