package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Kind is what an error means for the purchase: whether to retry, whether
// money may have moved, whether paying again is allowed. Classify with
// KindOf, never by reading messages.
type Kind uint8

const (
	// Unclassified is an error nobody classified: treat it as Permanent
	// for retries and as Ambiguous for money.
	Unclassified Kind = iota
	// Transient may succeed if the same step is tried again: 429, 502,
	// 503, 504, a reset connection, an unreachable node.
	Transient
	// Permanent will fail the same way again: 400, 403, 404, 409, 422, a
	// malformed challenge. Never retried.
	Permanent
	// Ambiguous means money may have moved and we cannot tell: a payment
	// was dispatched and its result was not seen. It is resolved by
	// tracking the payment, never by paying again.
	Ambiguous
	// PaymentFailed is a definitive payment failure reported by the node
	// (no route, insufficient balance, expired invoice, incorrect payment
	// details, timeout as a final reason). No money moved; a new
	// challenge may be paid.
	PaymentFailed
	// Duplicate is the node refusing a payment for a hash it already paid
	// or has in flight (gRPC AlreadyExists). It is not a failure: track
	// the earlier payment.
	Duplicate
	// CredentialRejected is a 401 or 402 answering a request that carried
	// a credential: the server did not accept what we paid for.
	CredentialRejected
	// Refused is the client refusing to pay: the invoice does not match
	// the macaroon, has no amount, costs too much, breaks the budget or
	// expires too soon.
	Refused
)

var kindNames = [...]string{
	Unclassified:       "unclassified",
	Transient:          "transient",
	Permanent:          "permanent",
	Ambiguous:          "ambiguous",
	PaymentFailed:      "payment-failed",
	Duplicate:          "duplicate",
	CredentialRejected: "credential",
	Refused:            "refused",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText writes the kind's name, so journals and reports read well.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown error kind %q", b)
}

// Error is a classified error: the step that failed, what it means, and
// the cause.
type Error struct {
	Op   string
	Kind Kind
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s", e.Op, e.Kind)
	}
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain, or
// Unclassified.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unclassified
}

// errorf builds an *Error whose cause is formatted like fmt.Errorf.
func errorf(op string, k Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: k, Err: fmt.Errorf(format, args...)}
}

// ClassifyHTTP says what a response status means for a request that did
// not carry a credential (credentialed=false) or did (true). 2xx and 3xx
// are Unclassified: not errors.
func ClassifyHTTP(code int, credentialed bool) Kind {
	switch {
	case code < 400:
		return Unclassified
	case code == http.StatusUnauthorized, code == http.StatusPaymentRequired:
		if credentialed {
			return CredentialRejected
		}
		return Permanent
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests:
		return Transient
	case code < 500:
		// 400, 403, 404, 405, 409, 410, 413, 415, 422 and the rest: the
		// same request will get the same answer.
		return Permanent
	case code == http.StatusNotImplemented, code == http.StatusHTTPVersionNotSupported,
		code == http.StatusLoopDetected, code == http.StatusNotExtended:
		return Permanent
	default:
		// 500, 502, 503, 504 and unknown 5xx. A retry never pays again
		// (it reuses the credential) and carries the same
		// Idempotency-Key, so the server can deduplicate it.
		return Transient
	}
}

// ClassifyTransport says what an error from http.Client.Do means. The
// caller's own context ending is Unclassified: the caller gave up, the
// server did not fail.
func ClassifyTransport(err error) Kind {
	if err == nil {
		return Unclassified
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Unclassified
	}
	// http.Client wraps every failure in *url.Error, itself a net.Error;
	// what matters is the cause inside.
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return Transient
	}
	// A malformed request, an unsupported scheme, a bad certificate, a
	// redirect loop: the same request fails the same way.
	return Permanent
}

// ClassifyGRPC says what a gRPC error from the node means for a call that
// moves no money (decoding, tracking). Payment dispatch has its own rule:
// every error after dispatch is Ambiguous except AlreadyExists.
func ClassifyGRPC(err error) Kind {
	if err == nil {
		return Unclassified
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Aborted, codes.Canceled, codes.Internal:
		return Transient
	case codes.AlreadyExists:
		return Duplicate
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange,
		codes.Unimplemented:
		return Permanent
	default:
		// codes.Unknown: lnd returns plain errors for many validation
		// failures; we cannot tell more without reading the message.
		return Permanent
	}
}
