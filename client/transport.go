package client

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// Transport is an http.RoundTripper that buys every request through a
// Client. The purchase key is the request's Idempotency-Key header, or is
// derived from the method, URL and body.
//
// A Delivered purchase, and a Permanent failure that came with a server
// response (a 404 before any payment), return that response. Everything
// else returns an error whose KindOf says what happened; a
// PaidNotDelivered purchase keeps its preimage in the journal.
type Transport struct {
	Client *Client
}

// Transport returns an http.RoundTripper over c. c's own HTTP client must
// not use it.
func (c *Client) Transport() *Transport { return &Transport{Client: c} }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	out, err := t.Client.Do(req.Context(), req, req.Header.Get("Idempotency-Key"))
	if out == nil {
		return nil, err
	}
	if out.Status != 0 && (out.Result == Delivered || out.Result == Failed && out.Kind == Permanent) {
		h := out.Header
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{
			Status:        strconv.Itoa(out.Status) + " " + http.StatusText(out.Status),
			StatusCode:    out.Status,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        h,
			Body:          io.NopCloser(bytes.NewReader(out.Body)),
			ContentLength: int64(len(out.Body)),
			Request:       req,
		}, nil
	}
	return nil, err
}
