package fakeprovider

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/zpay32"
	"google.golang.org/grpc/metadata"
	"gopkg.in/macaroon.v2"
)

// The front: a provider in backend mode whose front is set forwards every
// request its HTTP face receives (HTTP/1.1, and gRPC over h2c) to the L402
// proxy that sells its services (Aperture), and records each as it does
// its own: the purchase key, the body's digest, the credential the client
// presented, the status, and the challenge the proxy answered with (its
// invoice enters the ledger, and the challenge note goes out, as for a
// challenge of its own). The proxy then calls the provider's backend
// listener, which serves the request without recording it again: the
// request's sequence number travels in FrontSeqHeader, so the side effect
// and the delivery point at the front's record.
//
//	client ─▶ provider HTTP face (front, records) ─▶ Aperture ─▶ provider backend (serves)

// FrontSeqHeader carries a fronted request's sequence number through the
// proxy to the backend.
const FrontSeqHeader = "X-L402chaos-Request"

// front is where the HTTP face forwards to; nil when it serves itself.
type front struct {
	addr  string
	h1    *http.Transport
	h2c   *http.Transport
	proxy *httputil.ReverseProxy
}

// SetFront makes the HTTP face forward to the L402 proxy at addr (host:port,
// plaintext HTTP/1.1 and h2c), recording every request. The provider must
// be in backend mode: the proxy calls its backend listener (GRPCAddr).
func (p *Provider) SetFront(addr string) error {
	if !p.backend {
		return fmt.Errorf("%w: a front needs backend mode (Config.Backend)", ErrInvalidConfig)
	}
	h1 := &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: time.Minute}
	h2c := &http.Transport{ResponseHeaderTimeout: time.Minute}
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	f := &front{addr: addr, h1: h1, h2c: h2c}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "http", addr, addr
		},
		// FlushInterval stays 0: the proxy flushes a streamed answer
		// (no Content-Length) at once by itself, and a trailers-only
		// gRPC answer (Aperture's challenge: the status in the headers,
		// the stream ended with them) must not be flushed before the
		// handler ends. A negative interval flushed the headers from a
		// timer racing the handler's return, now and then, which split
		// the answer into headers and an empty end of stream ("server
		// closed the stream without sending trailers").
		Transport: f,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if rec, ok := r.Context().Value(frontRecKey{}).(*frontRec); ok {
				rec.err = err
			}
			w.WriteHeader(http.StatusBadGateway)
		},
		ModifyResponse: func(resp *http.Response) error {
			if rec, ok := resp.Request.Context().Value(frontRecKey{}).(*frontRec); ok {
				rec.resp = resp
			}
			return nil
		},
	}
	p.srv.Lock()
	p.front = f
	p.srv.Unlock()
	return nil
}

// RoundTrip sends gRPC (HTTP/2) requests over h2c and the others over
// HTTP/1.1, as the client sent them.
func (f *front) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ProtoMajor == 2 {
		return f.h2c.RoundTrip(r)
	}
	return f.h1.RoundTrip(r)
}

type frontRecKey struct{}

// frontRec is what the proxy said about one request.
type frontRec struct {
	resp *http.Response
	err  error
}

func (p *Provider) frontFor() *front {
	p.srv.Lock()
	defer p.srv.Unlock()
	return p.front
}

// serveFront forwards one request to the proxy and records it.
func (p *Provider) serveFront(f *front, w http.ResponseWriter, r *http.Request) {
	grpcCall := r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc")
	rec := Request{Seq: p.ledger.begin(), Time: p.now(), Transport: "http", Method: r.Method, Path: r.URL.Path}
	if grpcCall {
		rec.Transport, rec.Method, rec.Path = "grpc", http.MethodPost, grpcPath(r.URL.Path)
	}
	defer func() { p.record(rec) }()
	if svc, ok := p.service(rec.Path); ok {
		rec.Service = svc.Name
	}
	rec.Key = r.Header.Get("Idempotency-Key")

	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		rec.Status, rec.Error = http.StatusBadRequest, "read request body"
		http.Error(w, "request body unreadable or too large", http.StatusBadRequest)
		return
	}
	if len(body) > 0 {
		rec.BodySHA256 = bodyHash(body)
	}
	var cred *Credential
	var credErr error
	if grpcCall {
		md := metadata.MD{}
		for k, v := range r.Header {
			md[strings.ToLower(k)] = v
		}
		cred, credErr = credentialFromMetadata(md)
	} else if values := r.Header.Values("Authorization"); len(values) > 0 {
		cred, credErr = ParseAuthorization(values)
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set(FrontSeqHeader, strconv.FormatInt(rec.Seq, 10))
	fr := &frontRec{}
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), frontRecKey{}, fr)))

	if v, ok := p.backedRecs.LoadAndDelete(rec.Seq); ok {
		b := v.(Request)
		rec.Knobs, rec.SideEffect, rec.Replayed = b.Knobs, b.SideEffect, b.Replayed
		if rec.Service == "" {
			rec.Service = b.Service
		}
	}
	switch {
	case fr.err != nil:
		rec.Status, rec.Error = 0, "proxy: "+fr.err.Error()
		return
	case fr.resp == nil:
		rec.Error = "proxy: no answer"
		return
	}
	rec.Status = fr.resp.StatusCode
	values := fr.resp.Header.Values("WWW-Authenticate")
	if grpcCall {
		rec.Status = grpcHTTPStatus(fr.resp.Header, fr.resp.Trailer)
		values = append(values, fr.resp.Trailer.Values("WWW-Authenticate")...)
	}
	switch {
	case cred != nil:
		rec.Credential = credRecord(cred, rec.Status/100 == 2, "judged by the proxy")
	case credErr != nil:
		rec.Credential = &CredentialRecord{Valid: false, Reason: credErr.Error()}
	}
	if rec.Status == http.StatusPaymentRequired && len(values) > 0 {
		p.recordProxyChallenge(&rec, values)
	}
}

// grpcHTTPStatus maps a proxied call's grpc-status (in the headers of a
// trailers-only answer, or in the trailers) to the status the ledger
// records for gRPC calls, as the provider's own gRPC face does.
func grpcHTTPStatus(h, tr http.Header) int {
	code, msg := h.Get("Grpc-Status"), h.Get("Grpc-Message")
	if code == "" {
		code, msg = tr.Get("Grpc-Status"), tr.Get("Grpc-Message")
	}
	switch code {
	case "0":
		return http.StatusOK
	case "13", "2": // Internal, Unknown: L402's "payment required"
		if strings.Contains(strings.ToLower(msg), PaymentRequired) {
			return http.StatusPaymentRequired
		}
		return http.StatusInternalServerError
	case "16":
		return http.StatusUnauthorized
	case "14":
		return http.StatusServiceUnavailable
	case "3":
		return http.StatusBadRequest
	case "":
		return 0
	}
	return http.StatusInternalServerError
}

// recordProxyChallenge reads the proxy's challenge into the record and
// its invoice into the ledger (which sends the challenge note).
func (p *Provider) recordProxyChallenge(rec *Request, values []string) {
	mac, invoice, err := proxyChallenge(values)
	if err != nil {
		rec.Error = "read the proxy's challenge: " + err.Error()
		return
	}
	id, err := l402.DecodeIdentifier(bytes.NewReader(mac.Id()))
	if err != nil {
		rec.Error = "read the proxy's macaroon: " + err.Error()
		return
	}
	inv, err := decodeInvoice(invoice)
	if err != nil {
		rec.Error = "read the proxy's invoice: " + err.Error()
		return
	}
	var amount int64
	if inv.MilliSat != nil {
		amount = int64(*inv.MilliSat)
	}
	hash := fmt.Sprintf("%x", inv.PaymentHash[:])
	rec.Challenge = &ChallengeRecord{
		Service: rec.Service, TokenID: tokenID(id), PaymentHash: id.PaymentHash.String(), InvoiceHash: hash,
		Invoice: invoice, AmountMsat: amount,
	}
	p.ledger.addInvoice(InvoiceRecord{
		PaymentHash: hash, PaymentRequest: invoice, AmountMsat: amount, State: InvoiceOpen,
		Created: inv.Timestamp, Expiry: Duration(inv.Expiry()), Service: rec.Service, RequestSeq: rec.Seq,
	})
}

// proxyChallenge takes the first challenge with a macaroon and an invoice.
func proxyChallenge(values []string) (*macaroon.Macaroon, string, error) {
	for _, v := range values {
		params := map[string]string{}
		_, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		for _, part := range strings.Split(rest, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok {
				params[strings.ToLower(k)] = strings.Trim(val, `"`)
			}
		}
		b64 := params["macaroon"]
		if b64 == "" {
			b64 = params["token"]
		}
		if b64 == "" || params["invoice"] == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, "", fmt.Errorf("macaroon: %w", err)
		}
		mac := &macaroon.Macaroon{}
		if err := mac.UnmarshalBinary(raw); err != nil {
			return nil, "", fmt.Errorf("macaroon: %w", err)
		}
		return mac, params["invoice"], nil
	}
	return nil, "", fmt.Errorf("no challenge with a macaroon and an invoice in %d values", len(values))
}

var chainParams = []*chaincfg.Params{&chaincfg.RegressionNetParams, &chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.SimNetParams, &chaincfg.SigNetParams}

// decodeInvoice decodes a BOLT 11 invoice of any network.
func decodeInvoice(s string) (*zpay32.Invoice, error) {
	var last error
	for _, params := range chainParams {
		inv, err := zpay32.Decode(s, params)
		if err == nil {
			return inv, nil
		}
		last = err
	}
	return nil, last
}

// frontSeq reads the front's sequence number from a request the proxy
// forwarded, in backend mode only (elsewhere the header means nothing).
func (p *Provider) frontSeq(v string) (int64, bool) {
	if !p.backend || v == "" {
		return 0, false
	}
	seq, err := strconv.ParseInt(v, 10, 64)
	return seq, err == nil && seq > 0
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// backed keeps what the backend did with a fronted request (the knobs
// that fired, its side effect) for the front's record.
func (p *Provider) backed(rec Request) { p.backedRecs.Store(rec.Seq, rec) }
