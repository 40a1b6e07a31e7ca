package regtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// TestDialReconnectsWithinASecond: a connection from Dial to a node that
// went down while it kept being called (as the harness polls a killed
// node, as a client tracks its payment) reaches the node within about a
// second of its return. With gRPC's default backoff, after ten seconds of
// failed calls the next attempt would come five or more seconds later;
// after a minute, later than the 20 s the harness gives a restarted node
// to be ready (seen as "wait for bob to be ready: connection refused"
// with bob up).
func TestDialReconnectsWithinASecond(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := regtesttest.StartFakeRPC(t)
	conn, err := regtest.Dial(node.Addr(), node.CertPath, node.Macaroon)
	require.NoError(t, err)
	defer conn.Close()
	check := func() error { return regtesttest.Check(ctx, conn) }
	require.NoError(t, check())
	node.Outage(ctx, 10*time.Second, check)
	node.Start()
	back := time.Now()
	require.Eventually(t, func() bool { return check() == nil }, 3*time.Second, 50*time.Millisecond,
		"reached within a second or so of the node's return (DialBackoff), not gRPC's default backoff")
	t.Logf("reached %s after the node's return", time.Since(back).Round(time.Millisecond))
}
