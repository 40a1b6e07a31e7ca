package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClassifyHTTP(t *testing.T) {
	cases := []struct {
		code         int
		credentialed bool
		want         Kind
	}{
		{200, false, Unclassified},
		{204, true, Unclassified},
		{302, false, Unclassified},
		{400, false, Permanent},
		{401, false, Permanent},
		{401, true, CredentialRejected},
		{402, false, Permanent},
		{402, true, CredentialRejected},
		{403, true, Permanent},
		{404, false, Permanent},
		{408, false, Transient},
		{409, false, Permanent},
		{410, false, Permanent},
		{422, false, Permanent},
		{425, false, Transient},
		{429, false, Transient},
		{429, true, Transient},
		{500, true, Transient},
		{501, false, Permanent},
		{502, false, Transient},
		{503, true, Transient},
		{504, false, Transient},
		{505, false, Permanent},
		{599, false, Transient},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, ClassifyHTTP(tc.code, tc.credentialed), "%d credentialed=%v", tc.code, tc.credentialed)
	}
}

func TestClassifyGRPC(t *testing.T) {
	cases := map[codes.Code]Kind{
		codes.Unavailable:       Transient,
		codes.DeadlineExceeded:  Transient,
		codes.ResourceExhausted: Transient,
		codes.AlreadyExists:     Duplicate,
		codes.NotFound:          Permanent,
		codes.InvalidArgument:   Permanent,
		codes.Unknown:           Permanent,
	}
	for code, want := range cases {
		err := fmt.Errorf("wrapped: %w", status.Error(code, "already exists unavailable not found"))
		require.Equal(t, want, ClassifyGRPC(err), code.String())
	}
	require.Equal(t, Unclassified, ClassifyGRPC(nil))
	// The message is never read: a plain error that says "already exists"
	// is not a duplicate.
	require.NotEqual(t, Duplicate, ClassifyGRPC(errors.New("payment already exists")))
}

func TestClassifyTransport(t *testing.T) {
	urlErr := &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	require.Equal(t, Transient, ClassifyTransport(urlErr))
	require.Equal(t, Transient, ClassifyTransport(fmt.Errorf("read: %w", syscall.ECONNRESET)))
	require.Equal(t, Transient, ClassifyTransport(io.ErrUnexpectedEOF))
	require.Equal(t, Unclassified, ClassifyTransport(context.Canceled))
	require.Equal(t, Unclassified, ClassifyTransport(&url.Error{Op: "Get", URL: "x", Err: context.DeadlineExceeded}))
	require.Equal(t, Permanent, ClassifyTransport(errors.New("unsupported protocol scheme")))
	require.Equal(t, Permanent, ClassifyTransport(&url.Error{Op: "Get", URL: "ftp://x", Err: errors.New(`unsupported protocol scheme "ftp"`)}))
	require.Equal(t, Unclassified, ClassifyTransport(nil))
}

func TestKindOfAndNames(t *testing.T) {
	base := &Error{Op: "send payment", Kind: Ambiguous, Err: io.EOF}
	wrapped := fmt.Errorf("purchase k: %w", base)
	require.Equal(t, Ambiguous, KindOf(wrapped))
	require.ErrorIs(t, wrapped, io.EOF)
	require.Equal(t, Unclassified, KindOf(io.EOF))
	require.Equal(t, Unclassified, KindOf(nil))
	require.Equal(t, "send payment: ambiguous: EOF", base.Error())

	for k := Unclassified; k <= Refused; k++ {
		b, err := k.MarshalText()
		require.NoError(t, err)
		var back Kind
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, k, back)
	}
	require.Equal(t, "kind(200)", Kind(200).String())
	var k Kind
	require.Error(t, k.UnmarshalText([]byte("nope")))

	for s := StateIntent; s <= StateUndelivered; s++ {
		b, _ := s.MarshalText()
		var back State
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, s, back)
	}
	for r := Unknown; r <= PaidNotDelivered; r++ {
		b, _ := r.MarshalText()
		var back Result
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, r, back)
	}
}
