package live

import (
	"context"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
)

// TestPhasesCount counts each identity once, every occurrence of a phase
// without one, and only the payments of issued challenges; await returns
// once the count reaches what it waits for.
func TestPhasesCount(t *testing.T) {
	p := newPhases()
	require.Zero(t, p.count(harness.PaymentInFlight))

	p.payment("aa", lnrpc.Payment_IN_FLIGHT) // not a challenge's
	require.Zero(t, p.count(harness.PaymentInFlight))

	p.challenge("aa")
	p.challenge("aa")
	require.Equal(t, 1, p.count(harness.ChallengeIssued))
	p.payment("aa", lnrpc.Payment_IN_FLIGHT)
	p.payment("aa", lnrpc.Payment_SUCCEEDED)
	require.Equal(t, 1, p.count(harness.PaymentInFlight))
	require.Equal(t, 1, p.count(harness.PreimageReceived))

	p.occur(harness.Delivered)
	p.occur(harness.Delivered)
	require.Equal(t, 2, p.count(harness.Delivered))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next := p.count(harness.ChallengeIssued) + 1
	done := make(chan error, 1)
	go func() { done <- p.await(ctx, harness.ChallengeIssued, next) }()
	p.challenge("bb")
	require.NoError(t, <-done)
	require.Equal(t, 2, p.count(harness.ChallengeIssued))
}
