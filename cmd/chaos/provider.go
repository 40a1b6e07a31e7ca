package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/l402chaos/l402chaos/internal/wait"
)

// ProviderInfo locates a running provider.
type ProviderInfo struct {
	URL        string `json:"url"`
	GRPC       string `json:"grpc"`
	ControlURL string `json:"control_url"`
	// ControlToken is the control API's bearer token.
	ControlToken string                 `json:"control_token"`
	Services     []fakeprovider.Service `json:"services"`
	Profile      fakeprovider.Profile   `json:"profile"`
	// Aperture is set when real Aperture sells the services (-provider
	// aperture): URL and GRPC are then Aperture's, ControlURL the
	// backend provider's.
	Aperture *ApertureInfo `json:"aperture,omitempty"`
}

// ApertureInfo describes real Aperture in front of the provider.
type ApertureInfo struct {
	Version string `json:"version"`
	Log     string `json:"log"`
	// Backend is the provider behind it (its plain HTTP API).
	Backend string `json:"backend"`
}

// The L402 servers -provider chooses.
const (
	providerFake     = "fake"
	providerAperture = "aperture"
)

// checkProviderKind rejects an unknown -provider, and Aperture where it
// does not run.
func checkProviderKind(kind, backend string, pf *providerFlags) error {
	switch kind {
	case providerFake:
		return nil
	case providerAperture:
		if backend != backendProcess {
			return fmt.Errorf("%w: -provider aperture runs on the process backend, not %s", errUsage, backend)
		}
		if pf.header != "" || pf.invalid != 0 {
			return fmt.Errorf("%w: -header and -invalid-credential shape the fake provider's challenges; Aperture writes its own", errUsage)
		}
		return nil
	}
	return fmt.Errorf("%w: -provider %q: want %s or %s", errUsage, kind, providerFake, providerAperture)
}

// startApertureFront starts real Aperture in front of the provider,
// which runs in backend mode with the flags' services.
func startApertureFront(ctx context.Context, n *regtest.Network, pf *providerFlags, log *slog.Logger) (*live.ApertureFront, error) {
	cfg, opts, err := pf.load()
	if err != nil {
		return nil, err
	}
	f, err := live.StartApertureFront(ctx, n, cfg, log, opts...)
	if errors.Is(err, regtest.ErrInvalidConfig) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return f, err
}

func apertureInfo(f *live.ApertureFront) ProviderInfo {
	pi := providerInfo(f.Backend)
	pi.URL, pi.GRPC = f.URL(), f.GRPCAddr()
	pi.Aperture = &ApertureInfo{Version: f.Aperture.Version, Log: f.Aperture.LogPath(), Backend: f.Backend.URL()}
	return pi
}

func providerInfo(p *fakeprovider.Provider) ProviderInfo {
	return ProviderInfo{URL: p.URL(), GRPC: p.GRPCAddr(), ControlURL: p.ControlURL(), ControlToken: p.ControlToken(), Services: p.Services(), Profile: p.Profile()}
}

// Env is the provider's part of the env file.
func (pi ProviderInfo) Env() string {
	var b strings.Builder
	fmt.Fprintf(&b, "L402CHAOS_PROVIDER_URL=%s\n", pi.URL)
	fmt.Fprintf(&b, "L402CHAOS_PROVIDER_GRPC=%s\n", pi.GRPC)
	fmt.Fprintf(&b, "L402CHAOS_CONTROL_URL=%s\n", pi.ControlURL)
	fmt.Fprintf(&b, "L402CHAOS_CONTROL_TOKEN=%s\n", pi.ControlToken)
	for _, s := range pi.Services {
		fmt.Fprintf(&b, "L402CHAOS_SERVICE_%s_URL=%s/%s/\n", strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")), pi.URL, s.Name)
	}
	return b.String()
}

// tokenNote says where the control API's bearer token is.
const tokenNote = "Authorization: Bearer $L402CHAOS_CONTROL_TOKEN, from the env file or -json"

func printProvider(w io.Writer, pi ProviderInfo) {
	if a := pi.Aperture; a != nil {
		fmt.Fprintf(w, "aperture  %s  (gRPC %s)  real Aperture %s, log %s\nbackend   %s  (the provider behind it)\ncontrol   %s  (%s)\n",
			pi.URL, pi.GRPC, a.Version, a.Log, a.Backend, pi.ControlURL, tokenNote)
		for _, s := range pi.Services {
			fmt.Fprintf(w, "service   %s/%s/  %d sat per token\n", pi.URL, s.Name, s.PriceSat)
		}
		return
	}
	fmt.Fprintf(w, "provider  %s  (gRPC %s)\ncontrol   %s  (%s)\n", pi.URL, pi.GRPC, pi.ControlURL, tokenNote)
	for _, s := range pi.Services {
		fmt.Fprintf(w, "service   %s/%s/  %d sat per %s\n", pi.URL, s.Name, s.PriceSat, s.Pricing)
	}
}

// providerFlags are the provider settings shared by up and provider.
type providerFlags struct {
	config                  string
	header                  string
	invalid                 int
	addr, grpcAddr, ctlAddr string
	remoteControl           bool
	tokenFile               string
}

func (f *providerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "provider-config", "", "provider configuration file (JSON: services and profile; default: data per token, ops per request)")
	fs.StringVar(&f.header, "header", "", "challenge header generation: l402, l402-legacy, lsat or aperture (default: from the config, else l402)")
	fs.IntVar(&f.invalid, "invalid-credential", 0, "status for credentials that do not verify: 401 or 402 (default: from the config, else 402)")
	fs.StringVar(&f.addr, "listen", "127.0.0.1:0", "address of the L402 HTTP API")
	fs.StringVar(&f.grpcAddr, "grpc-listen", "127.0.0.1:0", "address of the L402 gRPC API")
	fs.StringVar(&f.ctlAddr, "control-listen", "127.0.0.1:0", "address of the control API (loopback unless -allow-remote-control)")
	fs.StringVar(&f.tokenFile, "control-token-file", "", "the control API's bearer token: read from this file, or written there (0600) when it does not exist\n(default: a new random token, printed with -json and written to the env file)")
	fs.BoolVar(&f.remoteControl, "allow-remote-control", false, "let -control-listen name a non-loopback address: anyone who reaches it can arm faults and settle invoices (for a provider in a container, whose harness is outside)")
}

// loopback reports whether a listen address binds loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// load builds the configuration; any problem is a usage error.
func (f *providerFlags) load() (fakeprovider.Config, []fakeprovider.Option, error) {
	cfg := fakeprovider.DefaultConfig()
	if f.config != "" {
		var err error
		if cfg, err = fakeprovider.LoadConfig(f.config); err != nil {
			return cfg, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if f.header != "" {
		cfg.Profile.Header.Generation = fakeprovider.Generation(f.header)
	}
	if f.invalid != 0 {
		cfg.Profile.InvalidCredential = f.invalid
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if !f.remoteControl && !loopback(f.ctlAddr) {
		return cfg, nil, fmt.Errorf("%w: -control-listen %s is not a loopback address: the control API arms faults and settles invoices; add -allow-remote-control to mean it", errUsage, f.ctlAddr)
	}
	token, err := f.controlToken()
	if err != nil {
		return cfg, nil, fmt.Errorf("%w: -control-token-file: %w", errUsage, err)
	}
	return cfg, []fakeprovider.Option{fakeprovider.WithAddrs(f.addr, f.grpcAddr, f.ctlAddr), fakeprovider.WithControlToken(token)}, nil
}

// controlToken is the control API's token: -control-token-file's, made
// and written there if it has none, else a new one.
func (f *providerFlags) controlToken() (string, error) {
	if f.tokenFile == "" {
		return fakeprovider.NewControlToken(), nil
	}
	b, err := os.ReadFile(f.tokenFile)
	if errors.Is(err, os.ErrNotExist) {
		token := fakeprovider.NewControlToken()
		return token, os.WriteFile(f.tokenFile, []byte(token+"\n"), 0o600)
	}
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(b))
	if len(token) < fakeprovider.MinControlToken || strings.ContainsAny(token, " \t\r\n") {
		return "", fmt.Errorf("%s: want one token of at least %d characters", f.tokenFile, fakeprovider.MinControlToken)
	}
	return token, nil
}

// startProvider serves a provider on an LND connection.
func startProvider(ctx context.Context, ln lnrpc.LightningClient, inv invoicesrpc.InvoicesClient, pf *providerFlags, log *slog.Logger) (*fakeprovider.Provider, error) {
	cfg, opts, err := pf.load()
	if err != nil {
		return nil, err
	}
	opts = append(opts, fakeprovider.WithLogger(log))
	p, err := fakeprovider.Start(ctx, fakeprovider.NewLND(ln, inv), cfg, opts...)
	if errors.Is(err, fakeprovider.ErrInvalidConfig) {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return p, err
}

// probeTimeout bounds the first call to a user's LND.
const probeTimeout = 30 * time.Second

// probeLND asks LND who it is, waiting (within probeTimeout) for one that
// is still starting: not listening yet, or its RPC server not up (the
// harness starts the provider beside its node). Refusals (a bad
// macaroon, a wrong certificate) end the wait at once.
func probeLND(ctx context.Context, ln lnrpc.LightningClient) (*lnrpc.GetInfoResponse, error) {
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var gi *lnrpc.GetInfoResponse
	err := wait.Until(pctx, 100*time.Millisecond, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		gi, err = ln.GetInfo(actx, &lnrpc.GetInfoRequest{}, grpc.WaitForReady(true))
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.Unavailable, codes.Unknown, codes.DeadlineExceeded:
			return err // still starting
		}
		return wait.Permanent(err)
	})
	return gi, err
}

func cmdProvider(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("provider", stderr)
	var pf providerFlags
	pf.register(fs)
	var (
		rpc     = fs.String("lnd-rpc", "", "the provider's LND gRPC address, host:port (required)")
		cert    = fs.String("tlscert", "", "that LND's tls.cert (required)")
		tlsName = fs.String("lnd-tls-name", "", "check LND's certificate against this name rather than -lnd-rpc's host (e.g. localhost, for an address the certificate does not name)")
		mac     = fs.String("macaroon", "", "a macaroon allowed to create, read, settle and cancel invoices, e.g. invoice.macaroon or admin.macaroon (required)")
		jsonOut = fs.Bool("json", false, "print the provider's addresses as one JSON object on stdout")
		ledger  = fs.String("ledger-out", "", "write the ledger as JSON to this file on exit")
		verbose = fs.Bool("v", false, "log every request")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	// Every flag is checked before any connection is made.
	if _, _, err := pf.load(); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--lnd-rpc", *rpc}, {"--tlscert", *cert}, {"--macaroon", *mac}} {
		if f.v == "" {
			return fmt.Errorf("%w: %s is required", errUsage, f.name)
		}
	}
	for _, path := range []string{*cert, *mac} {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	log := newLogger(stderr, *verbose)
	conn, err := regtest.DialAs(*rpc, *cert, *mac, *tlsName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	defer conn.Close()
	ln := lnrpc.NewLightningClient(conn)
	gi, err := probeLND(ctx, ln)
	if err != nil {
		return fmt.Errorf("reach lnd at %s: %w", *rpc, err)
	}
	log.Info("lnd reached", "alias", gi.Alias, "pubkey", gi.IdentityPubkey[:12], "network", gi.Chains)

	p, err := startProvider(ctx, ln, invoicesrpc.NewInvoicesClient(conn), &pf, log)
	if err != nil {
		return err
	}
	defer p.Close()
	pi := providerInfo(p)
	if *jsonOut {
		if err := json.NewEncoder(stdout).Encode(pi); err != nil {
			return err
		}
	} else {
		printProvider(stdout, pi)
		fmt.Fprintln(stdout, "\nPress Ctrl-C to stop.")
	}
	<-ctx.Done()
	log.Info("interrupted; stopping the provider")
	return finishProvider(p, *ledger)
}

// startProviderProgram runs the provider as a program of n's sandbox
// (a container) on bob, with the configuration of the flags; its ports
// are the program's own, published on loopback.
func startProviderProgram(ctx context.Context, n *regtest.Network, pf *providerFlags, log *slog.Logger) (*live.ProviderProgram, error) {
	cfg, _, err := pf.load()
	if err != nil {
		return nil, err
	}
	_, bin, err := live.StaticPrograms(ctx)
	if err != nil {
		return nil, err
	}
	return live.StartProviderProgram(ctx, n, n.Node(regtest.Bob), cfg, bin, nil, log.With("component", "provider"))
}

// finishProviderProgram writes the program's ledger if asked; the
// network's teardown stops it.
func finishProviderProgram(pp *live.ProviderProgram, ledgerPath string) error {
	return finish(pp.Control, pp.Close, ledgerPath)
}

// finishProvider writes the ledger if asked and stops the provider.
func finishProvider(p *fakeprovider.Provider, ledgerPath string) error {
	return finish(p.Controller(), p.Close, ledgerPath)
}

// finish writes the provider's ledger to ledgerPath when it is set, then
// calls stop.
func finish(c fakeprovider.Controller, stop func() error, ledgerPath string) error {
	var errs []error
	if ledgerPath != "" {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		snap, err := c.Ledger(ctx)
		cancel()
		errs = append(errs, err)
		data, err := snap.MarshalIndent()
		if err == nil {
			err = os.WriteFile(ledgerPath, data, 0o600)
		}
		errs = append(errs, err)
	}
	errs = append(errs, stop())
	return errors.Join(errs...)
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
