package main

import (
	"context"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// probeLND waits for an LND that is not up yet, within its context.
func TestProbeLNDWaits(t *testing.T) {
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = probeLND(ctx, lnrpc.NewLightningClient(conn))
	require.Error(t, err)
	require.GreaterOrEqual(t, time.Since(start), 600*time.Millisecond, "it kept trying while nothing listened")
	require.Less(t, time.Since(start), 10*time.Second)
}
