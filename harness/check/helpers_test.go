package check_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Small builders for synthetic histories and truths. Times are offsets
// from the start of the run: history times as they are, ledger times
// added to t0, the truth's Started.

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

const (
	payer    = "alice"
	payee    = "bob"
	price    = 100_000 // msat
	startBal = 1_000_000_000
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// hx is a recognisable payment hash: n's two hex digits, 32 times.
func hx(n int) string {
	s := ""
	for range 32 {
		s += fmt.Sprintf("%02x", n)
	}
	return s
}

func bodyOf(key string) string {
	b := sha256.Sum256([]byte(key))
	return hex.EncodeToString(b[:])
}

// hb builds a history; events must be added in time order.
type hb struct {
	h        history.History
	attempts map[string]int
}

func newHistory() *hb { return &hb{attempts: map[string]int{}} }

func (b *hb) add(e history.Event) int64 {
	e.Index = int64(len(b.h))
	b.h = append(b.h, e)
	return e.Index
}

func (b *hb) invoke(proc int, key string, at time.Duration) int64 {
	b.attempts[key]++
	return b.add(history.Event{Time: at, Process: proc, Type: history.Invoke, F: history.Purchase, Key: key, Attempt: b.attempts[key]})
}

func (b *hb) complete(proc int, key string, at time.Duration, typ history.Type, v *history.Result) int64 {
	return b.add(history.Event{Time: at, Process: proc, Type: typ, F: history.Purchase, Key: key, Attempt: b.attempts[key], Value: v})
}

// report completes with the type the runner gives v.
func (b *hb) report(proc int, key string, at time.Duration, v *history.Result) int64 {
	typ := history.Info
	switch {
	case v == nil:
	case v.Outcome == history.Delivered:
		typ = history.OK
	case v.Outcome == history.Failed:
		typ = history.Fail
	}
	return b.complete(proc, key, at, typ, v)
}

func deliveredRes(key, hash string) *history.Result {
	return &history.Result{Outcome: history.Delivered, Status: 200, BodySHA256: bodyOf(key), PaymentHash: hash, PaidMsat: price}
}

func failedRes() *history.Result {
	return &history.Result{Outcome: history.Failed, Error: "refused", ExitCode: 1}
}

func keptRes(hash string) *history.Result {
	return &history.Result{Outcome: history.Unknown, PaymentHash: hash, PaidMsat: price, PaidNotDelivered: true, ExitCode: 2}
}

func unknownRes() *history.Result {
	return &history.Result{Outcome: history.Unknown, Error: "timeout", ExitCode: 2}
}

// tb builds a truth.
type tb struct {
	t   *history.Truth
	seq int64
}

func newTruth(purchases ...history.PlannedPurchase) *tb {
	return &tb{t: &history.Truth{
		Started:   t0,
		Collected: t0.Add(time.Minute),
		Plan: history.Plan{
			Purchases: purchases,
			Services: []history.Service{
				{Name: "data", PerToken: true, TokenTTL: time.Hour, PriceMsat: price},
				{Name: "ops", PriceMsat: price},
			},
		},
		Payer: payer,
		Payee: payee,
	}}
}

func planned(key string) history.PlannedPurchase {
	return history.PlannedPurchase{Key: key, Method: http.MethodGet, Path: "/data/p/" + key, Service: "data", MaxCostMsat: 1_000_000}
}

func (b *tb) next() int64 { b.seq++; return b.seq }

// request records an answered request of key.
func (b *tb) request(key string, at time.Duration, status int, mods ...func(*history.Request)) {
	r := history.Request{Seq: b.next(), Time: t0.Add(at), Method: http.MethodGet, Path: "/data/p/" + key, Service: "data", Key: key, Purchase: key, Status: status}
	for _, m := range mods {
		m(&r)
	}
	b.t.Requests = append(b.t.Requests, r)
}

// challenge records a 402 with an invoice for hash, token tok(n).
func (b *tb) challenge(key string, at time.Duration, hash string, mods ...func(*history.Request)) {
	b.request(key, at, http.StatusPaymentRequired, append([]func(*history.Request){func(r *history.Request) {
		r.InvoiceHash, r.MacaroonHash, r.AmountMsat, r.TokenID = hash, hash, price, "tok-"+hash[:8]
	}}, mods...)...)
	for _, inv := range b.t.Invoices {
		if inv.Hash == hash {
			return // a reused invoice
		}
	}
	b.t.Invoices = append(b.t.Invoices, history.Invoice{Hash: hash, State: history.InvoiceOpen, ValueMsat: price, Created: t0.Add(at), Expiry: time.Hour})
}

func (b *tb) pay(hash, status string, created, resolved time.Duration) {
	p := history.Payment{Hash: hash, Status: status, ValueMsat: price, Created: t0.Add(created)}
	if resolved > 0 {
		p.Resolved = t0.Add(resolved)
	}
	b.t.Payments = append(b.t.Payments, p)
	if status == history.PaymentSucceeded {
		b.settle(hash, resolved)
	}
}

func (b *tb) settle(hash string, at time.Duration) {
	for i := range b.t.Invoices {
		if b.t.Invoices[i].Hash == hash {
			b.t.Invoices[i].State, b.t.Invoices[i].AmtPaidMsat, b.t.Invoices[i].Settled = history.InvoiceSettled, price, t0.Add(at)
			return
		}
	}
}

// deliver records a request presenting the token paid by hash, answered
// 200, and its delivery.
func (b *tb) deliver(key string, at time.Duration, hash string) {
	token := "tok-" + hash[:8]
	b.request(key, at, http.StatusOK, func(r *history.Request) {
		r.CredentialHash, r.CredentialToken, r.CredentialValid = hash, token, true
	})
	b.t.Deliveries = append(b.t.Deliveries, history.Delivery{
		Seq: b.next(), RequestSeq: b.seq - 1, Time: t0.Add(at), Path: "/data/p/" + key, Key: key, Purchase: key,
		PaymentHash: hash, TokenID: token, Status: 200, BodySHA256: bodyOf(key),
	})
}

// balanced sets balances that agree with the payments and invoices.
func (b *tb) balanced() {
	var spent, earned int64
	for _, p := range b.t.Payments {
		if p.Status == history.PaymentSucceeded {
			spent += p.ValueMsat + p.FeeMsat
		}
	}
	for _, inv := range b.t.Invoices {
		if inv.State == history.InvoiceSettled {
			earned += inv.AmtPaidMsat
		}
	}
	b.t.Before = map[string]history.Balance{payer: {LocalMsat: startBal}, payee: {LocalMsat: startBal}}
	b.t.After = map[string]history.Balance{payer: {LocalMsat: startBal - spent}, payee: {LocalMsat: startBal + earned}}
}

// happy is one run of key that pays hash and is delivered, from start:
// invoke, challenge +100ms, payment +200..300ms, delivery +400ms, report
// +500ms. It returns the run's two event indices.
func happy(h *hb, t *tb, proc int, key, hash string, start time.Duration) []int64 {
	i := h.invoke(proc, key, start)
	t.challenge(key, start+ms(100), hash)
	t.pay(hash, history.PaymentSucceeded, start+ms(200), start+ms(300))
	t.deliver(key, start+ms(400), hash)
	c := h.report(proc, key, start+ms(500), deliveredRes(key, hash))
	return []int64{i, c}
}

// scene is a test case's input.
type scene struct {
	h *hb
	t *tb
}

func newScene(keys ...string) scene {
	ps := make([]history.PlannedPurchase, len(keys))
	for i, k := range keys {
		ps[i] = planned(k)
	}
	return scene{h: newHistory(), t: newTruth(ps...)}
}

// want is a case's expected result; Purchase, Hashes and Events are
// checked only on Invalid.
type want struct {
	validity check.Validity
	purchase string
	hashes   []string
	events   []int64
}

type checkCase struct {
	name  string
	build func() (scene, want)
}

func runCases(t *testing.T, c check.Checker, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, w := tc.build()
			require.NoError(t, s.h.h.Validate())
			r := c.Check(s.h.h, s.t.t)
			t.Log(r)
			require.Equal(t, c.Name(), r.Checker)
			require.Equal(t, w.validity, r.Validity, "result: %s", r)
			require.NotEmpty(t, r.Message)
			if w.validity != check.Invalid {
				return
			}
			require.Equal(t, w.purchase, r.Purchase, "result: %s", r)
			require.Equal(t, w.hashes, r.Hashes, "result: %s", r)
			require.Equal(t, w.events, r.Events, "result: %s", r)
		})
	}
}

func evs(is ...int64) []int64 { return is }

func hs(ss ...string) []string { return ss }

// withErrors is the Unknown case every checker has: an Invalid case whose
// truth the harness failed to collect in full.
func withErrors(build func() (scene, want)) func() (scene, want) {
	return func() (scene, want) {
		s, _ := build()
		s.t.t.Errors = []string{"list payments: connection refused"}
		return s, want{validity: check.Unknown}
	}
}
