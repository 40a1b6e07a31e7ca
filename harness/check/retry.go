package check

import (
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// RetryDiscipline limits.
const (
	// RetryAfterTolerance: Retry-After goes out in whole seconds, rounded
	// up, while the ledger keeps the duration asked for; a request this
	// much early is still on time.
	RetryAfterTolerance = 100 * time.Millisecond
	// MaxRequestsPerAttempt bounds one run of a purchase.
	MaxRequestsPerAttempt = 20
	// MaxPaymentsAfterRefusal bounds the payments one run of a purchase
	// starts after one of its payments failed for want of funds or of a
	// route: one more try may find the channel back, more is hammering.
	MaxPaymentsAfterRefusal = 1
)

// refusedPayment are lnd's payment failure reasons that another try in
// the same run is not expected to cure: the payer's own balance, no route
// to the payee.
var refusedPayment = map[string]bool{"FAILURE_REASON_INSUFFICIENT_BALANCE": true, "FAILURE_REASON_NO_ROUTE": true}

// permanent are the statuses a request must not be sent again after.
var permanent = map[int]bool{400: true, 403: true, 404: true, 405: true, 410: true, 413: true, 414: true, 415: true, 422: true}

// RetryDiscipline: a client retries politely. (a) After an answer with a
// Retry-After, the purchase's next request waits that long; (b) after a
// permanent refusal (400, 403, 404, 405, 410, 413, 414, 415, 422) the
// purchase sends nothing more, unless the harness ran it again (a new
// Invoke in between); (c) one run of a purchase sends at most
// MaxRequestsPerAttempt requests; (d) after one of its payments failed
// for want of funds or of a route (lnd's INSUFFICIENT_BALANCE, NO_ROUTE),
// one run of a purchase starts at most MaxPaymentsAfterRefusal more
// payments: its node's refusals are judged as a server's are.
//
// The ledger does not say which process sent a request: (a) and (b) judge
// two requests only when at most one run of the purchase spans them, and
// (c) counts the requests of overlapping runs together against the sum of
// their limits. (a) too is waived by a new Invoke in between: a fresh
// process never saw the Retry-After.
type RetryDiscipline struct{}

func (RetryDiscipline) Name() string { return "retry-discipline" }

func (c RetryDiscipline) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	var vs []violation
	for _, k := range x.keys {
		reqs := x.requests[k]
		for i := 0; i+1 < len(reqs); i++ {
			prev, next := reqs[i], reqs[i+1]
			from, to := x.at(prev.Time), x.at(next.Time)
			if x.invokedBetween(k, from, to) || x.runsSpanning(k, span{from, to}) > 1 {
				continue
			}
			gap := to - from
			var msg string
			switch {
			case permanent[prev.Status]:
				msg = fmt.Sprintf("purchase %s sent request seq %d %s after request seq %d was answered %d, a permanent refusal",
					k, next.Seq, gap.Round(time.Millisecond), prev.Seq, prev.Status)
			case prev.RetryAfter > 0 && gap < prev.RetryAfter-RetryAfterTolerance:
				msg = fmt.Sprintf("purchase %s sent request seq %d %s after request seq %d was answered %d with Retry-After %s",
					k, next.Seq, gap.Round(time.Millisecond), prev.Seq, prev.Status, prev.RetryAfter)
			default:
				continue
			}
			vs = append(vs, violation{purchase: k, events: x.events(k, span{from, to}), msg: msg})
		}
		if v, bad := x.repaidAfterRefusal(k); bad {
			vs = append(vs, v)
		}
		for _, cl := range clusters(x.ops[k]) {
			s := cl.span()
			n := 0
			for _, r := range reqs {
				if at := x.at(r.Time); at >= s.from && at <= s.to {
					n++
				}
			}
			if limit := MaxRequestsPerAttempt * len(cl); n > limit {
				what := "one run"
				if len(cl) > 1 {
					what = fmt.Sprintf("%d overlapping runs", len(cl))
				}
				vs = append(vs, violation{
					purchase: k,
					events:   opEvents(cl...),
					msg:      fmt.Sprintf("purchase %s sent %d requests in %s (limit %d)", k, n, what, limit),
				})
			}
		}
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s, retries disciplined", plural(len(t.Requests), "request", "requests")))
}

// repaidAfterRefusal finds the first payment of k that failed for want of
// funds or of a route and was followed, in the same run, by more than
// MaxPaymentsAfterRefusal payments.
func (x *index) repaidAfterRefusal(k string) (violation, bool) {
	pays := x.payments[k]
	for i, p := range pays {
		if !refusedPayment[p.FailureReason] || p.Resolved.IsZero() {
			continue
		}
		from := x.at(p.Resolved)
		var again []history.Payment
		for _, q := range pays[i+1:] {
			to := x.at(q.Created)
			if to < from || x.invokedBetween(k, from, to) || x.runsSpanning(k, span{from, to}) > 1 {
				continue
			}
			again = append(again, q)
		}
		if len(again) > MaxPaymentsAfterRefusal {
			last := again[len(again)-1]
			return violation{
				purchase: k,
				events:   x.events(k, span{from, x.at(last.Created)}),
				msg: fmt.Sprintf("purchase %s started %d payments in one run after payment %s failed with %s (at most %d may follow)",
					k, len(again), history.Short(p.Hash), p.FailureReason, MaxPaymentsAfterRefusal),
			}, true
		}
	}
	return violation{}, false
}

// invokedBetween reports whether the harness ran k again after from, up
// to to.
func (x *index) invokedBetween(k string, from, to time.Duration) bool {
	for _, op := range x.ops[k] {
		if op.Invoke.Time > from && op.Invoke.Time <= to {
			return true
		}
	}
	return false
}

// runsSpanning counts the runs of k that overlap s.
func (x *index) runsSpanning(k string, s span) int {
	n := 0
	for _, op := range x.ops[k] {
		if opSpan(op).overlaps(s) {
			n++
		}
	}
	return n
}

// cluster is a group of runs whose spans overlap, chained.
type cluster []history.Op

func (c cluster) span() span {
	s := opSpan(c[0])
	for _, op := range c[1:] {
		o := opSpan(op)
		s.from, s.to = min(s.from, o.from), max(s.to, o.to)
	}
	return s
}

// clusters groups ops (in invocation order) into chains of overlapping
// runs.
func clusters(ops []history.Op) []cluster {
	var out []cluster
	for _, op := range ops {
		if n := len(out); n > 0 && out[n-1].span().overlaps(opSpan(op)) {
			out[n-1] = append(out[n-1], op)
			continue
		}
		out = append(out, cluster{op})
	}
	return out
}
