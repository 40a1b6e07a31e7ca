package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// ErrNotLoopback: Serve was asked to listen on an address other hosts
// can reach. The metrics name the nodes, their data sizes and the run's
// verdicts; they stay on the machine.
var ErrNotLoopback = errors.New("not a loopback address")

// Timeouts of the metrics server.
const (
	readHeaderTimeout = 10 * time.Second
	shutdownTimeout   = 5 * time.Second
)

// Serve listens on addr and serves the registry at /metrics, and the
// harness's own runtime profiles at /debug/pprof/ (heap, goroutines, CPU:
// what a long soak's resource plot asks about next), until ctx ends; it returns the bound address at once (addr may be
// "127.0.0.1:0"). An empty host ("":9090") listens on 127.0.0.1;
// "localhost" means 127.0.0.1 too; any host but a loopback IP is refused
// with ErrNotLoopback.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("metrics listen %q: %w", addr, err)
	}
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	default:
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return "", fmt.Errorf("metrics listen %q: %w (listen on 127.0.0.1 or ::1)", addr, ErrNotLoopback)
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", fmt.Errorf("metrics listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("metrics server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
		}
	}()
	return ln.Addr().String(), nil
}
