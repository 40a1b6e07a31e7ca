package check

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// TokenSlack is taken off a token's lifetime before it counts as held:
// the provider's expiry caveat is in whole seconds.
const TokenSlack = time.Second

// TokenReuse: a token is bought once and used while it lasts. For a
// service priced per token, a purchase must not pay while its client
// instance held a valid token of that service: another purchase of the
// same instance and service had a delivery with token T before the
// challenge the payment answers (the newest such token: a client keeps
// one per service), the purchase did not present a token of its own that
// was refused before it paid, T had not expired (its TokenTTL from its
// challenge, less TokenSlack) when the payment was created, no request
// presenting T was refused (CredentialValid false, or answered 401 or
// 402) before then, and the provider had not voided T meanwhile (a
// "revoke tokens" fault, a restart that lost its keys): judged on what
// presenting T would have done, not on whether the client knew, since a
// voided token would have been refused and the payment was due anyway.
type TokenReuse struct{}

func (TokenReuse) Name() string { return "token-reuse" }

func (c TokenReuse) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, paymentsMissing, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	for _, p := range t.Plan.Purchases {
		if p.Service != "" && !hasService(t.Plan.Services, p.Service) {
			return unknown(c.Name(), fmt.Sprintf("plan names service %q for purchase %s but does not describe it", p.Service, p.Key))
		}
	}
	x := newIndex(h, t)
	var vs []violation
	judged := 0
	for _, k := range x.keys {
		pp, ok := x.plan[k]
		if !ok || !x.services[pp.Service].PerToken {
			continue
		}
		svc := x.services[pp.Service]
		for _, p := range x.payments[k] {
			judged++
			ch := x.owner[norm(p.Hash)]
			held, ok := x.heldToken(k, pp, svc, ch.Time, p.Created)
			if !ok {
				continue
			}
			vs = append(vs, violation{
				purchase: k,
				hashes:   []string{p.Hash, held.PaymentHash},
				events:   x.events(k, x.paymentSpan(p)),
				msg: fmt.Sprintf("purchase %s paid %s while instance %d held token %s of service %s (bought by purchase %s, paid by %s)",
					k, history.Short(p.Hash), pp.Instance, history.Short(held.TokenID), pp.Service, held.Purchase, orNone(held.PaymentHash)),
			})
		}
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s of per-token services, none while a token was held", plural(judged, "payment", "payments")))
}

func hasService(ss []history.Service, name string) bool {
	for _, s := range ss {
		if s.Name == name {
			return true
		}
	}
	return false
}

// heldToken finds the token of the instance and service that another
// purchase had delivered with last before challenged, if it was still
// valid and never refused at paid. A client keeps one token per service:
// the newest supersedes the ones before it.
func (x *index) heldToken(k string, pp history.PlannedPurchase, svc history.Service, challenged, paid time.Time) (history.Delivery, bool) {
	if x.triedToken(k, paid) {
		return history.Delivery{}, false
	}
	var last history.Delivery
	for _, q := range x.keys {
		qp, ok := x.plan[q]
		if q == k || !ok || qp.Instance != pp.Instance || qp.Service != pp.Service {
			continue
		}
		for _, d := range x.deliveries[q] {
			if d.TokenID == "" || !d.Time.Before(challenged) {
				continue
			}
			if last.TokenID == "" || d.Time.After(last.Time) {
				last = d
			}
		}
	}
	switch {
	case last.TokenID == "":
		return history.Delivery{}, false
	case svc.TokenTTL > 0 && !paid.Before(x.tokenIssued(last).Add(svc.TokenTTL-TokenSlack)):
		return history.Delivery{}, false
	case x.refused(last.TokenID, paid), x.voided(last, paid):
		return history.Delivery{}, false
	}
	return last, true
}

// voidingFaults name the faults after which the provider verifies no
// token it issued before (harness/fault's RevokeTokens and
// RestartProvider with Forget).
var voidingFaults = []string{"revoke tokens", "keys lost"}

// voided reports whether a fault voided d's token after it was issued
// and before at.
func (x *index) voided(d history.Delivery, at time.Time) bool {
	issued, until := x.at(x.tokenIssued(d)), x.at(at)
	for _, e := range x.h {
		if e.Process != history.Nemesis || e.F != history.FaultStart || e.Time < issued || e.Time >= until {
			continue
		}
		for _, f := range voidingFaults {
			if strings.Contains(e.Fault, f) {
				return true
			}
		}
	}
	return false
}

// triedToken reports whether purchase k presented a token and had it
// refused before at: it reused what it held (a token it paid for and was
// never delivered with, say) and paid only after the refusal.
func (x *index) triedToken(k string, at time.Time) bool {
	for _, r := range x.t.Requests {
		if r.Purchase != k || r.CredentialToken == "" || !r.Time.Before(at) {
			continue
		}
		if !r.CredentialValid || r.Status == http.StatusUnauthorized || r.Status == http.StatusPaymentRequired {
			return true
		}
	}
	return false
}

// tokenIssued is when the token of d was minted: the time of the
// challenge that carried it, else of its first delivery.
func (x *index) tokenIssued(d history.Delivery) time.Time {
	issued := d.Time
	for _, r := range x.t.Requests {
		if r.TokenID == d.TokenID && r.Time.Before(issued) {
			issued = r.Time
		}
	}
	for _, o := range x.t.Deliveries {
		if o.TokenID == d.TokenID && o.Time.Before(issued) {
			issued = o.Time
		}
	}
	return issued
}

// refused reports whether a request presenting token was refused before
// at.
func (x *index) refused(token string, at time.Time) bool {
	for _, r := range x.t.Requests {
		if r.CredentialToken != token || !r.Time.Before(at) {
			continue
		}
		if !r.CredentialValid || r.Status == http.StatusUnauthorized || r.Status == http.StatusPaymentRequired {
			return true
		}
	}
	return false
}
