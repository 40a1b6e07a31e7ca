package client

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeStream replays payment updates, then an error (io.EOF if none).
type fakeStream struct {
	grpc.ClientStream
	updates []*lnrpc.Payment
	err     error
}

func (s *fakeStream) Recv() (*lnrpc.Payment, error) {
	if len(s.updates) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	u := s.updates[0]
	s.updates = s.updates[1:]
	return u, nil
}

type fakeRouter struct {
	routerrpc.RouterClient
	send      *fakeStream
	sendErr   error
	track     *fakeStream
	trackErr  error
	lastSend  *routerrpc.SendPaymentRequest
	lastTrack *routerrpc.TrackPaymentRequest
}

func (f *fakeRouter) SendPaymentV2(_ context.Context, in *routerrpc.SendPaymentRequest, _ ...grpc.CallOption) (routerrpc.Router_SendPaymentV2Client, error) {
	f.lastSend = in
	if f.sendErr != nil {
		return nil, f.sendErr
	}
	return f.send, nil
}

func (f *fakeRouter) TrackPaymentV2(_ context.Context, in *routerrpc.TrackPaymentRequest, _ ...grpc.CallOption) (routerrpc.Router_TrackPaymentV2Client, error) {
	f.lastTrack = in
	if f.trackErr != nil {
		return nil, f.trackErr
	}
	return f.track, nil
}

type fakeLN struct {
	lnrpc.LightningClient
	payReq *lnrpc.PayReq
	err    error
}

func (f *fakeLN) DecodePayReq(context.Context, *lnrpc.PayReqString, ...grpc.CallOption) (*lnrpc.PayReq, error) {
	return f.payReq, f.err
}

func lndFixture(t *testing.T) (*LNDPayer, *fakeLN, *fakeRouter) {
	t.Helper()
	ln, rt := &fakeLN{}, &fakeRouter{}
	p, err := NewLNDPayer(ln, rt, WithLNDFeeLimit(2000), WithLNDTimeout(5*time.Second), WithLNDMaxParts(4))
	require.NoError(t, err)
	return p, ln, rt
}

func TestLNDPayerOptions(t *testing.T) {
	_, err := NewLNDPayer(nil, &fakeRouter{})
	require.Error(t, err)
	_, err = NewLNDPayer(&fakeLN{}, &fakeRouter{}, WithLNDFeeLimit(0))
	require.Error(t, err)
	_, err = NewLNDPayer(&fakeLN{}, &fakeRouter{}, WithLNDTimeout(time.Millisecond))
	require.Error(t, err)
	_, err = NewLNDPayer(&fakeLN{}, &fakeRouter{}, WithLNDMaxParts(0))
	require.Error(t, err)
}

func TestLNDDecodeInvoice(t *testing.T) {
	p, ln, _ := lndFixture(t)
	hash := lntypes.Hash(sha256.Sum256([]byte("x")))
	ln.payReq = &lnrpc.PayReq{PaymentHash: hash.String(), NumSatoshis: 5, Timestamp: 1000, Expiry: 60, Destination: "02ab"}
	inv, err := p.DecodeInvoice(context.Background(), "lnbc")
	require.NoError(t, err)
	require.Equal(t, Invoice{Hash: hash, AmountMsat: 5000, Expiry: time.Unix(1060, 0), Destination: "02ab"}, inv)
	ln.payReq.NumMsat = 5001
	inv, err = p.DecodeInvoice(context.Background(), "lnbc")
	require.NoError(t, err)
	require.EqualValues(t, 5001, inv.AmountMsat)

	ln.err = status.Error(codes.Unavailable, "down")
	_, err = p.DecodeInvoice(context.Background(), "lnbc")
	require.Equal(t, Transient, KindOf(err))
	ln.err = errors.New("invalid payment request")
	_, err = p.DecodeInvoice(context.Background(), "lnbc")
	require.Equal(t, Permanent, KindOf(err))
	ln.err, ln.payReq = nil, &lnrpc.PayReq{PaymentHash: "zz"}
	_, err = p.DecodeInvoice(context.Background(), "lnbc")
	require.Equal(t, Permanent, KindOf(err))
}

func TestLNDSendPayment(t *testing.T) {
	pre := lntypes.Preimage(sha256.Sum256([]byte("pre")))
	hash := pre.Hash()
	inflight := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_IN_FLIGHT}
	ok := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_SUCCEEDED, PaymentPreimage: pre.String(), ValueMsat: 1000, FeeMsat: 3}
	failed := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_FAILED, FailureReason: lnrpc.PaymentFailureReason_FAILURE_REASON_NO_ROUTE}
	badPre := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_SUCCEEDED, PaymentPreimage: lntypes.Preimage{}.String()}
	ctx := context.Background()

	t.Run("succeeded", func(t *testing.T) {
		p, _, rt := lndFixture(t)
		rt.send = &fakeStream{updates: []*lnrpc.Payment{inflight, ok}}
		st, err := p.SendPayment(ctx, "lnbc", SendOptions{MaxFeeMsat: 77})
		require.NoError(t, err)
		require.Equal(t, PaySucceeded, st.State)
		require.Equal(t, pre, st.Preimage)
		require.EqualValues(t, 3, st.FeeMsat)
		require.EqualValues(t, 77, rt.lastSend.FeeLimitMsat)
		require.EqualValues(t, 5, rt.lastSend.TimeoutSeconds)
		require.EqualValues(t, 4, rt.lastSend.MaxParts)
		require.Equal(t, "lnbc", rt.lastSend.PaymentRequest)
	})
	t.Run("defaults", func(t *testing.T) {
		p, _, rt := lndFixture(t)
		rt.send = &fakeStream{updates: []*lnrpc.Payment{ok}}
		_, err := p.SendPayment(ctx, "lnbc", SendOptions{MaxFeeMsat: -1})
		require.NoError(t, err)
		require.EqualValues(t, 2000, rt.lastSend.FeeLimitMsat)
		rt.send = &fakeStream{updates: []*lnrpc.Payment{ok}}
		_, err = p.SendPayment(ctx, "lnbc", SendOptions{MaxFeeMsat: 1_000_000})
		require.NoError(t, err)
		require.EqualValues(t, 2000, rt.lastSend.FeeLimitMsat, "the payer's cap holds")
		rt.send = &fakeStream{updates: []*lnrpc.Payment{ok}}
		_, err = p.SendPayment(ctx, "lnbc", SendOptions{})
		require.NoError(t, err)
		require.Zero(t, rt.lastSend.FeeLimitMsat, "zero means fee-free routes only")
	})
	t.Run("failed is definitive", func(t *testing.T) {
		p, _, rt := lndFixture(t)
		rt.send = &fakeStream{updates: []*lnrpc.Payment{failed}}
		st, err := p.SendPayment(ctx, "lnbc", SendOptions{})
		require.NoError(t, err)
		require.Equal(t, PayFailed, st.State)
		require.Equal(t, "FAILURE_REASON_NO_ROUTE", st.Reason)
	})
	cases := []struct {
		name string
		rt   fakeRouter
		want Kind
	}{
		{"already exists", fakeRouter{send: &fakeStream{err: status.Error(codes.AlreadyExists, "payment is in transition")}}, Duplicate},
		{"already exists at open", fakeRouter{sendErr: status.Error(codes.AlreadyExists, "x")}, Duplicate},
		{"unavailable at open", fakeRouter{sendErr: status.Error(codes.Unavailable, "x")}, Ambiguous},
		{"reset after dispatch", fakeRouter{send: &fakeStream{updates: []*lnrpc.Payment{inflight}, err: status.Error(codes.Unavailable, "reset")}}, Ambiguous},
		{"stream ends early", fakeRouter{send: &fakeStream{updates: []*lnrpc.Payment{inflight}}}, Ambiguous},
		{"lnd validation error", fakeRouter{send: &fakeStream{err: errors.New("invoice expired")}}, Ambiguous},
		{"bad preimage", fakeRouter{send: &fakeStream{updates: []*lnrpc.Payment{badPre}}}, Ambiguous},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, _, rt := lndFixture(t)
			*rt = tc.rt
			_, err := p.SendPayment(ctx, "lnbc", SendOptions{})
			require.Equal(t, tc.want, KindOf(err), "%v", err)
		})
	}
}

func TestLNDTrackPayment(t *testing.T) {
	pre := lntypes.Preimage(sha256.Sum256([]byte("pre")))
	hash := pre.Hash()
	inflight := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_IN_FLIGHT}
	initiated := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_INITIATED}
	ok := &lnrpc.Payment{PaymentHash: hash.String(), Status: lnrpc.Payment_SUCCEEDED, PaymentPreimage: pre.String()}
	ctx := context.Background()

	p, _, rt := lndFixture(t)
	rt.trackErr = status.Error(codes.NotFound, "payment isn't initiated")
	st, err := p.TrackPayment(ctx, hash)
	require.NoError(t, err)
	require.Equal(t, PayNotFound, st.State)

	rt.trackErr, rt.track = nil, &fakeStream{updates: []*lnrpc.Payment{initiated, inflight, ok}}
	st, err = p.TrackPayment(ctx, hash)
	require.NoError(t, err)
	require.Equal(t, PayInFlight, st.State, "a snapshot does not wait")
	require.Equal(t, hash[:], rt.lastTrack.PaymentHash)

	rt.track = &fakeStream{updates: []*lnrpc.Payment{inflight, ok}}
	st, err = p.WaitPayment(ctx, hash)
	require.NoError(t, err)
	require.Equal(t, PaySucceeded, st.State)
	require.Equal(t, pre, st.Preimage)

	rt.track = &fakeStream{updates: []*lnrpc.Payment{inflight}, err: status.Error(codes.Unavailable, "gone")}
	_, err = p.WaitPayment(ctx, hash)
	require.Equal(t, Transient, KindOf(err))

	rt.track, rt.trackErr = nil, status.Error(codes.PermissionDenied, "macaroon")
	_, err = p.TrackPayment(ctx, hash)
	require.Equal(t, Transient, KindOf(err), "an unknown state is never a verdict")
}
