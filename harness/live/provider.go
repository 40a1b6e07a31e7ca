package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/internal/gobuild"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
)

// The provider program's own ports inside an isolated runtime.
const (
	providerHTTPPort    = 8080
	providerGRPCPort    = 9090
	providerControlPort = 8081
	// providerReady bounds the wait for its control API.
	providerReady = time.Minute
	// notesPoll is how long one long poll of its notes waits on the
	// provider; notesRetry is the pause after a failed one (the
	// container paused or cut off).
	notesPoll  = 20 * time.Second
	notesRetry = 100 * time.Millisecond
)

// ChaosBinary builds this module's chaos command, static (CGO off), for
// an image FROM scratch, into dir: the provider program of an isolated
// runtime runs its provider subcommand.
func ChaosBinary(ctx context.Context, dir string) (string, error) {
	return gobuild.Static(ctx, "./cmd/chaos", dir, "chaos")
}

// StaticPrograms builds (once per process) the two programs an isolated
// runtime runs beside the nodes, toxiproxy and the provider program,
// into the cache's static directory.
func StaticPrograms(ctx context.Context) (toxiproxy, chaos string, err error) {
	cache, err := regtest.CacheDir()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(cache, "static")
	if toxiproxy, err = ToxiproxyBinary(ctx, dir); err != nil {
		return "", "", fmt.Errorf("toxiproxy: %w", err)
	}
	if chaos, err = ChaosBinary(ctx, dir); err != nil {
		return "", "", fmt.Errorf("provider program: %w", err)
	}
	return toxiproxy, chaos, nil
}

// ProviderProgram is the fake provider run as a program of a network's
// sandbox (`chaos provider` in a container of the run's network, on the
// payee's LND), driven through its control API. Its notes reach the
// observer through a long poll of GET /notes that resumes from the last
// note seen, so a container paused or cut off loses none.
type ProviderProgram struct {
	// Proc is the program: pause, isolate and rejoin it.
	Proc regtest.Proc
	// Control drives it.
	Control *fakeprovider.Control
	// HTTP, GRPC and ControlAPI are its ports as each side reaches them.
	HTTP, GRPC, ControlAPI regtest.Endpoint
	// Token is the control API's bearer token.
	Token string
	// Config is what it serves: services and profile.
	Config fakeprovider.Config
	// Dir holds its configuration and its log (provider.log).
	Dir string

	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// ErrProviderProgram: the provider program did not start or answer.
var ErrProviderProgram = errors.New("provider program failed")

// StartProviderProgram starts the provider program bin (a static chaos
// binary, see ChaosBinary) in net's sandbox on payee's LND with cfg, and
// follows its notes into observe (may be nil) until Close.
func StartProviderProgram(ctx context.Context, net *regtest.Network, payee *regtest.Node, cfg fakeprovider.Config, bin string, observe func(fakeprovider.Note), log *slog.Logger) (_ *ProviderProgram, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fail := func(step string, err error) (*ProviderProgram, error) {
		return nil, fmt.Errorf("%w: %s: %w", ErrProviderProgram, step, err)
	}
	if err := cfg.Validate(); err != nil {
		return fail("configuration", err)
	}
	sb := net.Sandbox()
	pp := &ProviderProgram{Config: cfg, Dir: filepath.Join(net.Dir(), "provider"), log: log}
	if err := os.MkdirAll(pp.Dir, 0o700); err != nil {
		return fail("its directory", err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fail("configuration", err)
	}
	cfgPath := filepath.Join(pp.Dir, "config.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return fail("configuration", err)
	}
	for _, p := range []struct {
		ep   *regtest.Endpoint
		port int
	}{{&pp.HTTP, providerHTTPPort}, {&pp.GRPC, providerGRPCPort}, {&pp.ControlAPI, providerControlPort}} {
		if *p.ep, err = sb.Endpoint("provider", p.port); err != nil {
			return fail("its ports", err)
		}
	}
	// The control API's token goes in a file of the provider's
	// directory (0600), not on its command line.
	pp.Token = fakeprovider.NewControlToken()
	tokenPath := filepath.Join(pp.Dir, "control.token")
	if err := os.WriteFile(tokenPath, []byte(pp.Token+"\n"), 0o600); err != nil {
		return fail("control token", err)
	}
	logPath := filepath.Join(pp.Dir, "provider.log")
	pp.Proc, err = sb.Start(ctx, regtest.Spec{
		Name: "provider", Bin: bin, Dir: pp.Dir, LogPath: logPath,
		Endpoints: []regtest.Endpoint{pp.HTTP, pp.GRPC, pp.ControlAPI},
		Args: []string{"provider",
			"-lnd-rpc", payee.RPCPeerAddr(),
			// The payee's certificate names the address it was made at
			// (a snapshot's network), and always localhost.
			"-lnd-tls-name", "localhost",
			"-tlscert", payee.TLSCertPath(),
			"-macaroon", payee.AdminMacaroonPath(),
			"-provider-config", cfgPath,
			"-listen", pp.HTTP.Listen, "-grpc-listen", pp.GRPC.Listen, "-control-listen", pp.ControlAPI.Listen,
			"-allow-remote-control", "-control-token-file", tokenPath,
		},
	})
	if err != nil {
		return fail("start", err)
	}
	defer func() {
		if err != nil {
			pp.Proc.Kill()
		}
	}()
	pp.Control, err = fakeprovider.NewControl("http://"+pp.ControlAPI.Host, &http.Client{})
	if err != nil {
		return fail("control API", err)
	}
	pp.Control = pp.Control.WithToken(pp.Token)
	wctx, cancel := context.WithTimeout(ctx, providerReady)
	defer cancel()
	err = wait.Until(wctx, 50*time.Millisecond, func(ctx context.Context) error {
		if err := pp.Proc.Exited(); err != nil {
			return wait.Permanent(err)
		}
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return pp.Control.Health(hctx)
	})
	if err != nil {
		return fail(fmt.Sprintf("wait for its control API at %s (log %s)", pp.ControlAPI.Host, logPath), err)
	}
	log.Debug("provider program up", "http", pp.HTTP.Host, "control", pp.ControlAPI.Host, "log", logPath)
	fctx, fcancel := context.WithCancel(context.WithoutCancel(ctx))
	pp.cancel, pp.done = fcancel, make(chan struct{})
	go pp.follow(fctx, observe)
	return pp, nil
}

// follow long-polls the provider's notes and hands each to observe, in
// order, once.
func (pp *ProviderProgram) follow(ctx context.Context, observe func(fakeprovider.Note)) {
	defer close(pp.done)
	var cursor int64
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, notesPoll+10*time.Second)
		page, err := pp.Control.Notes(pctx, cursor, notesPoll)
		cancel()
		if err != nil {
			t := time.NewTimer(notesRetry)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		if page.Dropped > 0 {
			pp.log.Warn("provider notes missed: the harness fell behind", "missed", page.Dropped)
		}
		for _, n := range page.Notes {
			if observe != nil {
				observe(n)
			}
		}
		cursor = page.Next
	}
}

// Close stops following the notes; the sandbox stops the program.
func (pp *ProviderProgram) Close() error {
	if pp.cancel != nil {
		pp.cancel()
		<-pp.done
	}
	return nil
}

// ErrProviderMemory: the provider program keeps its ledger and root keys
// in memory, so killing it would lose the run's record: it can be
// paused, cut off and restarted through its control API (a restart
// fault), not killed.
var ErrProviderMemory = errors.New("the provider program holds the run's ledger in memory: it can be paused or isolated, not killed")

// providerNode is the provider program as a node faults can pause and
// isolate (harness.Node, harness.Isolator).
type providerNode struct {
	pp *ProviderProgram
}

var (
	_ harness.Node     = (*providerNode)(nil)
	_ harness.Isolator = (*providerNode)(nil)
)

func (n *providerNode) Name() string  { return harness.ProviderNode }
func (n *providerNode) Kill() error   { return fmt.Errorf("kill provider: %w", ErrProviderMemory) }
func (n *providerNode) Pause() error  { return n.pp.Proc.Pause() }
func (n *providerNode) Resume() error { return n.pp.Proc.Resume() }

func (n *providerNode) Restart(context.Context) error {
	return fmt.Errorf("restart provider: %w", ErrProviderMemory)
}

func (n *providerNode) Isolate(ctx context.Context) error {
	iso, ok := n.pp.Proc.(regtest.Isolator)
	if !ok {
		return fmt.Errorf("%w: %w", harness.ErrNeedsIsolation, regtest.ErrNoIsolation)
	}
	return iso.Isolate(ctx)
}

// Start heals a pause or an isolation and waits for the control API.
func (n *providerNode) Start(ctx context.Context) error {
	if iso, ok := n.pp.Proc.(regtest.Isolator); ok && iso.Isolated() {
		if err := iso.Rejoin(ctx); err != nil {
			return err
		}
	}
	if n.pp.Proc.Paused() {
		if err := n.pp.Proc.Resume(); err != nil {
			return err
		}
	}
	if err := n.pp.Proc.Exited(); err != nil {
		return fmt.Errorf("provider program: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, providerReady)
	defer cancel()
	return wait.Until(wctx, 50*time.Millisecond, func(ctx context.Context) error {
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return n.pp.Control.Health(hctx)
	})
}
