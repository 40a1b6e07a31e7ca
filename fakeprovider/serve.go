package fakeprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightninglabs/aperture/mint"
)

// incoming is a request, whatever its transport.
type incoming struct {
	transport string
	method    string
	path      string
	key       string
	body      []byte
	cred      *Credential
	credErr   error // a credential was presented but could not be decoded
}

// reqInfo is what knobs match on.
type reqInfo struct {
	method, path, key string
	credentialed      bool
}

// answer is what the provider decided to send.
type answer struct {
	status     int
	challenges []string
	retryAfter time.Duration
	body       []byte
	drop       bool
	delay      time.Duration
	// release, when set, ends the delay early (a delay knob's barrier).
	release  <-chan struct{}
	delivery *Delivery // recorded once the answer is written in full
}

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// MaxKey bounds an Idempotency-Key.
const MaxKey = 256

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

func bodyHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// handle is the provider's logic, shared by HTTP and gRPC. It fills rec,
// the request's ledger entry.
func (p *Provider) handle(ctx context.Context, in *incoming, rec *Request) *answer {
	info := &reqInfo{method: in.method, path: in.path, key: in.key, credentialed: in.cred != nil || in.credErr != nil}
	fired := func(k Knob) { rec.Knobs = append(rec.Knobs, k.ID+":"+string(k.Kind)) }

	svc, ok := p.service(in.path)
	if !ok {
		return &answer{status: http.StatusNotFound, body: errorBody("no such service: paths are /<service>/...")}
	}
	rec.Service = svc.Name
	if in.method != http.MethodGet && in.method != http.MethodPost {
		return &answer{status: http.StatusMethodNotAllowed, body: errorBody("method not allowed: GET or POST")}
	}
	if in.credErr != nil {
		rec.Credential = &CredentialRecord{Valid: false, Reason: in.credErr.Error()}
		return &answer{status: http.StatusBadRequest, body: errorBody(in.credErr.Error())}
	}

	var delay time.Duration
	var release <-chan struct{}
	if k, ok := p.knobs.take(info, p.now(), Delay); ok {
		fired(k)
		delay = time.Duration(k.Delay)
		if k.gate != nil {
			release = k.gate.arrive()
		}
	}
	withDelay := func(a *answer) *answer { a.delay, a.release = delay, release; return a }

	if k, ok := p.knobs.take(info, p.now(), ErrorBefore, RetryAfter, SettlementFailure); ok {
		fired(k)
		a := &answer{status: k.Status, retryAfter: time.Duration(k.RetryAfter), body: errorBody(string(k.Kind))}
		if k.Kind == SettlementFailure {
			a.body = errorBody("payment could not be confirmed yet, retry")
		}
		if in.cred != nil {
			rec.Credential = credRecord(in.cred, true, "")
		}
		return withDelay(a)
	}

	if p.backend {
		// Behind an L402 proxy (Aperture): the proxy sold the token and
		// checked it; the provider serves, and records the credential
		// it was passed on.
		if in.cred != nil {
			rec.Credential = credRecord(in.cred, true, "checked by the proxy")
		}
		return withDelay(p.afterProcess(info, p.process(in, svc, in.cred, rec), fired))
	}
	if in.cred == nil {
		return withDelay(p.challenge(ctx, info, svc, rec))
	}
	cred := in.cred
	tok := tokenID(cred.ID)
	if err := p.verify(ctx, cred, svc.Name); err != nil {
		rec.Credential = credRecord(cred, false, err.Error())
		return withDelay(p.refuse(ctx, info, svc, rec, err))
	}
	rec.Credential = credRecord(cred, true, "")
	if k, ok := p.knobs.take(info, p.now(), RejectPaid); ok {
		fired(k)
		reason := "settle lag: payment not seen yet"
		if k.Rotate {
			_ = p.secrets.revoke(tok)
			reason = "root key rotated"
		}
		rec.Credential.Reason = reason
		return withDelay(p.challenge(ctx, info, svc, rec))
	}
	if svc.Pricing == PerRequest && !p.spend(tok, in.key) {
		rec.Credential.Valid = false
		rec.Credential.Reason = ErrTokenSpent.Error()
		return withDelay(p.refuse(ctx, info, svc, rec, ErrTokenSpent))
	}

	return withDelay(p.afterProcess(info, p.process(in, svc, cred, rec), fired))
}

// afterProcess applies the knobs that act once a request was processed:
// an error or a dropped connection in place of the answer.
func (p *Provider) afterProcess(info *reqInfo, a *answer, fired func(Knob)) *answer {
	if a.status/100 == 2 {
		if k, ok := p.knobs.take(info, p.now(), ErrorAfter, DropAfter); ok {
			fired(k)
			if k.Kind == DropAfter {
				return &answer{drop: true}
			}
			return &answer{status: k.Status, body: errorBody("internal error")}
		}
	}
	return a
}

func credRecord(c *Credential, valid bool, reason string) *CredentialRecord {
	return &CredentialRecord{Scheme: c.Scheme, TokenID: tokenID(c.ID), PaymentHash: c.ID.PaymentHash.String(), Valid: valid, Reason: reason}
}

// refuse answers a credential that does not verify: 401, or 402 with a
// fresh challenge, as the profile says.
func (p *Provider) refuse(ctx context.Context, info *reqInfo, svc Service, rec *Request, why error) *answer {
	if p.profile().InvalidCredential == http.StatusUnauthorized {
		return &answer{status: http.StatusUnauthorized, body: errorBody("invalid credential: " + why.Error())}
	}
	return p.challenge(ctx, info, svc, rec)
}

// challenge mints a token and an invoice and answers 402.
func (p *Provider) challenge(ctx context.Context, info *reqInfo, svc Service, rec *Request) *answer {
	ch := &challenger{ctx: ctx, p: p, service: svc}
	if k, ok := p.knobs.take(info, p.now(), ExpiredInvoice, AmountlessInvoice, OverpricedInvoice, HashMismatch, ReusedInvoice, HoldInvoice); ok {
		ch.knob = &k
	}
	m := mint.New(&mint.Config{Secrets: p.secrets, Challenger: ch, ServiceLimiter: p.limiter, Now: p.now})
	mac, invoice, err := m.MintL402(ctx, l402.Service{Name: svc.Name, Tier: l402.BaseTier, Price: svc.PriceSat})
	if err == nil {
		mac, err = p.secrets.restamp(mac)
	}
	if err != nil {
		rec.Error = "mint challenge: " + err.Error()
		return &answer{status: http.StatusServiceUnavailable, body: errorBody("cannot mint a challenge: lightning node unavailable")}
	}
	if ch.applied != "" {
		rec.Knobs = append(rec.Knobs, ch.applied)
	}
	id, err := l402.DecodeIdentifier(bytes.NewReader(mac.Id()))
	if err != nil {
		rec.Error = "decode minted macaroon: " + err.Error()
		return &answer{status: http.StatusInternalServerError, body: errorBody("internal error")}
	}
	tok := tokenID(id)
	p.secrets.bind(tok, mac.Id())
	inv := ch.invoice
	p.ledger.addInvoice(InvoiceRecord{
		PaymentHash: inv.PaymentHash.String(), PaymentRequest: inv.PaymentRequest, AmountMsat: inv.AmountMsat,
		Hold: ch.hold, State: inv.State, Created: inv.Created, Expiry: Duration(inv.Expiry),
		Service: svc.Name, RequestSeq: rec.Seq,
	})
	rec.Challenge = &ChallengeRecord{
		Service: svc.Name, TokenID: tok, PaymentHash: id.PaymentHash.String(), InvoiceHash: inv.PaymentHash.String(),
		Invoice: invoice, AmountMsat: inv.AmountMsat, Hold: ch.hold, Knob: ch.applied,
	}
	values, err := p.profile().Header.Challenges(mac, invoice)
	if err != nil {
		rec.Error = err.Error()
		return &answer{status: http.StatusInternalServerError, body: errorBody("internal error")}
	}
	body, _ := json.Marshal(map[string]any{"error": "payment required", "service": svc.Name, "price_sat": svc.PriceSat})
	return &answer{status: http.StatusPaymentRequired, challenges: values, body: body}
}

// spend binds a per-request token to the purchase it pays for. A replay of
// the same purchase (same Idempotency-Key) may use it again; anything else
// may not.
func (p *Provider) spend(tok, key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, used := p.spent[tok]
	if used {
		return key != "" && prev == key
	}
	p.spent[tok] = key
	return true
}

// process runs a paid request: a GET reads a resource, a POST executes an
// operation once per Idempotency-Key.
func (p *Provider) process(in *incoming, svc Service, cred *Credential, rec *Request) *answer {
	var tok, hash string
	if cred != nil { // nil behind a proxy that sent none
		tok, hash = tokenID(cred.ID), cred.ID.PaymentHash.String()
	}
	delivery := &Delivery{
		Method: in.method, Path: in.path, Service: svc.Name, Key: in.key,
		TokenID: tok, PaymentHash: hash,
	}
	if in.method == http.MethodGet {
		body := resource(in.path)
		return &answer{status: http.StatusOK, body: body, delivery: delivery}
	}
	reqHash := bodyHash(in.body)
	if in.key != "" {
		stored, err := p.idem.begin(in.key, reqHash)
		switch {
		case errors.Is(err, errKeyMismatch):
			return &answer{status: http.StatusUnprocessableEntity, body: errorBody("Idempotency-Key reused with a different request body")}
		case errors.Is(err, errKeyInProgress):
			return &answer{status: http.StatusConflict, retryAfter: time.Second, body: errorBody("a request with this Idempotency-Key is in progress")}
		case stored != nil:
			rec.Replayed = true
			delivery.Replayed = true
			return &answer{status: stored.status, body: stored.body, delivery: delivery}
		}
	}
	seq := p.ledger.addSideEffect(SideEffect{
		RequestSeq: rec.Seq, Time: p.now(), Service: svc.Name, Path: in.path, Key: in.key,
		BodySHA256: reqHash, TokenID: tok, PaymentHash: hash,
	})
	rec.SideEffect = seq
	body, _ := json.Marshal(map[string]any{"operation": seq, "service": svc.Name, "path": in.path, "key": in.key, "request_sha256": reqHash})
	if in.key != "" {
		p.idem.finish(in.key, http.StatusOK, body)
	}
	return &answer{status: http.StatusOK, body: body, delivery: delivery}
}

// resource is the body of a GET: the same for the same path, so a client's
// reported body hash can be checked.
func resource(path string) []byte {
	b, _ := json.Marshal(map[string]string{"path": path, "content": bodyHash([]byte("l402chaos resource " + path))})
	return b
}

// idempotency keeps one stored answer per Idempotency-Key.
type idempotency struct {
	mu      sync.Mutex
	entries map[string]*idemEntry
}

type idemEntry struct {
	reqHash string
	done    bool
	status  int
	body    []byte
}

var (
	errKeyMismatch   = fmt.Errorf("idempotency key reused with another body: %w", ErrConflict)
	errKeyInProgress = fmt.Errorf("idempotency key in progress: %w", ErrConflict)
)

// begin claims a key. It returns the stored answer of a finished request,
// or an error for a different body or a request still running.
func (i *idempotency) begin(key, reqHash string) (*idemEntry, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	e, ok := i.entries[key]
	if !ok {
		i.entries[key] = &idemEntry{reqHash: reqHash}
		return nil, nil
	}
	if e.reqHash != reqHash {
		return nil, errKeyMismatch
	}
	if !e.done {
		return nil, errKeyInProgress
	}
	c := *e
	return &c, nil
}

// forget drops the entries of keys that are done; one still running stays.
func (i *idempotency) forget(keys []string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range keys {
		if e, ok := i.entries[k]; ok && e.done {
			delete(i.entries, k)
		}
	}
}

func (i *idempotency) finish(key string, status int, body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if e, ok := i.entries[key]; ok {
		e.done, e.status, e.body = true, status, body
	}
}

func (i *idempotency) reset() {
	i.mu.Lock()
	defer i.mu.Unlock()
	clear(i.entries)
}

// ServeHTTP is the provider's L402 HTTP API.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f := p.frontFor(); f != nil {
		p.serveFront(f, w, r)
		return
	}
	p.serveHTTP(w, r)
}

// serveHTTP serves one request itself.
func (p *Provider) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Time: p.now(), Transport: "http", Method: r.Method, Path: r.URL.Path}
	if seq, ok := p.frontSeq(r.Header.Get(FrontSeqHeader)); ok {
		rec.Seq = seq // the front records the request, with what happened here
		defer func() { p.backed(rec) }()
	} else {
		rec.Seq = p.ledger.begin()
		defer func() { p.record(rec) }()
	}

	in, a := p.readHTTP(w, r, &rec)
	if a == nil {
		a = p.handle(r.Context(), in, &rec)
	}
	if a.delay > 0 {
		t := time.NewTimer(a.delay)
		select {
		case <-t.C:
		case <-a.release:
			t.Stop()
		case <-r.Context().Done():
			t.Stop()
			rec.Error = "client gone during delay"
			return
		}
	}
	if a.drop {
		rec.Status = 0
		rec.Error = "connection dropped after processing"
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2: abort the stream
	}
	h := w.Header()
	for _, c := range a.challenges {
		h.Add("WWW-Authenticate", c)
	}
	if a.retryAfter > 0 {
		rec.RetryAfter = Duration(a.retryAfter)
		h.Set("Retry-After", strconv.Itoa(int((a.retryAfter+time.Second-1)/time.Second)))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(a.status)
	rec.Status = a.status
	if _, err := w.Write(a.body); err != nil {
		rec.Error = "write answer: " + err.Error()
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if a.delivery != nil {
		d := *a.delivery
		d.RequestSeq, d.Time, d.Status, d.BodySHA256 = rec.Seq, p.now(), a.status, bodyHash(a.body)
		p.ledger.addDelivery(d)
	}
}

// record puts a request in the ledger and the debug log. The log names the
// token and hash by prefix; it never holds a macaroon or preimage.
func (p *Provider) record(rec Request) {
	p.ledger.addRequest(rec)
	if !p.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	attrs := []any{"seq", rec.Seq, "transport", rec.Transport, "method", rec.Method, "path", rec.Path, "key", rec.Key, "status", rec.Status}
	if c := rec.Credential; c != nil {
		attrs = append(attrs, "token", c.TokenID[:min(12, len(c.TokenID))], "valid", c.Valid, "reason", c.Reason)
	}
	if c := rec.Challenge; c != nil {
		attrs = append(attrs, "challenge", c.PaymentHash[:12])
	}
	if len(rec.Knobs) > 0 {
		attrs = append(attrs, "knobs", rec.Knobs)
	}
	if rec.Error != "" {
		attrs = append(attrs, "error", rec.Error)
	}
	p.log.Debug("request", attrs...)
}

// readHTTP reads what handle needs, or answers bad input itself.
func (p *Provider) readHTTP(w http.ResponseWriter, r *http.Request, rec *Request) (*incoming, *answer) {
	in := &incoming{transport: "http", method: r.Method, path: r.URL.Path}
	in.key = r.Header.Get("Idempotency-Key")
	rec.Key = in.key
	if len(in.key) > MaxKey || strings.ContainsFunc(in.key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		rec.Key = ""
		return nil, &answer{status: http.StatusBadRequest, body: errorBody(fmt.Sprintf("Idempotency-Key: want at most %d printable ASCII characters", MaxKey))}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &answer{status: http.StatusRequestEntityTooLarge, body: errorBody(fmt.Sprintf("body over %d bytes", MaxBody))}
		}
		return nil, &answer{status: http.StatusBadRequest, body: errorBody("read body: " + err.Error())}
	}
	in.body = body
	if len(body) > 0 {
		rec.BodySHA256 = bodyHash(body)
	}
	if values := r.Header.Values("Authorization"); len(values) > 0 {
		cred, err := ParseAuthorization(values)
		switch {
		case errors.Is(err, ErrNoCredential):
		case err != nil:
			in.credErr = err
		default:
			in.cred = cred
		}
	}
	return in, nil
}
