package fault_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/live"
)

// linksBackend is a backend with links and nothing else.
type linksBackend struct{ links *live.Links }

var errNotHere = errors.New("not in the links-only test backend")

func (b linksBackend) Link(name string) (harness.Link, error) { return b.links.Link(name) }

func (linksBackend) Node(string) (harness.Node, error) { return nil, errNotHere }

func (linksBackend) Mine(context.Context, int) error { return errNotHere }

func (linksBackend) Await(context.Context, harness.Phase, int) error { return errNotHere }

func (linksBackend) Truth(context.Context, history.Plan) (*history.Truth, error) {
	return nil, errNotHere
}

// provider is an HTTP server behind the client-provider link.
type provider struct {
	url   string // through the link
	links *live.Links
	env   *harness.Env
}

const bigSize = 10_000

func startProvider(t *testing.T) *provider {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", bigSize))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	links := live.NewLinks(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { require.NoError(t, links.Close()) })
	addr, err := links.Add(harness.LinkProvider, strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	return &provider{
		url:   "http://" + addr,
		links: links,
		env:   &harness.Env{Backend: linksBackend{links}},
	}
}

// get fetches a path through the link and reads the whole body.
func (p *provider) get(ctx context.Context, path string) (string, error) {
	return fetch(ctx, p.url+path)
}

// fetch GETs url on a connection of its own, so that toxics acting when
// a connection opens (reset's SO_LINGER) see every request. The
// connection is kept alive: the server does not close it after
// answering, as it would for "Connection: close".
func fetch(ctx context.Context, url string) (string, error) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func (p *provider) requireOK(t *testing.T, ctx context.Context) {
	t.Helper()
	body, err := p.get(ctx, "/")
	require.NoError(t, err)
	require.Equal(t, "ok", body)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func inject(t *testing.T, ctx context.Context, p *provider, f harness.Fault) harness.Heal {
	t.Helper()
	heal, err := f.Inject(ctx, p.env)
	require.NoError(t, err, f.Name())
	require.NotNil(t, heal)
	return heal
}

func TestLatencyDelaysResponses(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	const delay = 200 * time.Millisecond
	heal := inject(t, ctx, p, fault.Latency{Link: harness.LinkProvider, Delay: delay})
	start := time.Now()
	p.requireOK(t, ctx)
	require.GreaterOrEqual(t, time.Since(start), delay)
	require.NoError(t, heal(ctx))
	require.NoError(t, heal(ctx), "heal is idempotent")
	p.requireOK(t, ctx)
}

func TestTimeoutBlackholesUntilHealed(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	served := make(chan struct{})
	_, err := p.links.Add(harness.LinkProvider, serveOnce(t, served))
	require.NoError(t, err)
	heal := inject(t, ctx, p, fault.Timeout{Link: harness.LinkProvider})
	done := make(chan error, 1)
	go func() { _, err := p.get(ctx, "/"); done <- err }()
	select {
	case <-served:
	case <-ctx.Done():
		t.Fatal("the request never reached the server")
	}
	// The server answered, and the answer is dropped: healing closes the
	// connection and the request fails without it.
	require.NoError(t, heal(ctx))
	require.Error(t, <-done)
	require.NoError(t, heal(ctx))
}

// serveOnce starts a server that answers "ok" and then reports it.
func serveOnce(t *testing.T, served chan<- struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		close(served)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestTimeoutClosesAfterSilence(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	const after = 200 * time.Millisecond
	heal := inject(t, ctx, p, fault.Timeout{Link: harness.LinkProvider, After: after})
	start := time.Now()
	_, err := p.get(ctx, "/")
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), after, "failed with %v", err)
	require.NoError(t, heal(ctx))
	p.requireOK(t, ctx)
}

func TestResetResetsTheConnection(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	heal := inject(t, ctx, p, fault.Reset{Link: harness.LinkProvider})
	_, err := p.get(ctx, "/")
	require.ErrorIs(t, err, syscall.ECONNRESET)
	require.NoError(t, heal(ctx))
	p.requireOK(t, ctx)
}

func TestLimitDataCutsTheResponse(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	const limit = 300 // the headers fit, the body does not
	heal := inject(t, ctx, p, fault.LimitData{Link: harness.LinkProvider, Bytes: limit})
	body, err := p.get(ctx, "/big")
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.NotEmpty(t, body)
	require.Less(t, len(body), limit)
	require.NoError(t, heal(ctx))
	body, err = p.get(ctx, "/big")
	require.NoError(t, err)
	require.Len(t, body, bigSize)
}

func TestBandwidthSlowsTheResponse(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	// 10 kB at 10 kB/s: about a second; toxiproxy sends in 100 ms steps.
	heal := inject(t, ctx, p, fault.Bandwidth{Link: harness.LinkProvider, KBps: 10})
	start := time.Now()
	body, err := p.get(ctx, "/big")
	require.NoError(t, err)
	require.Len(t, body, bigSize)
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond)
	require.NoError(t, heal(ctx))
}

func TestSlicerTricklesTheResponse(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	// 10 kB in slices of at most 100 bytes, 5 ms after each: at least
	// 100 slices.
	const delay = 5 * time.Millisecond
	heal := inject(t, ctx, p, fault.Slicer{Link: harness.LinkProvider, AvgSize: 100, SizeVariation: 20, Delay: delay})
	start := time.Now()
	body, err := p.get(ctx, "/big")
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("x", bigSize), body, "sliced, not damaged")
	require.GreaterOrEqual(t, time.Since(start), 50*delay)
	require.NoError(t, heal(ctx))
}

func TestDownRefusesUntilHealed(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	heal := inject(t, ctx, p, fault.Down{Link: harness.LinkProvider})
	_, err := p.get(ctx, "/")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NoError(t, heal(ctx))
	require.NoError(t, heal(ctx))
	p.requireOK(t, ctx) // the same URL
}

func TestFaultsOnAGroupLink(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	other, err := p.links.Add("other", strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	require.NoError(t, p.links.Group("both", harness.LinkProvider, "other"))
	urls := []string{p.url, "http://" + other}

	heal := inject(t, ctx, p, fault.Down{Link: "both"})
	for _, u := range urls {
		_, err := fetch(ctx, u)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, u)
	}
	require.NoError(t, heal(ctx))

	const delay = 100 * time.Millisecond
	heal = inject(t, ctx, p, fault.Latency{Link: "both", Delay: delay})
	for _, u := range urls {
		start := time.Now()
		_, err := fetch(ctx, u)
		require.NoError(t, err, u)
		require.GreaterOrEqual(t, time.Since(start), delay, u)
	}
	require.NoError(t, heal(ctx))
}

func TestNetworkFaultsValidate(t *testing.T) {
	p, ctx := startProvider(t), testCtx(t)
	l := harness.LinkProvider
	for _, f := range []harness.Fault{
		fault.Latency{Delay: time.Second},
		fault.Latency{Link: l, Delay: -time.Second},
		fault.Latency{Link: l, Jitter: -time.Second},
		fault.Latency{Link: l, Stream: "sideways"},
		fault.Timeout{Link: l, After: -1},
		fault.Reset{Link: l, After: -1},
		fault.LimitData{Link: l, Bytes: -1},
		fault.Bandwidth{Link: l},
		fault.Slicer{Link: l},
		fault.Slicer{Link: l, AvgSize: 10, SizeVariation: 10},
		fault.Slicer{Link: l, AvgSize: 10, Delay: -1},
		fault.Down{},
	} {
		_, err := f.Inject(ctx, p.env)
		require.ErrorIs(t, err, fault.ErrInvalidParam, f.Name())
	}
	_, err := fault.Down{Link: "nowhere"}.Inject(ctx, p.env)
	require.ErrorIs(t, err, live.ErrUnknownLink)
	_, err = fault.Latency{Link: "nowhere"}.Inject(ctx, p.env)
	require.ErrorIs(t, err, live.ErrUnknownLink)
	require.Equal(t, []string{harness.LinkProvider}, p.links.Names(), "nothing was added")
	p.requireOK(t, ctx)
}

func TestNetworkFaultNames(t *testing.T) {
	l := harness.LinkProvider
	for want, f := range map[string]harness.Fault{
		"latency client-provider downstream 2s":                   fault.Latency{Link: l, Delay: 2 * time.Second},
		"latency client-provider upstream 2s jitter 100ms":        fault.Latency{Link: l, Stream: harness.Upstream, Delay: 2 * time.Second, Jitter: 100 * time.Millisecond},
		"timeout client-provider downstream":                      fault.Timeout{Link: l},
		"timeout client-provider downstream close after 5s":       fault.Timeout{Link: l, After: 5 * time.Second},
		"reset client-provider downstream":                        fault.Reset{Link: l},
		"reset lnd-lnd upstream after 1s":                         fault.Reset{Link: harness.LinkPeers, Stream: harness.Upstream, After: time.Second},
		"limit-data client-provider downstream 64B":               fault.LimitData{Link: l, Bytes: 64},
		"bandwidth client-provider downstream 1KB/s":              fault.Bandwidth{Link: l, KBps: 1},
		"slicer client-provider downstream 8B vary 4B every 10ms": fault.Slicer{Link: l, AvgSize: 8, SizeVariation: 4, Delay: 10 * time.Millisecond},
		"down payer-btcd":                                         fault.Down{Link: harness.LinkPayerChain},
	} {
		require.Equal(t, want, f.Name())
	}
}

func TestNetworkFaultsAreJSON(t *testing.T) {
	in := fault.Latency{Link: harness.LinkPeers, Stream: harness.Upstream, Delay: 2 * time.Second}
	data, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"link":"lnd-lnd","stream":"upstream","delay":2000000000}`, string(data))
	var out fault.Latency
	require.NoError(t, json.Unmarshal(data, &out))
	require.Equal(t, in, out)
}
