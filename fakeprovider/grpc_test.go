package fakeprovider_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/lightninglabs/aperture/l402"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestGRPCL402(t *testing.T) {
	n := network(t)
	cfg := fakeprovider.DefaultConfig()
	cfg.Profile.Header.Generation = fakeprovider.GenAperture
	p := fakeprovidertest.Start(t, n.Node("bob"), cfg)
	conn, err := grpc.NewClient(p.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	call := func(md metadata.MD) (*wrapperspb.StringValue, metadata.MD, error) {
		var trailer metadata.MD
		out := &wrapperspb.StringValue{}
		err := conn.Invoke(metadata.NewOutgoingContext(ctx, md), "/data.Quotes/Get", &emptypb.Empty{}, out, grpc.Trailer(&trailer))
		return out, trailer, err
	}

	_, trailer, err := call(metadata.MD{})
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, fakeprovider.PaymentRequired, status.Convert(err).Message())
	values := trailer.Get("www-authenticate")
	require.Len(t, values, 2, "Aperture's two challenges, LSAT then L402")
	c := parseChallenge(t, values[1])
	pre, err := pay(t, n, c.invoice)
	require.NoError(t, err)

	// Aperture's clients (Loop, Pool): the macaroon in hex, carrying the
	// preimage as a caveat.
	paid := c.macaroon.Clone()
	require.NoError(t, l402.AddFirstPartyCaveats(paid, l402.NewCaveat(l402.PreimageKey, pre.String())))
	raw, err := paid.MarshalBinary()
	require.NoError(t, err)
	out, _, err := call(metadata.Pairs("macaroon", hex.EncodeToString(raw), "idempotency-key", "g1"))
	require.NoError(t, err)
	require.Contains(t, out.Value, `"operation"`)
	first := out.Value

	// The current spec's token metadata; the same key replays the answer.
	raw, _ = c.macaroon.MarshalBinary()
	out, _, err = call(metadata.Pairs("token", base64.StdEncoding.EncodeToString(raw)+":"+pre.String(), "idempotency-key", "g1"))
	require.NoError(t, err)
	require.Equal(t, first, out.Value)

	// A wrong preimage is refused with a fresh challenge.
	bad := c.macaroon.Clone()
	require.NoError(t, l402.AddFirstPartyCaveats(bad, l402.NewCaveat(l402.PreimageKey, hex.EncodeToString(make([]byte, 32)))))
	raw, _ = bad.MarshalBinary()
	_, trailer, err = call(metadata.Pairs("macaroon", hex.EncodeToString(raw)))
	require.Equal(t, codes.Internal, status.Code(err))
	require.NotEmpty(t, trailer.Get("www-authenticate"))
	// Garbage metadata is a clear InvalidArgument.
	_, _, err = call(metadata.Pairs("macaroon", "zz"))
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	s := ledger(t, p)
	require.Len(t, s.SideEffects, 1)
	require.Len(t, s.Deliveries, 2)
	require.Equal(t, "grpc", s.Requests[0].Transport)
	require.Equal(t, "/data/data.Quotes/Get", s.Requests[0].Path)
}
