package certify

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Certification's own checkers: protocol rules the harness's ten
// checkers (harness/check) do not judge, read off the same history and
// ground truth. They run on every case, after the run.

// Checkers lists certification's own checkers.
func Checkers() []check.Checker {
	return []check.Checker{PaidBeforeCredential{}, SameRequest{}, NoExpiredPayment{}, Delivered{}, Rechallenged{}}
}

// PaidBeforeCredential: a credential names a payment hash (its
// macaroon's) and carries a preimage; the payer must have paid that hash,
// successfully, before the request that presents it.
type PaidBeforeCredential struct{}

func (PaidBeforeCredential) Name() string { return "paid-before-credential" }

func (c PaidBeforeCredential) Check(h history.History, t *history.Truth) check.Result {
	if r, bad := unjudgeable(c, h, t); bad {
		return r
	}
	paid := map[string]time.Time{}
	for _, p := range t.Payments {
		if p.Status == history.PaymentSucceeded {
			paid[strings.ToLower(p.Hash)] = p.Created
		}
	}
	n := 0
	for _, r := range t.Requests {
		if r.CredentialHash == "" || !r.Time.After(t.Started) {
			continue
		}
		n++
		created, ok := paid[strings.ToLower(r.CredentialHash)]
		switch {
		case !ok:
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: r.Purchase, Hashes: []string{r.CredentialHash},
				Message: fmt.Sprintf("request #%d (%s %s) presented a credential for %s, which the payer never paid", r.Seq, r.Method, r.Path, history.Short(r.CredentialHash))}
		case created.After(r.Time):
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: r.Purchase, Hashes: []string{r.CredentialHash},
				Message: fmt.Sprintf("request #%d (%s %s) presented a credential for %s at %s, before its payment was made at %s",
					r.Seq, r.Method, r.Path, history.Short(r.CredentialHash), r.Time.Format(time.StampMilli), created.Format(time.StampMilli))}
		}
	}
	return check.Result{Checker: c.Name(), Validity: check.Valid, Message: fmt.Sprintf("%d credentialed requests, each for a paid hash", n)}
}

// SameRequest: every request of a purchase is the purchase's own request:
// the planned method, and one body throughout (the credentialed retry
// re-issues the original request, it does not make a new one).
type SameRequest struct{}

func (SameRequest) Name() string { return "same-request" }

func (c SameRequest) Check(h history.History, t *history.Truth) check.Result {
	if r, bad := unjudgeable(c, h, t); bad {
		return r
	}
	method := map[string]string{}
	for _, p := range t.Plan.Purchases {
		method[p.Key] = p.Method
	}
	body := map[string]history.Request{}
	n := 0
	for _, r := range t.Requests {
		want, ok := method[r.Purchase]
		if !ok {
			continue
		}
		n++
		if want != "" && !strings.EqualFold(r.Method, want) {
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: r.Purchase,
				Message: fmt.Sprintf("request #%d of purchase %s is a %s; the purchase is a %s", r.Seq, r.Purchase, r.Method, want)}
		}
		first, seen := body[r.Purchase]
		if !seen {
			body[r.Purchase] = r
			continue
		}
		if r.BodySHA256 != first.BodySHA256 {
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: r.Purchase,
				Message: fmt.Sprintf("request #%d of purchase %s carries another body (sha256 %s) than its first request #%d (sha256 %s)",
					r.Seq, r.Purchase, short(r.BodySHA256), first.Seq, short(first.BodySHA256))}
		}
	}
	return check.Result{Checker: c.Name(), Validity: check.Valid, Message: fmt.Sprintf("%d requests, each its purchase's own", n)}
}

// NoExpiredPayment: no payment for an invoice that had expired when the
// payment was made, nor for a challenge the provider sent already
// expired.
type NoExpiredPayment struct{}

func (NoExpiredPayment) Name() string { return "no-expired-payment" }

func (c NoExpiredPayment) Check(h history.History, t *history.Truth) check.Result {
	if r, bad := unjudgeable(c, h, t); bad {
		return r
	}
	expired := map[string]bool{}
	for _, r := range t.Requests {
		if r.InvoiceHash != "" && r.ChallengeKnob == "expired-invoice" {
			expired[strings.ToLower(r.InvoiceHash)] = true
		}
	}
	inv := map[string]history.Invoice{}
	for _, i := range t.Invoices {
		inv[strings.ToLower(i.Hash)] = i
	}
	n := 0
	for _, p := range t.Payments {
		if !t.Started.IsZero() && p.Created.Before(t.Started) {
			continue // the network's own set-up
		}
		n++
		h := strings.ToLower(p.Hash)
		i, ok := inv[h]
		late := ok && i.Expiry > 0 && p.Created.After(i.Created.Add(i.Expiry))
		if expired[h] || late {
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Hashes: []string{p.Hash},
				Message: fmt.Sprintf("payment %s (%s) was made for an expired invoice", history.Short(p.Hash), p.Status)}
		}
	}
	return check.Result{Checker: c.Name(), Validity: check.Valid, Message: fmt.Sprintf("%d payments, none for an expired invoice", n)}
}

// Delivered: every planned purchase ended delivered (its last attempt
// reported it). It judges the dialect scenarios, where nothing stands in
// the way: a client that cannot read a correct server's challenge, or
// does not take a new one, fails it.
type Delivered struct{}

func (Delivered) Name() string { return "delivered" }

func (c Delivered) Check(h history.History, t *history.Truth) check.Result {
	if t == nil {
		return check.Result{Checker: c.Name(), Validity: check.Unknown, Message: "no ground truth"}
	}
	last := map[string]history.Event{}
	for _, e := range h {
		if e.F == history.Purchase && e.Type.Completes() {
			last[e.Key] = e
		}
	}
	for _, p := range t.Plan.Purchases {
		e, ok := last[p.Key]
		switch {
		case !ok:
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: p.Key, Message: fmt.Sprintf("purchase %s never completed", p.Key)}
		case e.Type != history.OK:
			why := string(e.Type)
			if e.Value != nil && e.Value.Error != "" {
				why += ": " + e.Value.Error
			} else if e.Detail != "" {
				why += ": " + e.Detail
			}
			return check.Result{Checker: c.Name(), Validity: check.Invalid, Purchase: p.Key, Events: []int64{e.Index},
				Message: fmt.Sprintf("purchase %s was not delivered by a correct server (%s)", p.Key, why)}
		}
	}
	return check.Result{Checker: c.Name(), Validity: check.Valid, Message: fmt.Sprintf("%d purchases delivered", len(t.Plan.Purchases))}
}

// NotExercised starts the message of a Valid result that judged
// nothing: the case never reached what the checker is about. A rule
// counts it as a case that did not reach its dangerous moment, never as
// a pass.
const NotExercised = "not exercised: "

// Rechallenged: once the client bought a token (the first purchase was
// delivered) and the server stopped honouring it, the later purchases
// were delivered too: the client took the new challenge. When the first
// purchase was not delivered the client never held a token to lose, and
// the result says so (NotExercised): a client that cannot read a
// dialect's challenge fails that dialect's rule, not this one.
type Rechallenged struct{}

func (Rechallenged) Name() string { return "rechallenge-taken" }

func (c Rechallenged) Check(h history.History, t *history.Truth) check.Result {
	if t == nil {
		return check.Result{Checker: c.Name(), Validity: check.Unknown, Message: "no ground truth"}
	}
	if len(t.Plan.Purchases) < 2 {
		return check.Result{Checker: c.Name(), Validity: check.Valid, Message: NotExercised + "fewer than two purchases"}
	}
	last := map[string]history.Event{}
	for _, e := range h {
		if e.F == history.Purchase && e.Type.Completes() {
			last[e.Key] = e
		}
	}
	first := t.Plan.Purchases[0].Key
	if e, ok := last[first]; !ok || e.Type != history.OK {
		return check.Result{Checker: c.Name(), Validity: check.Valid, Purchase: first,
			Message: NotExercised + fmt.Sprintf("the first purchase (%s) was not delivered: the client never held a token to lose", first)}
	}
	later := Delivered{}.Check(h, t)
	later.Checker = c.Name()
	if later.Validity == check.Invalid {
		later.Message = "after its token stopped working, " + later.Message
	}
	return later
}

// unjudgeable is Unknown, with why, for a truth the checkers cannot
// judge (check.Unjudgeable).
func unjudgeable(c check.Checker, h history.History, t *history.Truth) (check.Result, bool) {
	why, bad := check.Unjudgeable(h, t)
	return check.Result{Checker: c.Name(), Validity: check.Unknown, Message: why}, bad
}

func short(h string) string {
	if h == "" {
		return "(none)"
	}
	return history.Short(h)
}
