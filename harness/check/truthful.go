package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// deliverySlack is how much later than a "delivered" report the provider
// may record the delivery: it records it once the answer is written, a
// moment after the client can read it.
const deliverySlack = time.Second

// TruthfulOutcome: a client's claims agree with the ledgers. A "failed"
// report must not come after a payment of its purchase that succeeded; a
// "delivered" report must follow a delivery to its purchase, and its
// body_sha256 and payment_hash, when given, must be the delivery's body
// and a hash the purchase was challenged with (or the hash of the token
// the delivered request presented: a token bought by another purchase).
// "unknown" is always truthful, and so is an Info completion: the harness
// did not take its report as a claim.
type TruthfulOutcome struct{}

func (TruthfulOutcome) Name() string { return "truthful-outcome" }

func (c TruthfulOutcome) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	claims := 0
	for _, k := range x.keys {
		for _, op := range x.ops[k] {
			e := op.Complete
			if e == nil || e.Type == history.Info || e.Value == nil {
				continue
			}
			var v *violation
			switch e.Value.Outcome {
			case history.Failed:
				claims++
				v = x.falseFailure(k, op)
			case history.Delivered:
				claims++
				v = x.falseDelivery(k, op)
			}
			if v != nil {
				vs = append(vs, *v)
			}
		}
	}
	return verdict(c.Name(), vs, plural(claims, "claim", "claims")+" checked against the ledgers")
}

// falseFailure: a "failed" report after a payment of the purchase that
// succeeded.
func (x *index) falseFailure(k string, op history.Op) *violation {
	e := op.Complete
	var paid []history.Payment
	for _, p := range x.payments[k] {
		if succeeded(p) && x.at(p.Created) <= e.Time {
			paid = append(paid, p)
		}
	}
	if len(paid) == 0 {
		return nil
	}
	return &violation{
		purchase: k,
		hashes:   hashesOf(paid),
		events:   opEvents(op),
		msg:      fmt.Sprintf("purchase %s reported failed (#%d) but payment %s succeeded", k, e.Index, shorts(hashesOf(paid))),
	}
}

// falseDelivery: a "delivered" report without a delivery, or with a body
// or payment hash the ledgers do not know.
func (x *index) falseDelivery(k string, op history.Op) *violation {
	e := op.Complete
	v := e.Value
	bad := func(hashes []string, format string, args ...any) *violation {
		return &violation{purchase: k, hashes: hashes, events: opEvents(op), msg: fmt.Sprintf(format, args...)}
	}
	var reported []string
	if v.PaymentHash != "" {
		reported = []string{v.PaymentHash}
	}
	dels := x.deliveries[k]
	before := 0
	for _, d := range dels {
		if x.at(d.Time) <= e.Time+deliverySlack {
			before++
		}
	}
	if before == 0 {
		if len(dels) > 0 {
			return bad(reported, "purchase %s reported delivered (#%d) before the provider delivered (%s later)", k, e.Index, x.at(dels[0].Time)-e.Time)
		}
		return bad(reported, "purchase %s reported delivered (#%d) but the provider never delivered to it", k, e.Index)
	}
	if v.BodySHA256 != "" && !x.deliveredBody(k, v.BodySHA256) {
		return bad(reported, "purchase %s reported delivered (#%d) with body %s the provider never sent it", k, e.Index, history.Short(v.BodySHA256))
	}
	if v.PaymentHash != "" && !x.challenged[k][norm(v.PaymentHash)] && !x.presented(k, v.PaymentHash) {
		return bad(reported, "purchase %s reported delivered (#%d) paid by %s, a hash it was never challenged with", k, e.Index, history.Short(v.PaymentHash))
	}
	return nil
}

func (x *index) deliveredBody(k, body string) bool {
	for _, d := range x.deliveries[k] {
		if strings.EqualFold(d.BodySHA256, strings.TrimSpace(body)) {
			return true
		}
	}
	return false
}

// presented reports whether a delivered request of k presented a token
// paid by hash.
func (x *index) presented(k, hash string) bool {
	seqs := map[int64]bool{}
	for _, d := range x.deliveries[k] {
		if sameHash(d.PaymentHash, hash) {
			return true
		}
		seqs[d.RequestSeq] = true
	}
	for _, r := range x.requests[k] {
		if seqs[r.Seq] && sameHash(r.CredentialHash, hash) {
			return true
		}
	}
	return false
}
