package client

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// gRPC L402 (the pattern Aperture, Loop and Pool use): an unpaid call
// ends with status Internal "payment required" and the challenge in the
// WWW-Authenticate trailer; the paid call carries the credential in the
// "authorization" metadata ("L402 <macaroon>:<preimage>").
//
// The client buys over gRPC through GRPCTransport, an http.RoundTripper
// that carries each request as one unary call, so the whole purchase
// logic (journal, payment, recovery, retries) is the HTTP one. A gRPC
// purchase is named by a URL grpc://<host:port>/<package.Service>/<Method>
// (plaintext HTTP/2); the request body goes as a
// google.protobuf.BytesValue, the answer is read as a
// google.protobuf.StringValue.

// GRPCScheme is the URL scheme of a gRPC purchase.
const GRPCScheme = "grpc"

// paymentRequired is the status message of an unpaid gRPC call.
const paymentRequired = "payment required"

// ErrGRPCURL: a grpc:// URL without a host or a /package.Service/Method
// path.
var ErrGRPCURL = errors.New("bad grpc URL")

// GRPCMethod checks a grpc:// URL and returns its target and full method.
func GRPCMethod(u *url.URL) (target, method string, err error) {
	if u.Scheme != GRPCScheme || u.Host == "" {
		return "", "", fmt.Errorf("%w %q: want grpc://host:port/package.Service/Method", ErrGRPCURL, u)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" || !strings.Contains(parts[0], ".") {
		return "", "", fmt.Errorf("%w %q: the path must be /package.Service/Method", ErrGRPCURL, u)
	}
	return u.Host, u.Path, nil
}

// DialGRPC opens a plaintext connection for the grpc:// URLs of target.
func DialGRPC(target string) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial grpc %s: %w", target, err)
	}
	return conn, nil
}

// GRPCTransport carries HTTP requests for grpc:// URLs as unary calls on
// conn: Authorization and Idempotency-Key go as metadata, the body as a
// BytesValue. The call's status comes back as an HTTP status (402 with
// the trailer's challenges for "payment required", 401 for
// Unauthenticated, 503 for Unavailable with a Retry-After trailer ...). A
// call that never reached the server is an error, as a lost connection
// is on HTTP.
func GRPCTransport(conn grpc.ClientConnInterface) http.RoundTripper {
	return grpcTransport{conn: conn}
}

type grpcTransport struct{ conn grpc.ClientConnInterface }

func (g grpcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	_, method, err := GRPCMethod(req.URL)
	if err != nil {
		return nil, err
	}
	var body []byte
	if req.Body != nil {
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
	}
	md := metadata.MD{}
	if v := req.Header.Get("Authorization"); v != "" {
		md.Set("authorization", v)
	}
	if v := req.Header.Get("Idempotency-Key"); v != "" {
		md.Set("idempotency-key", v)
	}
	ctx := metadata.NewOutgoingContext(req.Context(), md)
	var header, trailer metadata.MD
	out := &wrapperspb.StringValue{}
	err = g.conn.Invoke(ctx, method, wrapperspb.Bytes(body), out, grpc.Header(&header), grpc.Trailer(&trailer))
	st, _ := status.FromError(err)
	if err != nil && len(header) == 0 && len(trailer) == 0 && fromTransport(st) {
		// Nothing came from the server: the call may or may not have
		// reached it, as with a connection lost on HTTP.
		return nil, fmt.Errorf("grpc %s: %w", method, err)
	}
	resp := &http.Response{
		Status: "", StatusCode: http.StatusOK, Proto: "HTTP/2.0", ProtoMajor: 2,
		Header: http.Header{}, Request: req,
	}
	for _, c := range trailer.Get("www-authenticate") {
		resp.Header.Add("WWW-Authenticate", c)
	}
	if v := trailer.Get("retry-after"); len(v) > 0 {
		resp.Header.Set("Retry-After", v[0])
	}
	payload := out.GetValue()
	if err != nil {
		resp.StatusCode = httpStatus(st)
		payload = `{"error":` + strconv.Quote(st.Message()) + `}`
	}
	resp.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	resp.Body = io.NopCloser(bytes.NewReader([]byte(payload)))
	resp.ContentLength = int64(len(payload))
	return resp, nil
}

// fromTransport reports whether a status is the transport's own (the
// connection failed, the deadline passed) rather than the server's
// answer.
func fromTransport(st *status.Status) bool {
	switch st.Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

// httpStatus is a gRPC status as the HTTP status the purchase logic knows.
func httpStatus(st *status.Status) int {
	switch st.Code() {
	case codes.Internal:
		if st.Message() == paymentRequired {
			return http.StatusPaymentRequired
		}
		return http.StatusInternalServerError
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound, codes.Unimplemented:
		return http.StatusNotFound
	case codes.Aborted, codes.AlreadyExists:
		return http.StatusConflict
	case codes.FailedPrecondition:
		return http.StatusUnprocessableEntity
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
