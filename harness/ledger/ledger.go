package ledger

import (
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Add copies a provider's ledger into t, mapping each request, side
// effect and delivery to the purchase of t.Plan whose path it asked for.
// It returns which invoices were hold invoices. The live backend's truth
// and the simulator's use it.
func Add(t *history.Truth, snap fakeprovider.Snapshot) map[string]bool {
	byPath := map[string]string{}
	for _, p := range t.Plan.Purchases {
		byPath[p.Path] = p.Key
	}
	purchase := func(path string) string { return byPath[path] }
	for _, r := range snap.Requests {
		hr := history.Request{
			Seq: r.Seq, Time: r.Time, Method: r.Method, Path: r.Path, Service: r.Service, Key: r.Key, BodySHA256: r.BodySHA256,
			Purchase: purchase(r.Path), Status: r.Status, RetryAfter: time.Duration(r.RetryAfter),
			SideEffect: r.SideEffect, Replayed: r.Replayed, Knobs: r.Knobs, Error: r.Error,
		}
		if c := r.Challenge; c != nil {
			hr.InvoiceHash, hr.MacaroonHash, hr.AmountMsat, hr.ChallengeKnob, hr.TokenID = c.InvoiceHash, c.PaymentHash, c.AmountMsat, c.Knob, c.TokenID
		}
		if c := r.Credential; c != nil {
			hr.CredentialHash, hr.CredentialToken, hr.CredentialValid, hr.CredentialError = c.PaymentHash, c.TokenID, c.Valid, c.Reason
		}
		t.Requests = append(t.Requests, hr)
	}
	for _, s := range snap.SideEffects {
		t.SideEffects = append(t.SideEffects, history.SideEffect{
			Seq: s.Seq, RequestSeq: s.RequestSeq, Time: s.Time, Path: s.Path, Key: s.Key, Purchase: purchase(s.Path), PaymentHash: s.PaymentHash,
		})
	}
	for _, d := range snap.Deliveries {
		t.Deliveries = append(t.Deliveries, history.Delivery{
			Seq: d.Seq, RequestSeq: d.RequestSeq, Time: d.Time, Path: d.Path, Key: d.Key, Purchase: purchase(d.Path),
			PaymentHash: d.PaymentHash, TokenID: d.TokenID, Status: d.Status, BodySHA256: d.BodySHA256, Replayed: d.Replayed,
		})
	}
	holds := map[string]bool{}
	for _, i := range snap.Invoices {
		if i.Hold {
			holds[i.PaymentHash] = true
		}
	}
	return holds
}
