package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/regtest"
)

// Links are the run's network links: toxiproxy proxies, one per hop,
// and groups of them under one name. The proxies run in this process
// (NewLinks) or on a toxiproxy server of their own, driven with
// toxiproxy's Go client (NewRemoteLinks: a container of the run's
// network); everything above the proxies is the same.
//
//	caller --> <listen> --[toxics]--> upstream
//	            (stable per name)     (may change: Add again)
//
// A proxy listens on one address for its whole life: a new upstream (a
// node restarted on fresh ports) and a link taken down and brought up
// again reuse it, so callers never learn a new address. While a link is
// down its port is free, and in principle another process could take it
// meanwhile; bringing the link up then fails instead of silently moving.
//
// Every toxiproxy call is bounded by the caller's context: toxiproxy can
// block adding or removing a toxic while a connection's buffers are full,
// and then the call gives up with the context's error and finishes, or
// not, in the background.
type Links struct {
	log    *slog.Logger
	server proxyServer
	seq    atomic.Uint64 // toxic names

	mu      sync.Mutex
	proxies map[string]proxy
	groups  map[string][]string
	closed  bool
	// down are the proxies brought down; swallowed counts each proxy's
	// timeout toxics (traffic goes in, nothing comes out).
	down      map[string]bool
	swallowed map[string]int
}

// Passes reports whether a proxy carries traffic both ways: it is up and
// no timeout toxic swallows it. Latency and the like still pass.
func (l *Links) Passes(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.down[name] && l.swallowed[name] == 0
}

// note records a proxy's state change for Passes.
func (l *Links) note(name string, f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == nil {
		l.down, l.swallowed = map[string]bool{}, map[string]int{}
	}
	f()
}

// proxyServer makes proxies: in this process or on a toxiproxy server.
type proxyServer interface {
	// create starts a proxy towards upstream.
	create(name, upstream string) (proxy, error)
}

// proxy is one toxiproxy proxy.
type proxy interface {
	// addrs are where callers reach it: from this process, and from the
	// network's programs (the same for an in-process proxy).
	addrs() (host, peer string)
	upstream() string
	// setUpstream points it elsewhere, keeping its address, its toxics and
	// its state (up or down).
	setUpstream(upstream string) error
	setEnabled(up bool) error
	// addToxic adds a toxic from toxiproxy's JSON and returns its name.
	addToxic(body []byte) (string, error)
	// removeToxic removes one; a toxic already gone is not an error.
	removeToxic(name string) error
	stop()
}

var (
	// ErrUnknownLink: no link by that name.
	ErrUnknownLink = errors.New("unknown link")
	// ErrInvalidToxic: a toxic's type, stream or attributes are wrong.
	ErrInvalidToxic = errors.New("invalid toxic")
	// ErrLinksClosed: the links were closed.
	ErrLinksClosed = errors.New("links are closed")
)

// NewLinks makes an empty set of links whose proxies run in this
// process, on 127.0.0.1. toxiproxy's own log lines (warn and above) go to
// log at debug level: under faults they are expected.
func NewLinks(log *slog.Logger) *Links {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	zlog := zerolog.New(slogWriter{log}).Level(zerolog.WarnLevel)
	return newLinks(log, &localServer{zlog: zlog, server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zlog)})
}

func newLinks(log *slog.Logger, server proxyServer) *Links {
	return &Links{log: log, server: server, proxies: map[string]proxy{}, groups: map[string][]string{}}
}

// slogWriter hands zerolog's JSON lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug("toxiproxy", "line", strings.TrimSpace(string(p)))
	return len(p), nil
}

// Add starts a proxy named name towards upstream and returns its
// address as this process reaches it. Adding an existing name again
// points it at the new upstream (closing the connections to the old one)
// and keeps its address and its toxics; a link that is down stays down.
func (l *Links) Add(name, upstream string) (string, error) {
	p, err := l.add(name, upstream)
	if err != nil {
		return "", err
	}
	host, _ := p.addrs()
	return host, nil
}

func (l *Links) add(name, upstream string) (proxy, error) {
	if name == "" || upstream == "" {
		return nil, fmt.Errorf("add link %q -> %q: name and upstream are required", name, upstream)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("add link %s: %w", name, ErrLinksClosed)
	}
	if _, ok := l.groups[name]; ok {
		return nil, fmt.Errorf("add link %s: already a group", name)
	}
	if p, ok := l.proxies[name]; ok {
		if p.upstream() == upstream {
			return p, nil
		}
		if err := p.setUpstream(upstream); err != nil {
			return nil, fmt.Errorf("link %s: new upstream %s: %w", name, upstream, err)
		}
		l.log.Debug("link upstream changed", "link", name, "upstream", upstream)
		return p, nil
	}
	p, err := l.server.create(name, upstream)
	if err != nil {
		return nil, fmt.Errorf("start link %s: %w", name, err)
	}
	l.proxies[name] = p
	host, peer := p.addrs()
	l.log.Debug("link started", "link", name, "listen", host, "peer", peer, "upstream", upstream)
	return p, nil
}

// Interpose is Add for regtest.WithInterpose: the address it returns is
// the one the network's programs reach the proxy at.
func (l *Links) Interpose(h regtest.Hop) (string, error) {
	p, err := l.add(h.Name, h.Upstream)
	if err != nil {
		return "", err
	}
	_, peer := p.addrs()
	return peer, nil
}

// Group registers name as a link that applies toxics and up/down to
// every member (the two proxies of a peer-to-peer link, one per
// direction of dialing). Members are resolved when the group is used, so
// they may be added later; a group of one is an alias.
func (l *Links) Group(name string, members ...string) error {
	if name == "" || len(members) == 0 {
		return fmt.Errorf("group %q: a name and members are required", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("group %s: %w", name, ErrLinksClosed)
	}
	if _, ok := l.proxies[name]; ok {
		return fmt.Errorf("group %s: already a link", name)
	}
	for _, m := range members {
		if _, ok := l.groups[m]; ok || m == name {
			return fmt.Errorf("group %s: member %s is a group", name, m)
		}
	}
	l.groups[name] = slices.Clone(members)
	return nil
}

// Link returns the link or group by name.
func (l *Links) Link(name string) (harness.Link, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("link %s: %w", name, ErrLinksClosed)
	}
	if members, ok := l.groups[name]; ok {
		g := &group{name: name}
		for _, m := range members {
			p, ok := l.proxies[m]
			if !ok {
				return nil, fmt.Errorf("link %s: member %s: %w", name, m, ErrUnknownLink)
			}
			g.members = append(g.members, &link{l: l, p: p, name: m})
		}
		return g, nil
	}
	if p, ok := l.proxies[name]; ok {
		return &link{l: l, p: p, name: name}, nil
	}
	return nil, fmt.Errorf("link %s: %w", name, ErrUnknownLink)
}

// Addr is a proxy's address as this process reaches it.
func (l *Links) Addr(name string) (string, error) {
	l.mu.Lock()
	p, ok := l.proxies[name]
	l.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("link %s: %w", name, ErrUnknownLink)
	}
	host, _ := p.addrs()
	return host, nil
}

// Names lists the proxies and groups, sorted.
func (l *Links) Names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for n := range l.proxies {
		out = append(out, n)
	}
	for n := range l.groups {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// closeTimeout bounds Close: a proxy stops once its accept loop returns,
// and that loop can sit in a dial to an upstream that does not answer.
const closeTimeout = 10 * time.Second

// Close stops every proxy, closing their connections. It is idempotent.
func (l *Links) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	proxies := maps.Clone(l.proxies)
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range proxies {
		wg.Go(p.stop)
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
		return nil
	case <-time.After(closeTimeout):
		return fmt.Errorf("close links: proxies still stopping after %s", closeTimeout)
	}
}

func (l *Links) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// link is one proxy.
type link struct {
	l    *Links
	p    proxy
	name string
}

func (k *link) Name() string { return k.name }

// AddToxic adds t with toxicity 1 under a unique name.
func (k *link) AddToxic(ctx context.Context, t harness.Toxic) (harness.Heal, error) {
	body, stream, err := toxicJSON(t, fmt.Sprintf("%s_%d", t.Type, k.l.seq.Add(1)))
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", k.name, err)
	}
	if k.l.isClosed() {
		return nil, fmt.Errorf("link %s: %w", k.name, ErrLinksClosed)
	}
	var name string
	add := func() error {
		n, err := k.p.addToxic(body)
		name = n
		return err
	}
	done := run(add)
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("link %s: add %s toxic: %w", k.name, t.Type, err)
		}
	case <-ctx.Done():
		// The toxic may still land: take it off again when it does.
		go func() {
			if err := <-done; err == nil {
				k.remove(name)
			}
		}()
		return nil, fmt.Errorf("link %s: add %s toxic: %w", k.name, t.Type, ctx.Err())
	}
	k.l.log.Debug("toxic added", "link", k.name, "toxic", name, "type", t.Type, "stream", stream, "attributes", t.Attributes)
	swallows := t.Type == "timeout"
	if swallows {
		k.l.note(k.name, func() { k.l.swallowed[k.name]++ })
	}
	r := &removal{what: fmt.Sprintf("link %s: remove %s toxic", k.name, t.Type), f: func() error {
		err := k.remove(name)
		if err == nil && swallows {
			k.l.note(k.name, func() { k.l.swallowed[k.name]-- })
		}
		return err
	}}
	return r.heal, nil
}

// remove takes a toxic off; a toxic already gone is removed.
func (k *link) remove(name string) error {
	err := k.p.removeToxic(name)
	if err == nil {
		k.l.log.Debug("toxic removed", "link", k.name, "toxic", name)
	}
	return err
}

// SetEnabled stops the proxy (closing every connection, refusing new
// ones) or starts it again on the same address.
func (k *link) SetEnabled(ctx context.Context, up bool) error {
	if k.l.isClosed() {
		return fmt.Errorf("link %s: %w", k.name, ErrLinksClosed)
	}
	done := run(func() error { return k.p.setEnabled(up) })
	state := map[bool]string{true: "up", false: "down"}[up]
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("link %s: bring %s: %w", k.name, state, err)
		}
		k.l.log.Debug("link "+state, "link", k.name)
		k.l.note(k.name, func() { k.l.down[k.name] = !up })
		return nil
	case <-ctx.Done():
		return fmt.Errorf("link %s: bring %s: %w", k.name, state, ctx.Err())
	}
}

// run calls f in a goroutine; its result arrives on the channel.
func run(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// removal is an idempotent heal: the first call starts the removal, and
// every call waits for that one removal or for its own context.
type removal struct {
	what string
	f    func() error
	once sync.Once
	done chan struct{}
	err  error
}

func (r *removal) heal(ctx context.Context) error {
	r.once.Do(func() {
		r.done = make(chan struct{})
		go func() {
			r.err = r.f()
			close(r.done)
		}()
	})
	select {
	case <-r.done:
		if r.err != nil {
			return fmt.Errorf("%s: %w", r.what, r.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", r.what, ctx.Err())
	}
}

// group applies everything to each member.
type group struct {
	name    string
	members []harness.Link
}

func (g *group) Name() string { return g.name }

func (g *group) AddToxic(ctx context.Context, t harness.Toxic) (harness.Heal, error) {
	var heals []harness.Heal
	healAll := func(ctx context.Context) error {
		var errs []error
		for _, h := range heals {
			errs = append(errs, h(ctx))
		}
		return errors.Join(errs...)
	}
	for _, m := range g.members {
		h, err := m.AddToxic(ctx, t)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("group %s: %w", g.name, err), healAll(ctx))
		}
		heals = append(heals, h)
	}
	return healAll, nil
}

func (g *group) SetEnabled(ctx context.Context, up bool) error {
	var errs []error
	for _, m := range g.members {
		if err := m.SetEnabled(ctx, up); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", g.name, err))
		}
	}
	return errors.Join(errs...)
}

// toxicAttrs are the attributes of each toxic type, as toxiproxy names
// them, with their least value. Every attribute is an integer (ms, except
// the slicer's delay in µs and the bandwidth's rate in KB/s).
var toxicAttrs = map[string]map[string]int64{
	"latency":    {"latency": 0, "jitter": 0},
	"timeout":    {"timeout": 0},
	"reset_peer": {"timeout": 0},
	"limit_data": {"bytes": 0},
	// A rate of 0 makes toxiproxy spin on empty chunks.
	"bandwidth": {"rate": 1},
	// An average size of 0 makes toxiproxy recurse forever.
	"slicer":     {"average_size": 1, "size_variation": 0, "delay": 0},
	"slow_close": {"delay": 0},
}

// required attributes: those whose zero value toxiproxy cannot use.
var requiredAttrs = map[string][]string{
	"bandwidth": {"rate"},
	"slicer":    {"average_size"},
}

// toxicJSON validates t and renders toxiproxy's JSON for it.
func toxicJSON(t harness.Toxic, name string) ([]byte, harness.Stream, error) {
	known, ok := toxicAttrs[t.Type]
	if !ok {
		return nil, "", fmt.Errorf("%w: unknown type %q", ErrInvalidToxic, t.Type)
	}
	stream := t.Stream
	switch stream {
	case "":
		stream = harness.Downstream
	case harness.Upstream, harness.Downstream:
	default:
		return nil, "", fmt.Errorf("%w: %s: unknown stream %q", ErrInvalidToxic, t.Type, t.Stream)
	}
	attrs := map[string]int64{}
	for k, v := range t.Attributes {
		least, ok := known[k]
		if !ok {
			return nil, "", fmt.Errorf("%w: %s: unknown attribute %q", ErrInvalidToxic, t.Type, k)
		}
		n, ok := integer(v)
		if !ok {
			return nil, "", fmt.Errorf("%w: %s: attribute %s=%v is not an integer", ErrInvalidToxic, t.Type, k, v)
		}
		if n < least {
			return nil, "", fmt.Errorf("%w: %s: attribute %s=%d is below %d", ErrInvalidToxic, t.Type, k, n, least)
		}
		attrs[k] = n
	}
	for _, k := range requiredAttrs[t.Type] {
		if _, ok := attrs[k]; !ok {
			return nil, "", fmt.Errorf("%w: %s: attribute %s is required", ErrInvalidToxic, t.Type, k)
		}
	}
	if t.Type == "slicer" && attrs["size_variation"] >= attrs["average_size"] {
		return nil, "", fmt.Errorf("%w: slicer: size_variation %d must be below average_size %d",
			ErrInvalidToxic, attrs["size_variation"], attrs["average_size"])
	}
	body, err := json.Marshal(map[string]any{
		"name": name, "type": t.Type, "stream": string(stream), "toxicity": 1.0, "attributes": attrs,
	})
	return body, stream, err
}

// integer converts the numeric forms an attribute arrives in (Go values,
// or JSON numbers from a decoded fault) to an int64.
func integer(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint32:
		return int64(n), true
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// localServer runs proxies in this process, on 127.0.0.1.
type localServer struct {
	zlog   zerolog.Logger
	server *toxiproxy.ApiServer
}

// create listens on a port from below the kernel's ephemeral range
// (regtest.FreeAddr): a link brought down and up again listens on its
// port again, and an outgoing connection given that port meanwhile would
// make that fail.
func (s *localServer) create(name, upstream string) (proxy, error) {
	var err error
	for range 5 {
		var listen string
		if listen, err = regtest.FreeAddr(); err != nil {
			return nil, err
		}
		p := toxiproxy.NewProxy(s.server, name, listen, upstream)
		if err = p.Start(); err == nil {
			return &localProxy{s: s, p: p}, nil
		}
	}
	return nil, err
}

type localProxy struct {
	s *localServer
	p *toxiproxy.Proxy
}

func (lp *localProxy) addrs() (string, string) {
	lp.p.Lock()
	defer lp.p.Unlock()
	return lp.p.Listen, lp.p.Listen // the bound address, set by Start
}

func (lp *localProxy) upstream() string {
	lp.p.Lock()
	defer lp.p.Unlock()
	return lp.p.Upstream
}

func (lp *localProxy) setUpstream(upstream string) error {
	lp.p.Lock()
	listen, enabled := lp.p.Listen, lp.p.Enabled
	lp.p.Unlock()
	// Update stops the proxy, sets the upstream, and starts it again on
	// the same listen address if it was enabled.
	return lp.p.Update(&toxiproxy.Proxy{Listen: listen, Upstream: upstream, Enabled: enabled})
}

func (lp *localProxy) setEnabled(up bool) error {
	if !up {
		lp.p.Stop()
		return nil
	}
	if err := lp.p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return err
	}
	return nil
}

func (lp *localProxy) addToxic(body []byte) (string, error) {
	w, err := lp.p.Toxics.AddToxicJson(bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	return w.Name, nil
}

func (lp *localProxy) removeToxic(name string) error {
	err := lp.p.Toxics.RemoveToxic(lp.s.zlog.WithContext(context.Background()), name)
	if errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return nil
	}
	return err
}

func (lp *localProxy) stop() { lp.p.Stop() }
