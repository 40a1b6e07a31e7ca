package live_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// linkTests run on links in this process and on a toxiproxy server of
// their own (the containers backend's way).
var linkTests = []struct {
	name string
	f    func(*testing.T, func(*testing.T) *live.Links)
}{
	{"AddKeepsAddressAcrossUpstreams", testAddKeepsAddressAcrossUpstreams},
	{"InterposeAddsTheHop", testInterposeAddsTheHop},
	{"UnknownLink", testUnknownLink},
	{"LatencyDelaysData", testLatencyDelaysData},
	{"TimeoutBlackholesUntilHeal", testTimeoutBlackholesUntilHeal},
	{"TimeoutClosesAfterSilence", testTimeoutClosesAfterSilence},
	{"ResetPeerResets", testResetPeerResets},
	{"LimitDataCutsAfterBytes", testLimitDataCutsAfterBytes},
	{"DownRefusesAndComesBackOnTheSameAddress", testDownRefusesAndComesBackOnTheSameAddress},
	{"GroupAppliesToEveryMember", testGroupAppliesToEveryMember},
	{"AddToxicValidates", testAddToxicValidates},
	{"HealIsBoundedWhenToxiproxyHangs", testHealIsBoundedWhenToxiproxyHangs},
}

func TestLinks(t *testing.T) {
	newLinks := func(t *testing.T) *live.Links {
		l := live.NewLinks(slog.New(slog.DiscardHandler))
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	}
	for _, tt := range linkTests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newLinks) })
	}
}

// TestLinksOnToxiproxyServer runs the same tests on a toxiproxy server
// built from its Go module and started as a program of a sandbox (local
// processes here; a container on the containers backend), driven with
// toxiproxy's Go client.
func TestLinksOnToxiproxyServer(t *testing.T) {
	ctx := testCtx(t)
	bin, err := live.ToxiproxyBinary(ctx, t.TempDir())
	require.NoError(t, err)
	newLinks := func(t *testing.T) *live.Links {
		sb, err := regtest.Processes{}.Open(ctx, t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, sb.Close()) })
		l, err := live.StartToxiproxy(testCtx(t), sb, t.TempDir(), bin, nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, l.Close()) })
		return l
	}
	for _, tt := range linkTests {
		t.Run(tt.name, func(t *testing.T) { tt.f(t, newLinks) })
	}
}

// serve runs handle on every connection to a fresh loopback listener.
func serve(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo answers every line with the same line.
func echo(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

// greet writes its name and waits for the caller to hang up.
func greet(name string) func(net.Conn) {
	return func(c net.Conn) {
		io.WriteString(c, name+"\n")
		io.Copy(io.Discard, c)
	}
}

// blast answers the first byte it reads with n bytes.
func blast(n int) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Read(make([]byte, 1)); err != nil {
			return
		}
		c.Write([]byte(strings.Repeat("x", n)))
	}
}

func dial(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends a line and reads the answer.
func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

func readLine(t *testing.T, c net.Conn) string {
	got, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(got, "\n")
}

func testAddKeepsAddressAcrossUpstreams(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	a, b := serve(t, greet("a")), serve(t, greet("b"))

	addr, err := l.Add("x", a)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	require.NotEqual(t, "127.0.0.1:0", addr, "the bound address, not the requested one")
	old := dial(t, addr)
	require.Equal(t, "a", readLine(t, old))

	again, err := l.Add("x", a)
	require.NoError(t, err)
	require.Equal(t, addr, again)

	moved, err := l.Add("x", b)
	require.NoError(t, err)
	require.Equal(t, addr, moved, "a new upstream keeps the listen address")
	_, err = old.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "connections to the old upstream are closed")
	require.Equal(t, "b", readLine(t, dial(t, addr)))

	got, err := l.Addr("x")
	require.NoError(t, err)
	require.Equal(t, addr, got)
	require.Equal(t, []string{"x"}, l.Names())
}

func testInterposeAddsTheHop(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	up := serve(t, greet("btcd"))
	addr, err := l.Interpose(regtest.Hop{Name: regtest.ChainHop(regtest.Alice), Upstream: up})
	require.NoError(t, err)
	require.Equal(t, "btcd", readLine(t, dial(t, addr)))
	k, err := l.Link("chain:alice")
	require.NoError(t, err)
	require.Equal(t, "chain:alice", k.Name())
}

func testUnknownLink(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	_, err := l.Link("nope")
	require.ErrorIs(t, err, live.ErrUnknownLink)
	_, err = l.Addr("nope")
	require.ErrorIs(t, err, live.ErrUnknownLink)
	require.NoError(t, l.Group("pair", "p2p:alice", "p2p:bob"))
	_, err = l.Link("pair")
	require.ErrorIs(t, err, live.ErrUnknownLink, "a group of links that do not exist")
}

func testLatencyDelaysData(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)

	const delay = 200 * time.Millisecond
	heal, err := k.AddToxic(ctx, harness.Toxic{Type: "latency", Attributes: map[string]any{"latency": delay.Milliseconds()}})
	require.NoError(t, err)
	c := dial(t, addr)
	start := time.Now()
	got, err := roundTrip(c, "ping")
	require.NoError(t, err)
	require.Equal(t, "ping", got)
	require.GreaterOrEqual(t, time.Since(start), delay)

	require.NoError(t, heal(ctx))
	require.NoError(t, heal(ctx), "heal is idempotent")
	got, err = roundTrip(c, "pong")
	require.NoError(t, err, "the connection outlives the toxic")
	require.Equal(t, "pong", got)
}

func testTimeoutBlackholesUntilHeal(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)

	heal, err := k.AddToxic(ctx, harness.Toxic{Type: "timeout", Stream: harness.Downstream, Attributes: map[string]any{"timeout": 0}})
	require.NoError(t, err)
	c := dial(t, addr)
	_, err = io.WriteString(c, "ping\n")
	require.NoError(t, err)
	// The answer is dropped, not late: nothing arrives, and healing
	// closes the connection without delivering it.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetReadDeadline(time.Time{}))

	require.NoError(t, heal(ctx))
	n, err := c.Read(make([]byte, 16))
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
	got, err := roundTrip(dial(t, addr), "ping")
	require.NoError(t, err, "new connections pass once healed")
	require.Equal(t, "ping", got)
}

func testTimeoutClosesAfterSilence(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)

	const after = 200 * time.Millisecond
	_, err = k.AddToxic(ctx, harness.Toxic{Type: "timeout", Attributes: map[string]any{"timeout": after.Milliseconds()}})
	require.NoError(t, err)
	c := dial(t, addr)
	start := time.Now()
	_, err = roundTrip(c, "ping")
	require.ErrorIs(t, err, io.EOF)
	require.GreaterOrEqual(t, time.Since(start), after)
}

func testResetPeerResets(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)

	heal, err := k.AddToxic(ctx, harness.Toxic{Type: "reset_peer", Attributes: map[string]any{"timeout": 0}})
	require.NoError(t, err)
	_, err = roundTrip(dial(t, addr), "ping")
	require.ErrorIs(t, err, syscall.ECONNRESET)

	require.NoError(t, heal(ctx))
	got, err := roundTrip(dial(t, addr), "ping")
	require.NoError(t, err)
	require.Equal(t, "ping", got)
}

func testLimitDataCutsAfterBytes(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, blast(10_000)))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)

	_, err = k.AddToxic(ctx, harness.Toxic{Type: "limit_data", Attributes: map[string]any{"bytes": 100}})
	require.NoError(t, err)
	c := dial(t, addr)
	_, err = c.Write([]byte{1})
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Len(t, got, 100)
}

func testDownRefusesAndComesBackOnTheSameAddress(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)
	open := dial(t, addr)
	_, err = roundTrip(open, "ping")
	require.NoError(t, err)

	require.NoError(t, k.SetEnabled(ctx, false))
	require.NoError(t, k.SetEnabled(ctx, false), "down twice")
	_, err = open.Read(make([]byte, 1))
	require.Error(t, err, "open connections are closed")
	_, err = net.Dial("tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	// A new upstream while down: the link stays down.
	_, err = l.Add("x", serve(t, echo))
	require.NoError(t, err)
	_, err = net.Dial("tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)

	require.NoError(t, k.SetEnabled(ctx, true))
	require.NoError(t, k.SetEnabled(ctx, true), "up twice")
	got, err := roundTrip(dial(t, addr), "ping")
	require.NoError(t, err)
	require.Equal(t, "ping", got)
}

func testGroupAppliesToEveryMember(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	a, err := l.Add("p2p:alice", serve(t, echo))
	require.NoError(t, err)
	b, err := l.Add("p2p:bob", serve(t, echo))
	require.NoError(t, err)
	require.NoError(t, l.Group(harness.LinkPeers, "p2p:alice", "p2p:bob"))
	require.Error(t, l.Group("p2p:alice", "p2p:bob"), "a group cannot shadow a link")
	require.Error(t, l.Group("nested", harness.LinkPeers), "groups do not nest")
	_, err = l.Add(harness.LinkPeers, a)
	require.Error(t, err, "a link cannot shadow a group")
	require.Equal(t, []string{harness.LinkPeers, "p2p:alice", "p2p:bob"}, l.Names())

	g, err := l.Link(harness.LinkPeers)
	require.NoError(t, err)
	require.Equal(t, harness.LinkPeers, g.Name())
	const delay = 150 * time.Millisecond
	heal, err := g.AddToxic(ctx, harness.Toxic{Type: "latency", Attributes: map[string]any{"latency": delay.Milliseconds()}})
	require.NoError(t, err)
	for _, addr := range []string{a, b} {
		start := time.Now()
		_, err := roundTrip(dial(t, addr), "ping")
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), delay, addr)
	}
	require.NoError(t, heal(ctx))
	require.NoError(t, heal(ctx))

	require.NoError(t, g.SetEnabled(ctx, false))
	for _, addr := range []string{a, b} {
		_, err = net.Dial("tcp", addr)
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
	}
	require.NoError(t, g.SetEnabled(ctx, true))
	for _, addr := range []string{a, b} {
		_, err := roundTrip(dial(t, addr), "ping")
		require.NoError(t, err)
	}
}

func testAddToxicValidates(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	_, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)
	for name, tx := range map[string]harness.Toxic{
		"unknown type":      {Type: "partition"},
		"unknown stream":    {Type: "latency", Stream: "sideways"},
		"unknown attribute": {Type: "latency", Attributes: map[string]any{"delay": 10}},
		"negative":          {Type: "timeout", Attributes: map[string]any{"timeout": -1}},
		"not an integer":    {Type: "latency", Attributes: map[string]any{"latency": "10ms"}},
		"fractional":        {Type: "latency", Attributes: map[string]any{"latency": 1.5}},
		"missing rate":      {Type: "bandwidth"},
		"zero rate":         {Type: "bandwidth", Attributes: map[string]any{"rate": 0}},
		"slicer variation":  {Type: "slicer", Attributes: map[string]any{"average_size": 10, "size_variation": 10}},
	} {
		_, err := k.AddToxic(ctx, tx)
		require.ErrorIs(t, err, live.ErrInvalidToxic, name)
	}
	// JSON numbers, as a decoded fault carries them, are integers too.
	heal, err := k.AddToxic(ctx, harness.Toxic{Type: "latency", Stream: harness.Upstream, Attributes: map[string]any{"latency": float64(5)}})
	require.NoError(t, err)
	require.NoError(t, heal(ctx))
}

func TestCloseIsIdempotent(t *testing.T) {
	l := live.NewLinks(nil)
	addr, err := l.Add("x", serve(t, echo))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	_, err = net.Dial("tcp", addr)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	_, err = l.Add("y", addr)
	require.ErrorIs(t, err, live.ErrLinksClosed)
	_, err = l.Link("x")
	require.ErrorIs(t, err, live.ErrLinksClosed)
}

// TestHealIsBoundedWhenToxiproxyHangs reproduces toxiproxy blocking a
// toxic's removal: with a latency toxic on a connection whose reader has
// stopped reading, the toxic sits blocked sending downstream and
// toxiproxy waits for it forever, holding the link's toxic lock. Heal and
// AddToxic give up with their context's error instead of hanging.
func testHealIsBoundedWhenToxiproxyHangs(t *testing.T, newLinks func(*testing.T) *live.Links) {
	l := newLinks(t)
	ctx := testCtx(t)
	stalled := make(chan struct{})
	addr, err := l.Add("x", serve(t, func(c net.Conn) {
		// Write until writes make no progress at all: every buffer
		// between here and the client is full.
		buf := make([]byte, 64<<10)
		for idle := 0; idle < 3; {
			c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := c.Write(buf)
			switch {
			case n == 0 && errors.Is(err, os.ErrDeadlineExceeded):
				idle++
			case err != nil && n == 0:
				return
			default:
				idle = 0
			}
		}
		close(stalled)
		io.Copy(io.Discard, c)
	}))
	require.NoError(t, err)
	k, err := l.Link("x")
	require.NoError(t, err)
	heal, err := k.AddToxic(ctx, harness.Toxic{Type: "latency", Attributes: map[string]any{"latency": 1}})
	require.NoError(t, err)
	dial(t, addr) // and never read
	select {
	case <-stalled:
	case <-ctx.Done():
		t.Fatal("the server never filled the pipe")
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, heal(short), context.DeadlineExceeded)
	require.ErrorIs(t, heal(short), context.DeadlineExceeded, "a second heal waits for the same removal")
	_, err = k.AddToxic(short, harness.Toxic{Type: "latency"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
