package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/l402chaos/l402chaos/internal/gobuild"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
)

// The toxiproxy server program: its API port and the first of the ports
// its proxies listen on, inside an isolated runtime.
const (
	toxiproxyPackage  = "github.com/Shopify/toxiproxy/v2/cmd/server"
	toxiproxyAPIPort  = 8474
	toxiproxyPortBase = 20001
	// ToxiproxyPorts is how many proxies one server can hold: the links
	// of the routed topology (two p2p hops, three chain hops, the payer
	// and the provider) with room to spare.
	ToxiproxyPorts = 12
	// toxiproxyReady bounds the wait for its API.
	toxiproxyReady = time.Minute
)

// ToxiproxyBinary builds (once per process) the toxiproxy server from
// its Go module, static, for an image FROM scratch, into dir.
func ToxiproxyBinary(ctx context.Context, dir string) (string, error) {
	return gobuild.Static(ctx, toxiproxyPackage, dir, "toxiproxy")
}

// StartToxiproxy runs a toxiproxy server as a program of sb, with
// ToxiproxyPorts ports for proxies, and returns links on it. Its output
// goes to runDir/toxiproxy/toxiproxy.out. The sandbox stops it.
func StartToxiproxy(ctx context.Context, sb regtest.Sandbox, runDir, bin string, log *slog.Logger) (*Links, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(runDir, "toxiproxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	api, err := sb.Endpoint("toxiproxy", toxiproxyAPIPort)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	eps := []regtest.Endpoint{api}
	var free []regtest.Endpoint
	for i := range ToxiproxyPorts {
		ep, err := sb.Endpoint("toxiproxy", toxiproxyPortBase+i)
		if err != nil {
			return nil, fmt.Errorf("toxiproxy: %w", err)
		}
		eps, free = append(eps, ep), append(free, ep)
	}
	host, port, err := net.SplitHostPort(api.Listen)
	if err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	proc, err := sb.Start(ctx, regtest.Spec{
		Name: "toxiproxy", Bin: bin, Args: []string{"-host", host, "-port", port},
		Dir: dir, LogPath: filepath.Join(dir, "toxiproxy.out"), Endpoints: eps,
	})
	if err != nil {
		return nil, fmt.Errorf("toxiproxy: %w", err)
	}
	cli := toxiclient.NewClient(api.Host)
	wctx, cancel := context.WithTimeout(ctx, toxiproxyReady)
	defer cancel()
	err = wait.Until(wctx, 50*time.Millisecond, func(context.Context) error {
		if err := proc.Exited(); err != nil {
			return wait.Permanent(err)
		}
		_, err := cli.Version()
		return err
	})
	if err != nil {
		proc.Kill()
		return nil, fmt.Errorf("toxiproxy: wait for its API at %s: %w", api.Host, err)
	}
	log.Debug("toxiproxy server up", "api", api.Host, "ports", len(free))
	return NewRemoteLinks(log, api.Host, free), nil
}

// NewRemoteLinks makes links whose proxies run on the toxiproxy server
// whose API this process reaches at api, driven with toxiproxy's Go
// client. ports are the server's addresses free for proxies, each as
// every side reaches it.
func NewRemoteLinks(log *slog.Logger, api string, ports []regtest.Endpoint) *Links {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return newLinks(log, &remoteServer{cli: toxiclient.NewClient(api), free: ports})
}

// remoteServer is a toxiproxy server elsewhere.
type remoteServer struct {
	cli *toxiclient.Client

	mu   sync.Mutex
	free []regtest.Endpoint
}

// ErrNoPort: the toxiproxy server has no port left for another proxy.
var ErrNoPort = errors.New("no port left on the toxiproxy server")

func (s *remoteServer) create(name, upstream string) (proxy, error) {
	s.mu.Lock()
	if len(s.free) == 0 {
		s.mu.Unlock()
		return nil, ErrNoPort
	}
	ep := s.free[0]
	s.free = s.free[1:]
	s.mu.Unlock()
	p, err := s.cli.CreateProxy(name, ep.Listen, upstream)
	if err != nil {
		s.mu.Lock()
		s.free = append(s.free, ep)
		s.mu.Unlock()
		return nil, err
	}
	return &remoteProxy{p: p, ep: ep}, nil
}

// remoteProxy is one proxy on a remote server. The client's Proxy is not
// safe for concurrent use: every call holds mu.
type remoteProxy struct {
	ep regtest.Endpoint
	mu sync.Mutex
	p  *toxiclient.Proxy
}

func (rp *remoteProxy) addrs() (string, string) { return rp.ep.Host, rp.ep.Peer }

func (rp *remoteProxy) upstream() string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.p.Upstream
}

// setUpstream saves the proxy with a new upstream: the server restarts
// it on the same address, enabled or not as it was.
func (rp *remoteProxy) setUpstream(upstream string) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	old := rp.p.Upstream
	rp.p.Upstream = upstream
	if err := rp.p.Save(); err != nil {
		rp.p.Upstream = old
		return err
	}
	return nil
}

func (rp *remoteProxy) setEnabled(up bool) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if up {
		return rp.p.Enable()
	}
	return rp.p.Disable()
}

func (rp *remoteProxy) addToxic(body []byte) (string, error) {
	var t toxiclient.Toxic
	if err := json.Unmarshal(body, &t); err != nil {
		return "", err
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	got, err := rp.p.AddToxic(t.Name, t.Type, t.Stream, t.Toxicity, t.Attributes)
	if err != nil {
		return "", err
	}
	return got.Name, nil
}

func (rp *remoteProxy) removeToxic(name string) error {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	err := rp.p.RemoveToxic(name)
	var api *toxiclient.ApiError
	if errors.As(err, &api) && api.Status == 404 {
		return nil
	}
	return err
}

// stop does nothing: the proxies end with the server, which its sandbox
// stops, and deleting one can block as long as a stuck toxic does.
func (rp *remoteProxy) stop() {}
