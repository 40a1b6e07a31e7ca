package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
)

// Crash after the node settled the payment but before the journal heard:
// recovery tracks it, finds it settled and delivers with its preimage.
func TestRecoverSucceeded(t *testing.T) {
	e := newEnv(t)
	require.True(t, e.doCrash(e.post("/svc/a", "order"), "k", "sent"))
	require.Equal(t, client.PaySucceeded, e.payer.State(e.payer.Calls()[0].Hash))
	e.restart()

	outs, err := e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Len(t, outs, 1)
	require.Equal(t, client.Delivered, outs[0].Result)
	require.Equal(t, "paid content", string(outs[0].Body))
	require.Len(t, e.payer.Calls(), 1, "recovery never pays")
	require.Equal(t, []string{"intent", "challenge", "dispatched", "settled", "delivered"}, e.states("k"))
	reqs := e.requests()
	last := reqs[len(reqs)-1]
	require.Equal(t, "order", last.Body, "the kept body is sent again")
	require.Equal(t, "k", last.IdemKey)
}

// Crash while HTLCs are in flight: recovery waits for the payment.
func TestRecoverInFlight(t *testing.T) {
	e := newEnv(t)
	e.payer.SetDefault(clienttest.Behavior{Hang: true})
	e.payer.OnSend(func(clienttest.Call) { panic(crash{"in flight"}) })
	require.True(t, e.doCrash(e.get("/svc/a"), "k", ""))
	hash := e.payer.Calls()[0].Hash
	require.Equal(t, client.PayInFlight, e.payer.State(hash))
	e.payer.OnSend(nil)
	e.restart()

	// The context ends while still in flight: Unknown, not Failed.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.payer.OnWait(func(lntypes.Hash) { cancel() })
	outs, err := e.c.Recover(ctx)
	require.NoError(t, err)
	require.Len(t, outs, 1)
	require.Equal(t, client.Unknown, outs[0].Result)
	open, _ := e.store.Unfinished()
	require.Equal(t, []string{"k"}, open)

	// Later the payment settles while we wait.
	e.payer.OnWait(func(h lntypes.Hash) { require.NoError(t, e.payer.Settle(h)) })
	outs, err = e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Len(t, outs, 1)
	require.Equal(t, client.Delivered, outs[0].Result)
	require.Equal(t, hash, outs[0].PaymentHash)
	require.Len(t, e.payer.Calls(), 1)
}

// Crash after the payment failed: no money moved, so recovery closes the
// purchase, and the next Do may pay a new challenge.
func TestRecoverFailed(t *testing.T) {
	e := newEnv(t)
	e.payer.SetDefault(clienttest.Behavior{Fail: true, Reason: "FAILURE_REASON_NO_ROUTE"})
	require.True(t, e.doCrash(e.get("/svc/a"), "k", "sent"))
	e.restart()
	outs, err := e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Len(t, outs, 1)
	require.Equal(t, client.Failed, outs[0].Result)
	require.Equal(t, []string{"intent", "challenge", "dispatched", "unpaid", "failed"}, e.states("k"))

	e.payer.SetDefault(clienttest.Behavior{})
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 2, e.registered())
	require.Len(t, e.payer.Succeeded(), 1)
}

// Crash after journaling the dispatch but before sending: the node never
// saw it, so paying is safe and the purchase does not wedge.
func TestRecoverNotFound(t *testing.T) {
	t.Run("do", func(t *testing.T) {
		e := newEnv(t)
		require.True(t, e.doCrash(e.get("/svc/a"), "k", "dispatched"))
		require.Empty(t, e.payer.Calls())
		e.restart()
		out, err := e.do(e.get("/svc/a"), "k")
		require.NoError(t, err)
		require.Equal(t, client.Delivered, out.Result)
		require.Len(t, e.payer.Calls(), 1)
		require.Equal(t, []string{"intent", "challenge", "dispatched", "unpaid", "dispatched", "settled", "delivered"}, e.states("k"),
			"the invoice the node never saw is paid, not a fresh challenge")
	})
	t.Run("recover", func(t *testing.T) {
		e := newEnv(t)
		require.True(t, e.doCrash(e.get("/svc/a"), "k", "dispatched"))
		e.restart()
		outs, err := e.c.Recover(context.Background())
		require.NoError(t, err)
		require.Equal(t, client.Failed, outs[0].Result, "recovery never starts a payment")
		require.Empty(t, e.payer.Calls())
		spent, _ := e.store.Spent()
		require.Zero(t, spent)
	})
}

// Crash after settling, before delivery: Do delivers with the kept
// preimage and pays nothing.
func TestRecoverSettledNotDelivered(t *testing.T) {
	e := newEnv(t)
	require.True(t, e.doCrash(e.get("/svc/a"), "k", "settled"))
	e.restart()
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 1, e.registered())
}

// Crash after the challenge was journaled but before dispatch: nothing
// was paid, a fresh challenge is fine.
func TestRecoverAfterChallenge(t *testing.T) {
	e := newEnv(t)
	require.True(t, e.doCrash(e.get("/svc/a"), "k", "challenge"))
	e.restart()
	out, err := e.do(e.get("/svc/a"), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 1, e.registered())
}

// A body too large to keep cannot be sent by Recover: the purchase is
// dead-lettered with its preimage, and Do with the same request delivers.
func TestRecoverWithoutKeptBody(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", 70<<10)
	require.True(t, e.doCrash(e.post("/svc/a", big), "k", "settled"))
	e.restart()
	outs, err := e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Equal(t, client.PaidNotDelivered, outs[0].Result)
	require.True(t, outs[0].Preimage.Matches(outs[0].PaymentHash))
	out, err := e.do(e.post("/svc/a", big), "k")
	require.NoError(t, err)
	require.Equal(t, client.Delivered, out.Result)
	require.Equal(t, 1, e.registered())
}

// An interrupted purchase that never reached a payment is closed.
func TestRecoverBeforePayment(t *testing.T) {
	e := newEnv(t)
	require.True(t, e.doCrash(e.get("/svc/a"), "k", "intent"))
	e.restart()
	outs, err := e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Len(t, outs, 1)
	require.Equal(t, client.Failed, outs[0].Result)
	open, _ := e.store.Unfinished()
	require.Empty(t, open)
	outs, err = e.c.Recover(context.Background())
	require.NoError(t, err)
	require.Empty(t, outs)
}
