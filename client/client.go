package client

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"gopkg.in/macaroon.v2"
)

// Result is how a purchase ended, in Jepsen's terms: Delivered is OK,
// Failed is Fail (no money moved), PaidNotDelivered and Unknown are Info
// (money moved or may have).
type Result uint8

const (
	// Unknown: a payment was dispatched and its outcome is not known yet.
	// The purchase stays open; Do with the same key or Recover resolves
	// it by tracking, never by paying again.
	Unknown Result = iota
	// Delivered: the server answered with a success status.
	Delivered
	// Failed: the purchase ended and no money moved.
	Failed
	// PaidNotDelivered: the payment settled but the server did not
	// deliver. The preimage is kept in the journal and in the Outcome.
	PaidNotDelivered
)

var resultNames = [...]string{Unknown: "unknown", Delivered: "delivered", Failed: "failed", PaidNotDelivered: "paid-not-delivered"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

// MarshalText writes the result's name.
func (r Result) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a name written by MarshalText.
func (r *Result) UnmarshalText(b []byte) error {
	for i, n := range resultNames {
		if n == string(b) {
			*r = Result(i)
			return nil
		}
	}
	return fmt.Errorf("unknown result %q", b)
}

// Outcome is what one Do call achieved.
type Outcome struct {
	Key    string `json:"key"`
	Result Result `json:"result"`
	Kind   Kind   `json:"kind,omitempty"` // why, when not Delivered
	Reason string `json:"reason,omitempty"`

	// The last HTTP response, if any.
	Status int         `json:"status,omitempty"`
	Header http.Header `json:"-"`
	Body   []byte      `json:"-"`

	PaymentHash lntypes.Hash     `json:"-"`
	Preimage    lntypes.Preimage `json:"-"` // when this purchase paid
	PaidMsat    int64            `json:"paid_msat,omitempty"`
	FeeMsat     int64            `json:"fee_msat,omitempty"`
	// Reused: delivered with a credential an earlier purchase paid for.
	Reused bool `json:"reused,omitempty"`
	// Replayed: the purchase had already been delivered; the request was
	// sent again with its credential, and nothing was paid.
	Replayed bool `json:"replayed,omitempty"`
	Payments int  `json:"payments"` // SendPayment calls made by this call
	Requests int  `json:"requests"` // HTTP requests made by this call
}

// Client buys HTTP responses paid over Lightning, at most once per
// purchase key. It is safe for concurrent use; calls with the same key
// are serialised.
type Client struct {
	payer Payer
	store *Store
	http  *http.Client
	clock Clock
	log   *slog.Logger
	rnd   *lockedRand
	retry RetryPolicy

	maxCost          int64
	budget           int64
	maxFee           int64
	payTimeout       time.Duration
	expiryMargin     time.Duration
	paidRejectWindow time.Duration
	tokenTTL         time.Duration
	service          func(*url.URL) string
	maxPayments      int
	pollEvery        time.Duration
	maxBody          int64
	hook             func(point string)
}

// New builds a client that pays with payer and journals in store.
func New(payer Payer, store *Store, opts ...Option) (*Client, error) {
	if payer == nil || store == nil {
		return nil, errors.New("new client: nil payer or store")
	}
	var seed [16]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("new client: seed: %w", err)
	}
	c := &Client{
		payer:            payer,
		store:            store,
		http:             &http.Client{Timeout: defaultHTTPTimeout},
		clock:            systemClock{},
		log:              slog.New(slog.DiscardHandler),
		rnd:              &lockedRand{r: rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))},
		retry:            DefaultRetryPolicy(),
		maxCost:          defaultMaxCost,
		maxFee:           defaultMaxFee,
		payTimeout:       defaultPaymentTimeout,
		expiryMargin:     defaultExpiryMargin,
		paidRejectWindow: defaultPaidRejectWindow,
		tokenTTL:         defaultTokenTTL,
		service:          DefaultService,
		maxPayments:      defaultMaxPayments,
		pollEvery:        defaultPollInterval,
		maxBody:          defaultMaxBody,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, fmt.Errorf("new client: %w", err)
		}
	}
	return c, nil
}

// Store is the client's journal.
func (c *Client) Store() *Store { return c.store }

// Do performs req as the purchase named key, paying an L402 challenge at
// most once. An empty key is derived from the method, URL and body. The
// Outcome is non-nil for every purchase Do started; the error is non-nil
// (an *Error) whenever the Result is not Delivered.
func (c *Client) Do(ctx context.Context, req *http.Request, key string) (*Outcome, error) {
	if req == nil || req.URL == nil {
		return nil, &Error{Op: "do", Kind: Permanent, Err: errors.New("nil request or url")}
	}
	body, err := readBody(req, c.maxBody)
	if err != nil {
		return nil, &Error{Op: "do", Kind: Permanent, Err: err}
	}
	fp := fingerprint(req.Method, req.URL, body)
	derived := ""
	if key == "" {
		derived = "auto-" + fp[:32]
		g, err := c.store.generation(derived)
		if err != nil {
			return nil, &Error{Op: "do", Kind: Transient, Err: err}
		}
		key = derived + "." + strconv.FormatUint(g, 10)
	}
	if len(key) > MaxKeyLen {
		return nil, &Error{Op: "do", Kind: Permanent, Err: fmt.Errorf("key of %d bytes, max %d", len(key), MaxKeyLen)}
	}
	unlock, err := c.store.lock(ctx, key)
	if err != nil {
		return nil, &Error{Op: "do", Kind: Transient, Err: err}
	}
	defer unlock()

	evs, err := c.store.Events(key)
	if err != nil {
		return nil, &Error{Op: "do", Kind: Transient, Err: err}
	}
	r := &run{
		c: c, key: key, req: req, body: body, fp: fp, derived: derived,
		service: c.service(req.URL), p: rebuild(evs),
		out: &Outcome{Key: key},
	}
	r.log = c.log.With("key", key)
	return r.do(ctx)
}

// Recover walks the unfinished purchases left by an earlier process. It
// tracks every dispatched payment first: a settled one is delivered with
// its preimage (when the journal kept the request) or dead-lettered with
// the preimage kept; an in-flight one is waited for until ctx ends (then
// Unknown); a failed or never-sent one closes the purchase as Failed.
// Purchases that never paid are closed as Failed: Recover never starts a
// payment.
func (c *Client) Recover(ctx context.Context) ([]*Outcome, error) {
	keys, err := c.store.Unfinished()
	if err != nil {
		return nil, err
	}
	var outs []*Outcome
	for _, key := range keys {
		out, err := c.recoverOne(ctx, key)
		if out != nil {
			outs = append(outs, out)
		}
		if err != nil && KindOf(err) == Unclassified {
			return outs, err
		}
	}
	return outs, nil
}

func (c *Client) recoverOne(ctx context.Context, key string) (*Outcome, error) {
	unlock, err := c.store.lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	defer unlock()
	evs, err := c.store.Events(key)
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	p := rebuild(evs)
	if p.intent == nil || p.terminal != stateNone {
		return nil, nil
	}
	r := &run{c: c, key: key, p: p, out: &Outcome{Key: key}, service: p.intent.Service, fp: p.intent.RequestSHA256}
	r.log = c.log.With("key", key, "recover", true)
	if p.intent.BodyKept {
		req, err := http.NewRequestWithContext(ctx, p.intent.Method, p.intent.URL, nil)
		if err == nil && fingerprint(req.Method, req.URL, p.intent.Body) == p.intent.RequestSHA256 {
			if p.intent.ContentType != "" {
				req.Header.Set("Content-Type", p.intent.ContentType)
			}
			r.req, r.body = req, p.intent.Body
		}
	}
	r.log.Info("recovering purchase", "state", p.last)
	if p.pending != nil {
		if err := r.resolve(ctx); err != nil {
			return r.unknown(err)
		}
	}
	if p.cred != nil {
		if r.req == nil {
			return r.undelivered(Permanent, "request not kept in the journal: call Do with the same key and request to deliver", nil)
		}
		return r.deliver(ctx)
	}
	reason := "interrupted before paying; nothing was paid"
	if p.lastReason != "" {
		reason = "interrupted after a payment that did not happen (" + p.lastReason + "); nothing was paid"
	}
	return r.fail(Transient, reason, nil)
}

// purchase is a purchase's state, rebuilt from its events.
type purchase struct {
	intent     *Event
	last       State
	terminal   State            // stateNone while open
	challenges map[string]Event // by payment hash
	pending    *Event           // dispatched and not yet resolved
	settled    *Event
	cred       *Credential
	dispatches int // since the latest intent
	lastReason string
	lastKind   Kind
	// resend is a challenge whose invoice the node never saw: paying it
	// again (same hash, so the node deduplicates) is safer than paying a
	// fresh challenge while a lost request might still arrive.
	resend *Event
}

func rebuild(evs []Event) *purchase {
	p := &purchase{challenges: map[string]Event{}}
	for _, e := range evs {
		p.apply(e)
	}
	return p
}

func (p *purchase) apply(e Event) {
	p.last = e.State
	switch e.State {
	case StateIntent:
		ev := e
		p.intent, p.terminal, p.dispatches, p.resend, p.lastReason, p.lastKind = &ev, stateNone, 0, nil, "", Unclassified
	case StateChallenge:
		p.challenges[e.PaymentHash] = e
	case StateDispatched:
		ev := e
		p.pending, p.resend = &ev, nil
		p.dispatches++
	case StateSettled:
		ev := e
		p.pending, p.settled = nil, &ev
		ch := p.challenges[e.PaymentHash]
		p.cred = &Credential{Scheme: ch.Scheme, Macaroon: e.Macaroon, Preimage: e.Preimage}
	case StateUnpaid:
		p.pending, p.lastReason, p.lastKind = nil, e.Reason, e.Kind
		p.resend = nil
		if e.NeverSent {
			if ch, ok := p.challenges[e.PaymentHash]; ok {
				p.resend = &ch
			}
		}
	case StateDelivered, StateFailed, StateUndelivered:
		p.terminal = e.State
	}
}

// run is one Do (or Recover) working on one purchase under its lock.
type run struct {
	c       *Client
	key     string
	req     *http.Request
	body    []byte
	fp      string // request fingerprint
	derived string // base of a derived key, "" for caller keys
	service string
	p       *purchase
	out     *Outcome
	log     *slog.Logger
}

func (r *run) do(ctx context.Context) (*Outcome, error) {
	p := r.p
	switch {
	case p.intent == nil || p.terminal == StateFailed:
		if err := r.record(r.intentEvent(), effects{open: true}); err != nil {
			return r.journalFailed(err)
		}
	case p.intent.RequestSHA256 != r.fp:
		return r.finishNoRecord(Failed, Permanent, "idempotency key already used for a different request", nil)
	case p.terminal == StateDelivered:
		return r.replay(ctx)
	case p.terminal == StateUndelivered:
		r.log.Info("delivering a paid purchase again", "hash", short(p.settled.hash()))
		return r.deliver(ctx)
	default:
		r.log.Info("resuming unfinished purchase", "state", p.last)
	}
	return r.drive(ctx)
}

func (r *run) intentEvent() Event {
	ev := Event{
		State: StateIntent, Method: r.req.Method, URL: r.req.URL.String(),
		Service: r.service, ContentType: r.req.Header.Get("Content-Type"),
		RequestSHA256: r.fp, DerivedFrom: r.derived,
	}
	if len(r.body) <= keepBodyLimit {
		ev.Body, ev.BodyKept = r.body, true
	}
	return ev
}

// drive moves an open purchase towards a result.
func (r *run) drive(ctx context.Context) (*Outcome, error) {
	c, p := r.c, r.p
	for {
		if p.pending != nil {
			if err := r.resolve(ctx); err != nil {
				return r.unknown(err)
			}
		}
		if p.cred != nil {
			return r.deliver(ctx)
		}
		if p.dispatches >= c.maxPayments {
			k := p.lastKind
			if k == Unclassified {
				k = PaymentFailed
			}
			return r.fail(k, fmt.Sprintf("gave up after %d payments: last: %s", p.dispatches, p.lastReason), nil)
		}
		if p.resend != nil {
			ch := *p.resend
			p.resend = nil
			inv, err := c.payer.DecodeInvoice(ctx, ch.Invoice)
			if err == nil && r.check(ch.hash(), inv) == nil {
				r.log.Info("paying again an invoice the node never saw", "hash", short(inv.Hash))
				if out, err := r.pay(ctx, ch, inv); out != nil || err != nil {
					return out, err
				}
				continue
			}
		}

		resp, tok, err := r.fetch(ctx)
		if err != nil {
			return r.fail(kindOr(err, Transient), err.Error(), resp)
		}
		switch {
		case resp.status < 400:
			return r.delivered(resp, tok)
		case resp.status == http.StatusPaymentRequired:
			out, err := r.challenge(ctx, resp)
			if out != nil || err != nil {
				return out, err
			}
		default:
			return r.fail(ClassifyHTTP(resp.status, false), fmt.Sprintf("status %d", resp.status), resp)
		}
	}
}

// challenge handles a 402: parse, check, journal, pay. It returns a nil
// Outcome and error when the loop should go on.
func (r *run) challenge(ctx context.Context, resp *response) (*Outcome, error) {
	c := r.c
	chs, err := ParseChallenges(resp.header)
	if err != nil {
		return r.fail(Permanent, fmt.Sprintf("402 without a usable challenge: %v", err), resp)
	}
	ch, _ := Preferred(chs)
	inv, err := c.payer.DecodeInvoice(ctx, ch.Invoice)
	if err != nil {
		k := KindOf(err)
		if k != Transient {
			k = Refused
		}
		return r.fail(k, fmt.Sprintf("decode invoice: %v", err), resp)
	}
	ev := Event{
		State: StateChallenge, Scheme: ch.Scheme, PaymentHash: ch.PaymentHash.String(),
		Invoice: ch.Invoice, AmountMsat: inv.AmountMsat, MacaroonID: macID(ch.MacaroonRaw),
		Macaroon: ch.MacaroonRaw,
	}
	if err := r.record(ev, effects{}); err != nil {
		return r.journalFailed(err)
	}
	if err := r.check(ch.PaymentHash, inv); err != nil {
		r.log.Warn("refusing to pay", "hash", short(ch.PaymentHash), "err", err)
		return r.fail(Refused, err.Error(), resp)
	}
	return r.pay(ctx, ev, inv)
}

// check is every test an invoice must pass before it is paid. The budget
// is checked in the same journal transaction that records the dispatch.
func (r *run) check(macHash lntypes.Hash, inv Invoice) error {
	c := r.c
	switch {
	case inv.Hash != macHash:
		return fmt.Errorf("invoice hash %s does not match the macaroon's %s", short(inv.Hash), short(macHash))
	case inv.AmountMsat <= 0:
		return errors.New("amountless invoice")
	case inv.AmountMsat > c.maxCost:
		return fmt.Errorf("invoice for %d msat exceeds the %d msat cap", inv.AmountMsat, c.maxCost)
	}
	if left := inv.Expiry.Sub(c.clock.Now()); left < c.expiryMargin {
		return fmt.Errorf("invoice expires in %s, margin %s", left.Round(time.Millisecond), c.expiryMargin)
	}
	return nil
}

// pay journals the dispatch, then pays. A nil Outcome and error mean the
// loop goes on (settled, failed, or pending to be tracked).
func (r *run) pay(ctx context.Context, ch Event, inv Invoice) (*Outcome, error) {
	c := r.c
	reserve := inv.AmountMsat + c.maxFee
	ev := Event{
		State: StateDispatched, PaymentHash: inv.Hash.String(), Invoice: ch.Invoice,
		AmountMsat: inv.AmountMsat, ReserveMsat: reserve,
	}
	if err := r.record(ev, effects{spend: reserve, budget: c.budget}); err != nil {
		if errors.Is(err, ErrBudget) {
			r.log.Warn("refusing to pay", "hash", short(inv.Hash), "err", err)
			return r.fail(Refused, err.Error(), nil)
		}
		return r.journalFailed(err)
	}
	r.log.Info("paying", "hash", short(inv.Hash), "msat", inv.AmountMsat, "attempt", r.p.dispatches)
	st, err := c.payer.SendPayment(ctx, ch.Invoice, SendOptions{
		MaxFeeMsat: c.maxFee, Timeout: c.payTimeout,
		OnSent: func() { crashAt(CrashPaymentSent) },
	})
	r.out.Payments++
	r.at("sent")
	if err == nil && st.State == PaySucceeded {
		crashAt(CrashPreimage)
	}
	if err != nil {
		// Duplicate, Ambiguous or worse: the payment stays pending and
		// the next turn of the loop tracks it.
		r.log.Warn("payment outcome not seen", "hash", short(inv.Hash), "kind", KindOf(err), "err", err)
		return nil, nil
	}
	if err := r.settleOrUnpaid(st); err != nil {
		return r.unknown(err)
	}
	return nil, nil
}

// resolve tracks the pending payment to a final state.
func (r *run) resolve(ctx context.Context) error {
	c := r.c
	h := r.p.pending.hash()
	st, err := c.payer.TrackPayment(ctx, h)
	if err != nil {
		return &Error{Op: "track payment " + short(h), Kind: Ambiguous, Err: err}
	}
	if st.State == PayInFlight {
		r.log.Info("payment in flight, waiting", "hash", short(h))
		st, err = r.wait(ctx, h)
		if err != nil {
			return &Error{Op: "wait for payment " + short(h), Kind: Ambiguous, Err: err}
		}
	}
	st.Hash = h
	return r.settleOrUnpaid(st)
}

func (r *run) wait(ctx context.Context, h lntypes.Hash) (PaymentStatus, error) {
	c := r.c
	if w, ok := c.payer.(PaymentWaiter); ok {
		return w.WaitPayment(ctx, h)
	}
	for {
		if err := sleep(ctx, c.clock, c.pollEvery); err != nil {
			return PaymentStatus{}, err
		}
		st, err := c.payer.TrackPayment(ctx, h)
		if err == nil && st.State != PayInFlight {
			return st, nil
		}
		if ctx.Err() != nil {
			return PaymentStatus{}, ctx.Err()
		}
	}
}

// settleOrUnpaid journals a payment's final (or not-found) state. An
// in-flight state leaves it pending.
func (r *run) settleOrUnpaid(st PaymentStatus) error {
	pend := r.p.pending
	if pend == nil {
		return nil
	}
	h := pend.hash()
	switch st.State {
	case PaySucceeded:
		if !st.Preimage.Matches(h) {
			return &Error{Op: "settle " + short(h), Kind: Ambiguous, Err: errors.New("preimage does not match the payment hash")}
		}
		amt := st.AmountMsat
		if amt == 0 {
			amt = pend.AmountMsat
		}
		ch := r.p.challenges[pend.PaymentHash]
		ev := Event{
			State: StateSettled, PaymentHash: pend.PaymentHash, AmountMsat: amt, FeeMsat: st.FeeMsat,
			MacaroonID: ch.MacaroonID, Macaroon: ch.Macaroon, Preimage: st.Preimage,
		}
		tok := &Token{
			Service: r.service, Scheme: ch.Scheme, PaymentHash: pend.PaymentHash,
			Macaroon: ch.Macaroon, Preimage: st.Preimage, Expiry: r.tokenExpiry(ch.Macaroon), PaidBy: r.key,
		}
		if err := r.record(ev, effects{spend: amt + st.FeeMsat - pend.ReserveMsat, token: tok}); err != nil {
			return &Error{Op: "settle " + short(h), Kind: Ambiguous, Err: err}
		}
		r.log.Info("payment settled", "hash", short(h), "msat", amt, "fee_msat", st.FeeMsat)
	case PayFailed, PayNotFound:
		ev := Event{
			State: StateUnpaid, PaymentHash: pend.PaymentHash, Kind: PaymentFailed,
			Reason: st.Reason, NeverSent: st.State == PayNotFound,
		}
		if ev.NeverSent {
			ev.Kind, ev.Reason = Transient, "the node never saw the payment"
		}
		if err := r.record(ev, effects{spend: -pend.ReserveMsat}); err != nil {
			return &Error{Op: "unpaid " + short(h), Kind: Ambiguous, Err: err}
		}
		r.log.Info("payment did not happen", "hash", short(h), "state", st.State, "reason", ev.Reason)
	}
	return nil
}

// tokenExpiry is now plus the TTL, or earlier if the macaroon says so.
func (r *run) tokenExpiry(raw []byte) time.Time {
	exp := r.c.clock.Now().Add(r.c.tokenTTL)
	var mac macaroon.Macaroon
	if mac.UnmarshalBinary(raw) != nil {
		return exp
	}
	for _, cav := range mac.Caveats() {
		cv, err := l402.DecodeCaveat(string(cav.Id))
		if err != nil || !strings.HasSuffix(cv.Condition, l402.CondTimeoutSuffix) {
			continue
		}
		if secs, err := strconv.ParseInt(cv.Value, 10, 64); err == nil {
			if t := time.Unix(secs, 0); t.Before(exp) {
				exp = t
			}
		}
	}
	return exp
}

// fetch sends the request with the service's cached credential if there
// is a live one, else without. A rejected cached credential is dropped,
// and a fresh challenge that came with the rejection is returned as is.
func (r *run) fetch(ctx context.Context) (*response, *Token, error) {
	c := r.c
	tok, ok, err := c.store.Token(r.service)
	if err == nil && ok && tok.Expiry.After(c.clock.Now()) {
		if err := r.record(Event{State: StateToken, PaymentHash: tok.PaymentHash, MacaroonID: macID(tok.Macaroon)}, effects{}); err != nil {
			return nil, nil, err
		}
		cred := tok.Credential()
		resp, err := r.exchange(ctx, &cred)
		if err != nil {
			return resp, nil, err
		}
		if resp.status != http.StatusUnauthorized && resp.status != http.StatusPaymentRequired {
			return resp, &tok, nil
		}
		r.log.Info("cached credential rejected", "service", r.service, "hash", short(tok.hash()), "status", resp.status)
		if err := c.store.DropToken(r.service, tok.PaymentHash); err != nil {
			return nil, nil, err
		}
		if resp.status == http.StatusPaymentRequired {
			if _, err := ParseChallenges(resp.header); err == nil {
				return resp, nil, nil
			}
		}
	}
	resp, err := r.exchange(ctx, nil)
	return resp, nil, err
}

// deliver sends the request with the credential this purchase paid for,
// retrying a rejection for the paid-reject window. It never pays.
func (r *run) deliver(ctx context.Context) (*Outcome, error) {
	c, p := r.c, r.p
	cred := *p.cred
	var firstReject time.Time
	var rt *retrier
	for {
		resp, err := r.exchange(ctx, &cred)
		switch {
		case err != nil && ctx.Err() != nil:
			// The caller gave up; the purchase stays open and paid.
			return r.finishNoRecord(PaidNotDelivered, Transient, "delivery interrupted: "+err.Error(), resp)
		case err != nil:
			return r.undelivered(kindOr(err, Transient), err.Error(), resp)
		case resp.status < 400:
			return r.delivered(resp, nil)
		case resp.status == http.StatusUnauthorized || resp.status == http.StatusPaymentRequired:
			now := c.clock.Now()
			if firstReject.IsZero() {
				firstReject = now
				// The window, not the retrier, decides when to stop:
				// MaxElapsed leaves room for one backoff past it.
				rt = newRetrier(RetryPolicy{
					Attempts: int(^uint(0) >> 1), Initial: c.retry.Initial, Max: c.retry.Max,
					MaxElapsed: max(c.paidRejectWindow+c.retry.Max, time.Nanosecond), MaxRetryAfter: c.paidRejectWindow,
				}, c.clock, c.rnd)
			}
			ra := retryAfter(resp.header, now)
			d, ok := rt.next(ra)
			left := c.paidRejectWindow - now.Sub(firstReject)
			if !ok || left <= 0 || ra > left {
				_ = c.store.DropToken(r.service, p.settled.PaymentHash)
				return r.undelivered(CredentialRejected, fmt.Sprintf("paid credential rejected with %d for %s", resp.status, now.Sub(firstReject)), resp)
			}
			// A delay that would overshoot the window is cut short, so
			// the last try comes at the window's end instead of not at
			// all.
			d = min(d, left)
			r.log.Warn("paid credential rejected, retrying", "hash", short(p.settled.hash()), "status", resp.status, "in", d)
			if err := sleep(ctx, c.clock, d); err != nil {
				return r.finishNoRecord(PaidNotDelivered, Transient, "delivery interrupted: "+err.Error(), resp)
			}
		default:
			return r.undelivered(ClassifyHTTP(resp.status, true), fmt.Sprintf("status %d after payment", resp.status), resp)
		}
	}
}

// replay answers a Do for a purchase already delivered: the request goes
// again with the purchase's credential (or a cached one); nothing is paid.
// A purchase that never paid (a free or token-served response) and is now
// refused ends Failed: its key never pays.
func (r *run) replay(ctx context.Context) (*Outcome, error) {
	r.out.Replayed = true
	if r.p.cred != nil {
		// Paid by this purchase: the same delivery rules apply, and a
		// refusal ends PaidNotDelivered, never Failed.
		return r.deliver(ctx)
	}
	resp, tok, err := r.fetch(ctx)
	if err != nil {
		return r.finishNoRecord(Failed, kindOr(err, Transient), err.Error(), resp)
	}
	if resp.status < 400 {
		r.fill(resp)
		if tok != nil {
			r.out.Reused, r.out.PaymentHash = true, tok.hash()
		}
		return r.finishNoRecord(Delivered, Unclassified, "", resp)
	}
	if resp.status == http.StatusUnauthorized || resp.status == http.StatusPaymentRequired {
		return r.finishNoRecord(Failed, Refused, "purchase already delivered; paying again under the same key is refused: use a new key", resp)
	}
	return r.finishNoRecord(Failed, ClassifyHTTP(resp.status, tok != nil), fmt.Sprintf("status %d", resp.status), resp)
}

func (t Token) hash() lntypes.Hash {
	h, _ := lntypes.MakeHashFromStr(t.PaymentHash)
	return h
}

// --- endings ---

func (r *run) fill(resp *response) {
	if resp != nil {
		r.out.Status, r.out.Header, r.out.Body = resp.status, resp.header, resp.body
	}
	if s := r.p.settled; s != nil {
		r.out.PaymentHash, r.out.Preimage = s.hash(), s.Preimage
		r.out.PaidMsat, r.out.FeeMsat = s.AmountMsat, s.FeeMsat
	}
}

func (r *run) delivered(resp *response, tok *Token) (*Outcome, error) {
	sum := sha256.Sum256(resp.body)
	ev := Event{State: StateDelivered, Status: resp.status, ResponseSHA256: hex.EncodeToString(sum[:])}
	if s := r.p.settled; s != nil {
		ev.PaymentHash = s.PaymentHash
	} else if tok != nil {
		ev.PaymentHash = tok.PaymentHash
	}
	// A derived key names one request until it is delivered: the next
	// identical request is a new purchase.
	base := ""
	if r.p.intent != nil {
		base = r.p.intent.DerivedFrom
	}
	if err := r.record(ev, effects{closed: true, clearDead: true, bumpDerived: base}); err != nil {
		return r.journalFailed(err)
	}
	r.fill(resp)
	if tok != nil && r.p.settled == nil {
		r.out.Reused, r.out.PaymentHash = true, tok.hash()
	}
	r.log.Info("purchase delivered", "status", resp.status, "hash", short(r.out.PaymentHash), "reused", r.out.Reused)
	return r.finishNoRecord(Delivered, Unclassified, "", resp)
}

func (r *run) fail(k Kind, reason string, resp *response) (*Outcome, error) {
	if k == Unclassified {
		k = Permanent
	}
	ev := Event{State: StateFailed, Kind: k, Reason: reason}
	if resp != nil {
		ev.Status = resp.status
	}
	dead := &DeadLetter{Key: r.key, Kind: k, Result: Failed, Attempts: 1, LastError: reason, At: r.c.clock.Now()}
	if err := r.record(ev, effects{closed: true, dead: dead}); err != nil {
		return r.journalFailed(err)
	}
	r.log.Warn("purchase failed", "kind", k, "reason", reason)
	return r.finishNoRecord(Failed, k, reason, resp)
}

func (r *run) undelivered(k Kind, reason string, resp *response) (*Outcome, error) {
	ev := Event{State: StateUndelivered, Kind: k, Reason: reason, PaymentHash: r.p.settled.PaymentHash}
	if resp != nil {
		ev.Status = resp.status
	}
	dead := &DeadLetter{Key: r.key, Kind: k, Result: PaidNotDelivered, Attempts: 1, LastError: reason, At: r.c.clock.Now()}
	if err := r.record(ev, effects{closed: true, dead: dead}); err != nil {
		return r.journalFailed(err)
	}
	r.log.Error("paid but not delivered; preimage kept", "hash", short(r.p.settled.hash()), "kind", k, "reason", reason)
	return r.finishNoRecord(PaidNotDelivered, k, reason, resp)
}

// unknown ends the call with the payment's outcome unseen. Nothing
// terminal is journaled: the purchase stays open for the next Do or
// Recover.
func (r *run) unknown(err error) (*Outcome, error) {
	reason := err.Error()
	_ = r.c.store.deadLetter(DeadLetter{Key: r.key, Kind: Ambiguous, Result: Unknown, Attempts: 1, LastError: reason, At: r.c.clock.Now()})
	r.log.Warn("payment outcome unknown; will track, never pay again", "err", err)
	return r.finishNoRecord(Unknown, Ambiguous, reason, nil)
}

// journalFailed ends the call when the journal cannot be written: nothing
// more may happen without a record.
func (r *run) journalFailed(err error) (*Outcome, error) {
	res, k := Failed, Transient
	if r.p.pending != nil || r.p.settled != nil {
		res, k = Unknown, Ambiguous
	}
	r.log.Error("journal write failed", "err", err)
	return r.finishNoRecord(res, k, "journal: "+err.Error(), nil)
}

func (r *run) finishNoRecord(res Result, k Kind, reason string, resp *response) (*Outcome, error) {
	if res != Delivered {
		r.fill(resp)
	}
	r.out.Result, r.out.Kind, r.out.Reason = res, k, reason
	if res == Delivered {
		return r.out, nil
	}
	return r.out, &Error{Op: "purchase " + r.key, Kind: k, Err: fmt.Errorf("%s: %s", res, reason)}
}

// record journals an event and applies it to the in-memory state.
func (r *run) record(ev Event, fx effects) error {
	ev.Key, ev.At = r.key, r.c.clock.Now()
	ev, err := r.c.store.commit(ev, fx)
	if err != nil {
		return err
	}
	r.p.apply(ev)
	r.at(ev.State.String())
	return nil
}

// at marks a step of the critical section: the test hook hears it, and
// a crash point of the same name (CrashIntent, CrashDispatched,
// CrashTokenStored, CrashDelivered) kills the process if armed.
func (r *run) at(point string) {
	if r.c.hook != nil {
		r.c.hook(point)
	}
	crashAt(point)
}

func kindOr(err error, k Kind) Kind {
	if got := KindOf(err); got != Unclassified {
		return got
	}
	return k
}

// --- HTTP ---

type response struct {
	status int
	header http.Header
	body   []byte
}

// bodyHint is the start of an answer's body for an error message (": "
// and up to 120 printable characters), so that a server's reason for a
// 5xx (gRPC's status message among them) reaches the report.
func bodyHint(body []byte) string {
	const max = 120
	s := strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, string(body)))
	if s == "" {
		return ""
	}
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "..."
	}
	return ": " + s
}

// exchange sends the request, retrying transient failures. Statuses that
// are not transient come back as responses; a transient failure that
// outlasts the policy comes back as an error (with the last response).
func (r *run) exchange(ctx context.Context, cred *Credential) (*response, error) {
	c := r.c
	rt := newRetrier(c.retry, c.clock, c.rnd)
	for {
		resp, err := r.send(ctx, cred)
		r.out.Requests++
		var ra time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return nil, &Error{Op: "http", Kind: Transient, Err: ctx.Err()}
			}
			// The caller's context is alive, so a deadline here is the
			// HTTP client's own timeout: transient.
			if k := ClassifyTransport(err); k != Transient && k != Unclassified {
				return nil, &Error{Op: "http", Kind: k, Err: err}
			}
		} else {
			if ClassifyHTTP(resp.status, cred != nil) != Transient {
				return resp, nil
			}
			ra = retryAfter(resp.header, c.clock.Now())
		}
		d, ok := rt.next(ra)
		if !ok {
			if resp != nil {
				return resp, &Error{Op: "http", Kind: Transient, Err: fmt.Errorf("status %d after %d attempts%s", resp.status, rt.attempt, bodyHint(resp.body))}
			}
			return nil, &Error{Op: "http", Kind: Transient, Err: fmt.Errorf("after %d attempts: %w", rt.attempt, err)}
		}
		if resp != nil {
			r.log.Info("retrying", "status", resp.status, "in", d, "retry_after", ra)
		} else {
			r.log.Info("retrying", "err", err, "in", d)
		}
		if err := sleep(ctx, c.clock, d); err != nil {
			return resp, &Error{Op: "http", Kind: Transient, Err: err}
		}
	}
}

func (r *run) send(ctx context.Context, cred *Credential) (*response, error) {
	req := r.req.Clone(ctx)
	if r.body != nil {
		body := r.body
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
	} else {
		req.Body, req.GetBody, req.ContentLength = nil, nil, 0
	}
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		req.Header.Set("Idempotency-Key", r.key)
	}
	if cred != nil {
		req.Header.Set("Authorization", cred.Header())
	}
	if cred != nil && crashArmed(CrashCredentialSent) {
		// The credentialed request's crash point: written, not answered.
		// Traced only when armed: the trace is a new context per request.
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(w httptrace.WroteRequestInfo) {
				if w.Err == nil {
					crashAt(CrashCredentialSent)
				}
			},
		}))
	}
	resp, err := r.c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.c.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > r.c.maxBody {
		return nil, &Error{Op: "read response", Kind: Permanent, Err: fmt.Errorf("body over %d bytes", r.c.maxBody)}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// readBody buffers a request body so every retry can send it again.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("request body over %d bytes", limit)
	}
	return b, nil
}

// fingerprint identifies a request: method, URL and a hash of the body.
func fingerprint(method string, u *url.URL, body []byte) string {
	if method == "" {
		method = http.MethodGet
	}
	bs := sha256.Sum256(body)
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(u.String()))
	h.Write([]byte{0})
	h.Write(bs[:])
	return hex.EncodeToString(h.Sum(nil))
}
