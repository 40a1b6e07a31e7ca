package ledger_test

import (
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/ledger"
)

func TestAdd(t *testing.T) {
	tr := &history.Truth{Plan: history.Plan{Purchases: []history.PlannedPurchase{{Key: "p1", Path: "/a"}}}}
	snap := fakeprovider.Snapshot{
		Requests: []fakeprovider.Request{
			{Seq: 1, Path: "/a", Status: 402, RetryAfter: fakeprovider.Duration(time.Second),
				Challenge: &fakeprovider.ChallengeRecord{InvoiceHash: "ih", PaymentHash: "ph", AmountMsat: 1000, TokenID: "tok"}},
			{Seq: 2, Path: "/a", Status: 200, Credential: &fakeprovider.CredentialRecord{PaymentHash: "ph", TokenID: "tok", Valid: true}},
			{Seq: 3, Path: "/other", Status: 404},
		},
		SideEffects: []fakeprovider.SideEffect{{Seq: 4, RequestSeq: 2, Path: "/a", PaymentHash: "ph"}},
		Deliveries:  []fakeprovider.Delivery{{Seq: 5, RequestSeq: 2, Path: "/a", PaymentHash: "ph", Status: 200}},
		Invoices:    []fakeprovider.InvoiceRecord{{PaymentHash: "ih", Hold: true}, {PaymentHash: "other"}},
	}
	holds := ledger.Add(tr, snap)

	if len(tr.Requests) != 3 || len(tr.SideEffects) != 1 || len(tr.Deliveries) != 1 {
		t.Fatalf("got %d requests, %d side effects, %d deliveries; want 3, 1, 1", len(tr.Requests), len(tr.SideEffects), len(tr.Deliveries))
	}
	r0, r1, r2 := tr.Requests[0], tr.Requests[1], tr.Requests[2]
	if r0.Purchase != "p1" || r1.Purchase != "p1" || r2.Purchase != "" {
		t.Errorf("purchases %q %q %q, want p1 p1 \"\"", r0.Purchase, r1.Purchase, r2.Purchase)
	}
	if r0.InvoiceHash != "ih" || r0.MacaroonHash != "ph" || r0.AmountMsat != 1000 || r0.TokenID != "tok" || r0.RetryAfter != time.Second {
		t.Errorf("challenge not copied: %+v", r0)
	}
	if r1.CredentialHash != "ph" || r1.CredentialToken != "tok" || !r1.CredentialValid {
		t.Errorf("credential not copied: %+v", r1)
	}
	if tr.SideEffects[0].Purchase != "p1" || tr.Deliveries[0].Purchase != "p1" {
		t.Errorf("side effect or delivery not mapped to p1: %+v %+v", tr.SideEffects[0], tr.Deliveries[0])
	}
	if !holds["ih"] || holds["other"] || len(holds) != 1 {
		t.Errorf("holds %v, want only ih", holds)
	}
}
