package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/history"
)

// ErrKilled is the report of an attempt killed by a crash step or by the
// harness after its deadline.
var ErrKilled = errors.New("client killed")

// killGrace is how long after its own deadline an attempt is killed, as
// the exec adapter does.
const killGrace = 5 * time.Second

// wait parks the running process until ready holds or ctx ends. Outside
// a process (a fault acting from the driver) nothing can change while it
// waits, so it does not block.
func (w *World) wait(ctx context.Context, ready func() bool) error {
	if w.cur == nil {
		if ready() {
			return nil
		}
		return fmt.Errorf("wait outside a client process: %w", ErrUnsupported)
	}
	return w.cur.park(ctx, ready)
}

// sleep parks the running process for d of virtual time.
func (w *World) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	at := w.clock.now.Add(d)
	ev := w.clock.after(d, func() {})
	defer func() { ev.dead = true }()
	return w.wait(ctx, func() bool { return !w.clock.now.Before(at) })
}

// exchangeDelay is one HTTP exchange's time on a healthy link.
const exchangeDelay = time.Millisecond

// transport carries the client's HTTP requests over the client-provider
// link into the provider's handler.
type transport struct{ w *World }

func opError(op string, errno syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Addr: fakeAddr{}, Err: os.NewSyscallError(op, errno)}
}

type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return Host + ":80" }

// RoundTrip runs on the process goroutine.
func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	w := t.w
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.URL.Host != Host {
		return nil, fmt.Errorf("simulated transport: host %q: only %s exists", req.URL.Host, Host)
	}
	l := w.links[harness.LinkProvider]
	switch {
	case !l.up:
		return nil, opError("dial", syscall.ECONNREFUSED)
	case l.reset:
		return nil, opError("read", syscall.ECONNRESET)
	}
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	in := req.Clone(ctx)
	in.Body = io.NopCloser(bytes.NewReader(body))
	in.ContentLength = int64(len(body))
	in.RemoteAddr = "192.0.2.1:40000"
	in.RequestURI = req.URL.RequestURI()
	if err := w.sleep(ctx, exchangeDelay); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	dropped := w.serve(rec, in)
	w.cur.checkpoint()
	switch {
	case dropped:
		return nil, io.ErrUnexpectedEOF
	case l.blackhole:
		return nil, w.wait(ctx, func() bool { return false })
	}
	if err := w.sleep(ctx, l.delay); err != nil {
		return nil, err
	}
	if !l.up || l.reset {
		return nil, opError("read", syscall.ECONNRESET)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// serve runs the provider's handler; a handler that aborts (a dropped
// connection) reports true.
func (w *World) serve(rw http.ResponseWriter, r *http.Request) (dropped bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			dropped = true
		}
	}()
	w.prov.ServeHTTP(rw, r)
	return false
}

// timeoutOf is a purchase's own deadline (L402_TIMEOUT_SEC's default
// when unset).
func timeoutOf(p harness.Purchase) time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return 60 * time.Second
}

// heldJournal is a state directory path no journal can be opened in: a
// regular file.
func (w *World) heldJournal() string {
	path := filepath.Join(w.dir, "journal-held")
	if _, err := os.Stat(path); err != nil {
		_ = os.WriteFile(path, []byte("a journal another process holds\n"), 0o600)
	}
	return path
}

// simClient is the client under test as harness.Client.
type simClient struct{ w *World }

func (c simClient) Purchase(ctx context.Context, p harness.Purchase) (history.Result, error) {
	return c.w.attempt(ctx, p, "", c.w.clock.now, false)
}

// attempt runs one purchase attempt as one client process, from start
// (its deadline counts from there), killed at crashAt if that phase comes.
//
// busy says another process held the journal past this one's open
// timeout: the attempt then runs on a state directory that cannot be
// opened, so that the client's own open failure path reports it.
func (w *World) attempt(ctx context.Context, p harness.Purchase, crashAt harness.Phase, start time.Time, busy bool) (history.Result, error) {
	env := client.AdapterEnv{
		URL: p.URL, Method: p.Method, Body: p.Body, Key: p.Key,
		StateDir:   filepath.Join(w.dir, fmt.Sprintf("instance-%d", p.Instance)),
		MaxCostSat: p.MaxCostSat, Timeout: timeoutOf(p),
		LNDRPCServer: "alice.sim:10009", LNDTLSCertPath: "-", LNDMacaroonPath: "-",
	}
	if busy {
		env.StateDir = w.heldJournal()
	}
	if env.MaxCostSat == 0 {
		env.MaxCostSat = harness.DefaultMaxCostSat
	}
	if env.Method == "" {
		env.Method = http.MethodGet
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := start.Add(env.Timeout)
	stop := w.clock.after(deadline.Sub(w.clock.now), func() { cancel(context.DeadlineExceeded) })
	killed := false
	kill := w.clock.after(deadline.Add(killGrace).Sub(w.clock.now), func() {
		if w.cur != nil {
			killed, w.cur.crash = true, true
		}
	})
	defer func() { stop.dead, kill.dead = true, true }()

	payer, err := client.NewLNDPayer(lightningClient{rpc: payerRPC{w}}, routerClient{rpc: payerRPC{w}})
	if err != nil {
		return history.Result{}, err
	}
	rig := Rig{
		Env: env, Payer: payer, Transport: transport{w}, Log: w.log.With("key", p.Key),
		Options: []client.Option{
			client.WithClock(simClock{w}),
			client.WithRand(rand.New(rand.NewPCG(w.rnd.Uint64(), w.rnd.Uint64()))),
		},
	}
	w.procCtx = pctx
	var out *client.Outcome
	var berr error
	crashed, rerr := w.run(crashAt, func() { out, berr = w.cfg.Buy(pctx, rig) })
	w.procCtx = nil
	w.lastEnd = w.clock.now
	w.settleEvents()
	switch {
	case rerr != nil:
		return history.Result{ExitCode: -1, Killed: true}, rerr
	case crashed:
		why := "crashed at " + string(crashAt)
		if killed {
			why = "killed after its deadline"
		}
		return history.Result{ExitCode: -1, Killed: true}, fmt.Errorf("%w: %s", ErrKilled, why)
	}
	rep := client.ReportFor(out, berr)
	res := adapter.ResultOf(rep)
	res.ExitCode = rep.ExitCode()
	return res, nil
}
