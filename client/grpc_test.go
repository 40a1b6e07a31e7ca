package client_test

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/l402chaos/l402chaos/client"
)

// grpcServer answers every method as an L402 server does over gRPC: no
// authorization metadata, "payment required" with a challenge trailer; a
// "retry" one, Unavailable with Retry-After; otherwise the method and the
// idempotency key back.
func grpcServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var in emptypb.Empty
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		md, _ := metadata.FromIncomingContext(stream.Context())
		method, _ := grpc.MethodFromServerStream(stream)
		switch auth := md.Get("authorization"); {
		case len(auth) == 0:
			stream.SetTrailer(metadata.Pairs("www-authenticate", `L402 version="0", token="abc", invoice="lnbcrt1"`))
			return status.Error(codes.Internal, "payment required")
		case auth[0] == "L402 retry":
			stream.SetTrailer(metadata.Pairs("retry-after", "2"))
			return status.Error(codes.Unavailable, "settling")
		}
		return stream.SendMsg(wrapperspb.String(method + " " + strings.Join(md.Get("idempotency-key"), ",") + " " + string(in.ProtoReflect().GetUnknown())))
	}))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

func TestGRPCTransport(t *testing.T) {
	addr := grpcServer(t)
	conn, err := client.DialGRPC(addr)
	require.NoError(t, err)
	defer conn.Close()
	hc := &http.Client{Transport: client.GRPCTransport(conn)}
	call := func(auth string) *http.Response {
		req, err := http.NewRequest("POST", "grpc://"+addr+"/data.L402/k1", strings.NewReader("body"))
		require.NoError(t, err)
		req.Header.Set("Idempotency-Key", "k1")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		return resp
	}

	resp := call("")
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	require.Equal(t, []string{`L402 version="0", token="abc", invoice="lnbcrt1"`}, resp.Header.Values("WWW-Authenticate"))

	resp = call("L402 retry")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))

	resp = call("L402 mac:pre")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "/data.L402/k1 k1 "), "%q", b)
	require.Contains(t, string(b), "body", "the body travels in the request message")
}

// A call that never reaches a server is an error, as a lost connection
// is on HTTP, never an answer.
func TestGRPCTransportUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	conn, err := client.DialGRPC(addr)
	require.NoError(t, err)
	defer conn.Close()
	req, err := http.NewRequest("POST", "grpc://"+addr+"/data.L402/k1", nil)
	require.NoError(t, err)
	_, err = (&http.Client{Transport: client.GRPCTransport(conn)}).Do(req)
	require.Error(t, err)
}

func TestGRPCMethod(t *testing.T) {
	for in, ok := range map[string]bool{
		"grpc://h:1/data.L402/k1": true,
		"grpc://h:1/data/k1":      false,
		"grpc:///data.L402/k1":    false,
		"grpc://h:1/data.L402":    false,
		"grpc://h:1/a.B/c/d":      false,
		"http://h:1/data.L402/k1": false,
	} {
		u, err := url.Parse(in)
		require.NoError(t, err)
		_, _, err = client.GRPCMethod(u)
		require.Equal(t, ok, err == nil, in)
		if !ok {
			require.ErrorIs(t, err, client.ErrGRPCURL, in)
		}
	}
}
