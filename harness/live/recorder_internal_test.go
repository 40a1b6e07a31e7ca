package live

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// TestRecorderReconnectsPromptly stops the node behind the recorder (a
// gRPC server standing for LND's RPC port), keeps calling through the
// recorder while it is down, as a client tracking its payment does, and
// brings it back on the same address: the first call after that reaches
// it. With gRPC's default backoff the recorder's connection would wait
// seconds before trying the node again and fail that call (seen as a
// payment whose outcome a restarted client could not read:
// payer-lnd-killed-in-flight).
func TestRecorderReconnectsPromptly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node, conn := throughRecorder(t)
	check := func() error { return regtesttest.Check(ctx, conn) }
	require.NoError(t, check())
	// Six seconds of failed calls: gRPC's default backoff would by now
	// leave about four seconds between the recorder's attempts.
	node.Outage(ctx, 6*time.Second, check)
	node.Start()
	require.NoError(t, check(), "the first call after the node is back reaches it")
}

// TestRecorderFollowsAMovedNode stops the node behind the recorder for a
// second and starts it on a fresh port, as a node whose port was taken
// while it restarted: the first call after that reaches it there.
func TestRecorderFollowsAMovedNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node, conn := throughRecorder(t)
	require.NoError(t, regtesttest.Check(ctx, conn))
	old := node.Addr()
	node.Outage(ctx, time.Second, func() error { return regtesttest.Check(ctx, conn) })
	node.Move()
	require.NotEqual(t, old, node.Addr())
	require.NoError(t, regtesttest.Check(ctx, conn), "the first call after the move reaches the node on its new port")
}

// throughRecorder starts a FakeRPC standing for the payer's LND, a
// recorder in front of it, and a client connection to the recorder, all
// closed when the test ends.
func throughRecorder(t *testing.T) (*regtesttest.FakeRPC, *grpc.ClientConn) {
	t.Helper()
	node := regtesttest.StartFakeRPC(t)
	rec, err := StartRecorder(node.Addr, node.CertPath, node.KeyPath, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { rec.Close() })
	creds, err := credentials.NewClientTLSFromFile(node.CertPath, "")
	require.NoError(t, err)
	conn, err := grpc.NewClient(rec.Addr(), grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return node, conn
}
