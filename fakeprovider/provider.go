package fakeprovider

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/lightningnetwork/lnd/lntypes"
	"google.golang.org/grpc"
)

// Provider is an L402 provider: a correct one until a knob says otherwise.
type Provider struct {
	ln       Lightning
	log      *slog.Logger
	now      func() time.Time
	services map[string]Service
	order    []string
	limiter  limiter

	mu      sync.Mutex
	prof    Profile
	spent   map[string]string // per-request token -> purchase key
	secrets *secrets
	// rnd is where random values come from (WithRand).
	rnd    io.Reader
	knobs  knobs
	ledger *ledger
	idem   *idempotency
	holds  *holds
	notes  *notesLog
	// backend: behind an L402 proxy, serving without selling (Config.Backend).
	backend bool

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	srv   sync.Mutex // guards the servers below across Restart
	addrs addrs
	// ctlToken is the control API's bearer token.
	ctlToken string
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	// tlsSrv serves the gRPC port over TLS, HTTP and gRPC alike, for a
	// proxy in front (backend mode); nil otherwise.
	tlsSrv *http.Server
	// front, when set, is the L402 proxy the HTTP face forwards to;
	// backedRecs holds what the backend did with each fronted request
	// (by the front's sequence number) until the front records it.
	front      *front
	backedRecs sync.Map
	ctlSrv     *http.Server
	closed     bool
}

// rebindTimeout bounds waiting for a port to be free again after a
// restart.
const rebindTimeout = 10 * time.Second

// ledgerWait bounds how long an export waits for running requests.
const ledgerWait = 30 * time.Second

type addrs struct{ http, grpc, control string }

type options struct {
	rnd      io.Reader
	seeded   bool // rnd is the caller's: token IDs come from it too
	notify   func(Note)
	log      *slog.Logger
	now      func() time.Time
	addrs    addrs
	ctlToken string
}

// Option configures a Provider.
type Option func(*options) error

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
		}
		o.log = l
		return nil
	}
}

// WithClock sets the clock that caveats and knob windows read.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidConfig)
		}
		o.now = now
		return nil
	}
}

// WithObserver calls f with every challenge, side effect, delivery and
// answered request the moment it enters the ledger. f must be quick and
// must not call back into the provider.
func WithObserver(f func(Note)) Option {
	return func(o *options) error {
		if f == nil {
			return fmt.Errorf("%w: nil observer", ErrInvalidConfig)
		}
		o.notify = f
		return nil
	}
}

// WithRand draws the provider's random values from r: root keys, hold
// invoices' preimages, a hash-mismatch knob's hash (default
// crypto/rand). A simulation seeds it, so that a seed replays the same
// values; reads are serialised, so r need not be safe for concurrent
// use. The L402 token IDs come from it as well: aperture's mint draws
// its own from crypto/rand, and the provider gives each minted macaroon
// an ID drawn from r in their place (the rest of the identifier, the
// root key and the caveats are as minted).
func WithRand(r io.Reader) Option {
	return func(o *options) error {
		if r == nil {
			return fmt.Errorf("%w: nil random source", ErrInvalidConfig)
		}
		o.rnd, o.seeded = &lockedReader{r: r}, true
		return nil
	}
}

// lockedReader serialises reads of a reader.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return io.ReadFull(l.r, p)
}

// MinControlToken is the shortest control token WithControlToken takes.
const MinControlToken = 16

// WithControlToken sets the bearer token every control API call but
// /health must carry (default: a random one, ControlToken). The harness
// gives one per run, so that nothing else on the machine, a web page in
// the operator's browser included, can arm faults or settle invoices.
func WithControlToken(token string) Option {
	return func(o *options) error {
		if len(token) < MinControlToken || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return fmt.Errorf("%w: control token: want at least %d printable characters and no spaces", ErrInvalidConfig, MinControlToken)
		}
		o.ctlToken = token
		return nil
	}
}

// NewControlToken is a random control token (32 hex digits).
func NewControlToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

func validAddr(name, addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%w: %s address %q: %w", ErrInvalidConfig, name, addr, err)
	}
	return nil
}

// WithAddrs sets the listen addresses of the L402 HTTP API, the gRPC API
// and the control API (default: 127.0.0.1:0, an ephemeral port each).
func WithAddrs(httpAddr, grpcAddr, controlAddr string) Option {
	return func(o *options) error {
		for _, a := range [][2]string{{"http", httpAddr}, {"grpc", grpcAddr}, {"control", controlAddr}} {
			if err := validAddr(a[0], a[1]); err != nil {
				return err
			}
		}
		o.addrs = addrs{httpAddr, grpcAddr, controlAddr}
		return nil
	}
}

// New makes a provider without listening: its ServeHTTP can be mounted
// anywhere. Start also listens.
func New(ln Lightning, cfg Config, opts ...Option) (*Provider, error) {
	if ln == nil {
		return nil, fmt.Errorf("%w: nil Lightning", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{
		rnd:   rand.Reader,
		log:   slog.New(slog.DiscardHandler),
		now:   time.Now,
		addrs: addrs{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"},
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.ctlToken == "" {
		o.ctlToken = NewControlToken()
	}
	ctx, cancel := context.WithCancel(context.Background())
	notes := newNotesLog()
	notify := func(n Note) {
		n = notes.add(n)
		if o.notify != nil {
			o.notify(n)
		}
	}
	p := &Provider{
		ln: ln, log: o.log, now: o.now, services: map[string]Service{}, notes: notes,
		prof: cfg.Profile, spent: map[string]string{}, secrets: newSecrets(o.rnd, o.seeded), rnd: o.rnd,
		ledger: newLedger(notify), idem: &idempotency{entries: map[string]*idemEntry{}},
		holds: newHolds(ctx, ln, o.log, o.rnd), ctx: ctx, cancel: cancel, addrs: o.addrs,
		backend: cfg.Backend, ctlToken: o.ctlToken,
	}
	for _, s := range cfg.Services {
		p.services[s.Name] = s
		p.order = append(p.order, s.Name)
	}
	p.limiter = limiter{services: p.services, now: o.now}
	return p, nil
}

// Start makes a provider and serves its three APIs. Close stops it.
func Start(ctx context.Context, ln Lightning, cfg Config, opts ...Option) (*Provider, error) {
	p, err := New(ln, cfg, opts...)
	if err != nil {
		return nil, err
	}
	p.srv.Lock()
	defer p.srv.Unlock()
	if err := p.listenControl(); err != nil {
		p.cancel()
		return nil, err
	}
	if err := p.listenAPIs(ctx); err != nil {
		_ = p.ctlSrv.Close()
		p.cancel()
		return nil, err
	}
	p.log.Info("provider up", "http", p.addrs.http, "grpc", p.addrs.grpc, "control", p.addrs.control)
	return p, nil
}

func (p *Provider) listenControl() error {
	l, err := net.Listen("tcp", p.addrs.control)
	if err != nil {
		return fmt.Errorf("control listener: %w", err)
	}
	p.addrs.control = l.Addr().String()
	p.ctlSrv = &http.Server{Handler: p.guard(p.controlHandler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.ctlSrv.Serve(l) }()
	return nil
}

// listenAPIs (re)binds the L402 HTTP and gRPC listeners. After a restart
// they come back on the same ports; a port still held for a moment is
// retried.
func (p *Provider) listenAPIs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, rebindTimeout)
	defer cancel()
	listen := func(addr string) (net.Listener, error) {
		var l net.Listener
		err := wait.Until(ctx, 50*time.Millisecond, func(context.Context) error {
			var err error
			l, err = net.Listen("tcp", addr)
			if errors.Is(err, syscall.EADDRINUSE) && !strings.HasSuffix(addr, ":0") {
				return err
			}
			if err != nil {
				return wait.Permanent(err)
			}
			return nil
		})
		return l, err
	}
	hl, err := listen(p.addrs.http)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	gl, err := listen(p.addrs.grpc)
	if err != nil {
		_ = hl.Close()
		return fmt.Errorf("grpc listener: %w", err)
	}
	p.addrs.http, p.addrs.grpc = hl.Addr().String(), gl.Addr().String()
	p.httpSrv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	// HTTP/1.1 and h2c: a front takes gRPC calls on this port too.
	p.httpSrv.Protocols = new(http.Protocols)
	p.httpSrv.Protocols.SetHTTP1(true)
	p.httpSrv.Protocols.SetUnencryptedHTTP2(true)
	p.grpcSrv = p.newGRPCServer()
	go func() { _ = p.httpSrv.Serve(hl) }()
	if !p.backend {
		go func() { _ = p.grpcSrv.Serve(gl) }()
		return nil
	}
	// A proxy reaches a gRPC backend over HTTP/2, which it negotiates
	// over TLS only (Aperture does): the gRPC port serves TLS, gRPC and
	// HTTP on one listener.
	cert, err := selfSigned()
	if err != nil {
		_ = hl.Close()
		_ = gl.Close()
		return fmt.Errorf("backend TLS: %w", err)
	}
	p.tlsSrv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				p.grpcSrv.ServeHTTP(w, r)
				return
			}
			p.serveHTTP(w, r)
		}),
	}
	go func() { _ = p.tlsSrv.ServeTLS(gl, "", "") }()
	return nil
}

// selfSigned makes the backend's TLS certificate: the proxy in front does
// not verify it (Aperture skips verification of its backends).
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "l402chaos provider backend"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// URL is the base URL of the L402 HTTP API, e.g. http://127.0.0.1:8402.
func (p *Provider) URL() string { p.srv.Lock(); defer p.srv.Unlock(); return "http://" + p.addrs.http }

// GRPCAddr is the host:port of the gRPC L402 API.
func (p *Provider) GRPCAddr() string { p.srv.Lock(); defer p.srv.Unlock(); return p.addrs.grpc }

// ControlToken is the bearer token the control API requires.
func (p *Provider) ControlToken() string { return p.ctlToken }

// ControlURL is the base URL of the control API.
func (p *Provider) ControlURL() string {
	p.srv.Lock()
	defer p.srv.Unlock()
	return "http://" + p.addrs.control
}

// Services lists the configured services in order.
func (p *Provider) Services() []Service {
	out := make([]Service, 0, len(p.order))
	for _, n := range p.order {
		out = append(out, p.services[n])
	}
	return out
}

func (p *Provider) service(path string) (Service, bool) {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	s, ok := p.services[name]
	return s, ok
}

func (p *Provider) profile() Profile { p.mu.Lock(); defer p.mu.Unlock(); return p.prof }

// Profile returns the current profile.
func (p *Provider) Profile() Profile { return p.profile() }

// SetProfile changes how the provider speaks L402 from the next request.
func (p *Provider) SetProfile(pr Profile) error {
	if err := pr.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prof = pr
	return nil
}

// Arm arms a knob and returns it with its id.
func (p *Provider) Arm(k Knob) (Knob, error) { return p.knobs.arm(k, p.now()) }

// Disarm removes an armed knob.
func (p *Provider) Disarm(id string) error { return p.knobs.disarm(id) }

// Knobs lists the armed knobs with how often each has fired.
func (p *Provider) Knobs() []Knob { return p.knobs.snapshot() }

// Reset disarms every knob. The ledger, tokens and stored answers stay:
// they are the record of what happened.
func (p *Provider) Reset() { p.knobs.reset() }

// RevokeToken deletes a token's root key; it will not verify again.
func (p *Provider) RevokeToken(tokenID string) error { return p.secrets.revoke(tokenID) }

// Ledger exports the ledger. It first waits for the requests already
// running to be recorded (a client may hold its answer a moment before the
// provider records the delivery; a request held by a delay knob is waited
// for too, up to ctx's deadline or ledgerWait), then reads every
// unfinished invoice's state from the node. If either falls short, the
// snapshot is still returned, with the error.
func (p *Provider) Ledger(ctx context.Context) (Snapshot, error) {
	wctx, cancel := context.WithTimeout(ctx, ledgerWait)
	defer cancel()
	mark := p.ledger.mark()
	waitErr := wait.Until(wctx, 5*time.Millisecond, func(context.Context) error { return p.ledger.settled(mark) })
	err := errors.Join(waitErr, p.ledger.refresh(ctx, p.ln))
	return p.ledger.snapshot(p.now(), p.knobs.snapshot()), err
}

// Forget drops what the ledger holds of the purchases asking for paths,
// and their stored idempotent answers, so that a long run's provider
// stays the size of what is live: a harness calls it for purchases it has
// judged for good and will not buy again. What other purchases may rely
// on stays (see the ledger's forget). It returns the hashes of the
// invoices and challenges it dropped, for the caller's own bookkeeping.
func (p *Provider) Forget(paths []string) []string {
	set := make(map[string]bool, len(paths))
	for _, path := range paths {
		set[path] = true
	}
	hashes, keys := p.ledger.forget(set)
	p.idem.forget(keys)
	return hashes
}

// Requests is how many requests the ledger holds.
func (p *Provider) Requests() int {
	p.ledger.mu.Lock()
	defer p.ledger.mu.Unlock()
	return len(p.ledger.requests)
}

// Invoice reads one of the provider's invoices from the node.
func (p *Provider) Invoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error) {
	if _, ok := p.ledger.invoice(hash.String()); !ok {
		return InvoiceRecord{}, fmt.Errorf("invoice %s: %w", short(hash), ErrNotFound)
	}
	inv, err := p.ln.LookupInvoice(ctx, hash)
	p.ledger.setInvoice(hash.String(), inv, err)
	rec, _ := p.ledger.invoice(hash.String())
	return rec, err
}

// SettleInvoice settles an accepted hold invoice.
func (p *Provider) SettleInvoice(ctx context.Context, hash lntypes.Hash) error {
	if err := p.holds.settle(ctx, hash); err != nil {
		return err
	}
	_, err := p.Invoice(ctx, hash)
	return err
}

// CancelInvoice cancels a hold invoice, open or accepted.
func (p *Provider) CancelInvoice(ctx context.Context, hash lntypes.Hash) error {
	if err := p.holds.cancel(ctx, hash); err != nil {
		return err
	}
	_, err := p.Invoice(ctx, hash)
	return err
}

// WaitInvoice waits until one of the provider's invoices reaches state
// (ACCEPTED: the payer's HTLC is locked in).
func (p *Provider) WaitInvoice(ctx context.Context, hash lntypes.Hash, state InvoiceState) error {
	if _, ok := p.ledger.invoice(hash.String()); !ok {
		return fmt.Errorf("invoice %s: %w", short(hash), ErrNotFound)
	}
	return p.holds.wait(ctx, hash, state)
}

// Restart takes the L402 HTTP and gRPC APIs down, cutting every open
// connection, and brings them back on the same ports after down. With
// forget, the provider also loses its root keys (every token stops
// verifying), its stored idempotent answers and its spent tokens, as a
// provider without durable state would. The control API stays up.
func (p *Provider) Restart(ctx context.Context, down time.Duration, forget bool) error {
	p.srv.Lock()
	defer p.srv.Unlock()
	if p.closed {
		return fmt.Errorf("restart: provider closed")
	}
	if p.httpSrv == nil {
		return fmt.Errorf("restart: provider is not listening (made with New, not Start)")
	}
	p.log.Info("provider restart", "down", down, "forget", forget)
	p.ledger.addEvent("restart", fmt.Sprintf("down %s forget %v", down, forget), p.now())
	_ = p.httpSrv.Close()
	p.grpcSrv.Stop()
	if p.tlsSrv != nil {
		_ = p.tlsSrv.Close()
	}
	if forget {
		p.secrets.forget()
		p.idem.reset()
		p.mu.Lock()
		clear(p.spent)
		p.mu.Unlock()
	}
	t := time.NewTimer(down)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return fmt.Errorf("restart: %w (APIs left down)", ctx.Err())
	}
	if err := p.listenAPIs(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	p.ledger.addEvent("up", "", p.now())
	return nil
}

// Close stops every API and the background work on hold invoices. It is
// idempotent. Open hold invoices stay as they are on the node.
func (p *Provider) Close() error {
	p.srv.Lock()
	if p.closed {
		p.srv.Unlock()
		return nil
	}
	p.closed = true
	var errs []error
	if p.httpSrv != nil {
		errs = append(errs, p.httpSrv.Close())
		p.grpcSrv.Stop()
	}
	if p.tlsSrv != nil {
		errs = append(errs, p.tlsSrv.Close())
	}
	if p.ctlSrv != nil {
		errs = append(errs, p.ctlSrv.Close())
	}
	p.srv.Unlock()
	p.cancel()
	p.holds.close()
	return errors.Join(errs...)
}
