package fakeprovider

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lightninglabs/aperture/l402"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// gRPC L402, the pattern Loop and Pool use. Any method is served by one
// generic handler, no generated code: "/<service>.<Anything>/<Method>"
// belongs to the provider service <service> and runs as an operation (like
// a POST), once per "idempotency-key" metadata value. An unpaid call ends
// with status Internal "payment required" and the challenge in the
// WWW-Authenticate trailer. Credentials arrive as metadata:
//
//	macaroon:      <hex macaroon carrying a "preimage=<hex>" caveat> (Aperture's client)
//	token:         <base64 macaroon>:<hex preimage>                 (current spec)
//	authorization: L402 <base64 macaroon>:<hex preimage>
//
// The request message is read whatever its type (unknown fields are kept
// and ignored); the answer is a google.protobuf.StringValue holding the
// same JSON body the HTTP API sends, which any message type can decode.

// PaymentRequired is the gRPC status message of an unpaid call.
const PaymentRequired = "payment required"

func (p *Provider) newGRPCServer() *grpc.Server {
	return grpc.NewServer(grpc.UnknownServiceHandler(p.serveGRPC), grpc.MaxRecvMsgSize(MaxBody))
}

func (p *Provider) serveGRPC(_ any, stream grpc.ServerStream) error {
	ctx := stream.Context()
	method, _ := grpc.MethodFromServerStream(stream)
	rec := Request{Time: p.now(), Transport: "grpc", Method: http.MethodPost, Path: method}
	md, _ := metadata.FromIncomingContext(ctx)
	if seq, ok := p.frontSeq(first(md.Get(strings.ToLower(FrontSeqHeader)))); ok {
		rec.Seq = seq // the front records the request, with what happened here
		defer func() { p.backed(rec) }()
	} else {
		rec.Seq = p.ledger.begin()
		defer func() { p.record(rec) }()
	}

	var msg emptypb.Empty
	if err := stream.RecvMsg(&msg); err != nil {
		rec.Error = "read request: " + err.Error()
		rec.Status = http.StatusBadRequest
		return status.Error(codes.InvalidArgument, "read request: "+err.Error())
	}
	in := &incoming{transport: "grpc", method: http.MethodPost, path: grpcPath(method), body: msg.ProtoReflect().GetUnknown()}
	if keys := md.Get("idempotency-key"); len(keys) > 0 {
		in.key = keys[0]
	}
	rec.Path, rec.Key = in.path, in.key
	if len(in.key) > MaxKey {
		rec.Status = http.StatusBadRequest
		return status.Errorf(codes.InvalidArgument, "idempotency-key over %d bytes", MaxKey)
	}
	in.cred, in.credErr = credentialFromMetadata(md)

	a := p.handle(ctx, in, &rec)
	if a.delay > 0 {
		t := time.NewTimer(a.delay)
		select {
		case <-t.C:
		case <-a.release:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			rec.Error = "client gone during delay"
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if a.drop {
		rec.Error = "call aborted after processing"
		return status.Error(codes.Unavailable, "connection lost")
	}
	rec.Status = a.status
	trailer := metadata.MD{}
	for _, c := range a.challenges {
		trailer.Append("WWW-Authenticate", c)
	}
	if a.retryAfter > 0 {
		trailer.Set("retry-after", strconv.Itoa(int((a.retryAfter+time.Second-1)/time.Second)))
	}
	stream.SetTrailer(trailer)
	if a.status != http.StatusOK {
		return status.Error(grpcCode(a.status), grpcMessage(a))
	}
	if err := stream.SendMsg(wrapperspb.String(string(a.body))); err != nil {
		rec.Error = "write answer: " + err.Error()
		return err
	}
	if a.delivery != nil {
		d := *a.delivery
		d.RequestSeq, d.Time, d.Status, d.BodySHA256 = rec.Seq, p.now(), a.status, bodyHash(a.body)
		p.ledger.addDelivery(d)
	}
	return nil
}

// grpcPath maps "/data.Quotes/Get" to "/data/data.Quotes/Get", so that the
// service is the first path segment as on HTTP.
func grpcPath(method string) string {
	svc, _, _ := strings.Cut(strings.TrimPrefix(method, "/"), ".")
	return "/" + svc + method
}

func grpcMessage(a *answer) string {
	if a.status == http.StatusPaymentRequired {
		return PaymentRequired
	}
	return strings.TrimSpace(string(a.body))
}

func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusPaymentRequired:
		return codes.Internal // what Aperture sends and its clients look for
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusUnprocessableEntity:
		return codes.FailedPrecondition
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Internal
}

// credentialFromMetadata reads a gRPC credential; nil, nil when there is
// none.
func credentialFromMetadata(md metadata.MD) (*Credential, error) {
	if v := md.Get("authorization"); len(v) > 0 {
		cred, err := ParseAuthorization(v)
		if errors.Is(err, ErrNoCredential) {
			return nil, nil
		}
		return cred, err
	}
	if v := md.Get("token"); len(v) > 0 {
		if len(v[0]) > MaxAuthorization {
			return nil, fmt.Errorf("%w: token metadata over %d bytes", ErrMalformedCredential, MaxAuthorization)
		}
		cred, err := parseToken(v[0])
		if err != nil {
			return nil, fmt.Errorf("%w: token metadata: %w", ErrMalformedCredential, err)
		}
		cred.Scheme = "L402"
		return cred, nil
	}
	if v := md.Get("macaroon"); len(v) > 0 {
		if len(v[0]) > 2*MaxAuthorization {
			return nil, fmt.Errorf("%w: macaroon metadata over %d bytes", ErrMalformedCredential, 2*MaxAuthorization)
		}
		raw, err := hex.DecodeString(strings.TrimSpace(v[0]))
		if err != nil {
			return nil, fmt.Errorf("%w: macaroon metadata: %w", ErrMalformedCredential, err)
		}
		mac, id, err := decodeMacaroon(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedCredential, err)
		}
		preHex, ok := l402.HasCaveat(mac, l402.PreimageKey)
		if !ok {
			return nil, fmt.Errorf("%w: macaroon metadata has no %s caveat", ErrMalformedCredential, l402.PreimageKey)
		}
		pre, err := decodePreimage(preHex)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedCredential, err)
		}
		return &Credential{Scheme: "L402", Macaroon: mac, Preimage: pre, ID: id}, nil
	}
	return nil, nil
}
