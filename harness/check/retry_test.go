package check_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

func retryAfter(d time.Duration) func(*history.Request) {
	return func(r *history.Request) { r.RetryAfter = d }
}

// retried: k1 is answered 503 with Retry-After 2s and asks again gap
// later, in the same run.
func retried(gap time.Duration) (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.request("k1", ms(100), http.StatusServiceUnavailable, retryAfter(2*time.Second))
	s.t.challenge("k1", ms(100)+gap, hx(1))
	s.t.pay(hx(1), history.PaymentSucceeded, ms(200)+gap, ms(300)+gap)
	s.t.deliver("k1", ms(400)+gap, hx(1))
	s.h.report(1, "k1", ms(500)+gap, deliveredRes("k1", hx(1)))
	return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
}

func tooEarly() (scene, want) { return retried(ms(500)) }

// refusedThenAgain: k1 is answered status and asks again in the same run.
func refusedThenAgain(status int) func() (scene, want) {
	return func() (scene, want) {
		s := newScene("k1")
		s.h.invoke(1, "k1", 0)
		s.t.request("k1", ms(100), status)
		s.t.request("k1", ms(200), status)
		s.h.report(1, "k1", ms(300), failedRes())
		return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
	}
}

// hammered: one run of k1 sends n requests.
func hammered(n int) (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	for i := range n {
		s.t.request("k1", ms(10+10*i), http.StatusBadGateway)
	}
	s.h.report(1, "k1", ms(10+10*n), failedRes())
	return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
}

func TestRetryDiscipline(t *testing.T) {
	runCases(t, check.RetryDiscipline{}, []checkCase{
		{"waited", func() (scene, want) {
			s, _ := retried(2 * time.Second)
			return s, want{validity: check.Valid}
		}},
		{"waited within the tolerance", func() (scene, want) {
			s, _ := retried(2*time.Second - check.RetryAfterTolerance)
			return s, want{validity: check.Valid}
		}},
		{"did not wait", tooEarly},
		{"a restart never saw the Retry-After", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.request("k1", ms(100), http.StatusServiceUnavailable, retryAfter(30*time.Second))
			s.h.report(1, "k1", ms(200), unknownRes())
			s.h.invoke(2, "k1", ms(300))
			s.t.request("k1", ms(400), http.StatusOK)
			s.h.report(2, "k1", ms(500), &history.Result{Outcome: history.Delivered, Status: 200})
			return s, want{validity: check.Valid}
		}},
		{"retried a 404", refusedThenAgain(http.StatusNotFound)},
		{"retried a 422", refusedThenAgain(http.StatusUnprocessableEntity)},
		{"retried a 502", func() (scene, want) {
			s, _ := refusedThenAgain(http.StatusBadGateway)()
			return s, want{validity: check.Valid}
		}},
		{"ran again after a 400", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.t.request("k1", ms(100), http.StatusBadRequest)
			s.h.report(1, "k1", ms(200), failedRes())
			s.h.invoke(2, "k1", ms(300))
			s.t.request("k1", ms(400), http.StatusBadRequest)
			s.h.report(2, "k1", ms(500), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"another process saw the 404", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.h.invoke(2, "k1", ms(10))
			s.t.request("k1", ms(100), http.StatusNotFound)
			s.t.request("k1", ms(110), http.StatusNotFound)
			s.h.report(1, "k1", ms(200), failedRes())
			s.h.report(2, "k1", ms(210), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"twenty requests", func() (scene, want) {
			s, _ := hammered(check.MaxRequestsPerAttempt)
			return s, want{validity: check.Valid}
		}},
		{"twenty-one requests", func() (scene, want) { return hammered(check.MaxRequestsPerAttempt + 1) }},
		{"two runs at once share the limits", func() (scene, want) {
			s := newScene("k1")
			s.h.invoke(1, "k1", 0)
			s.h.invoke(2, "k1", ms(1))
			for i := range 30 {
				s.t.request("k1", ms(10+10*i), http.StatusBadGateway)
			}
			s.h.report(1, "k1", ms(400), failedRes())
			s.h.report(2, "k1", ms(401), failedRes())
			return s, want{validity: check.Valid}
		}},
		{"one payment after insufficient balance", func() (scene, want) {
			s, _ := repaid("FAILURE_REASON_INSUFFICIENT_BALANCE", 1, false)
			return s, want{validity: check.Valid}
		}},
		{"two payments after insufficient balance", func() (scene, want) { return repaid("FAILURE_REASON_INSUFFICIENT_BALANCE", 2, false) }},
		{"two payments after no route", func() (scene, want) { return repaid("FAILURE_REASON_NO_ROUTE", 2, false) }},
		{"two payments after a timeout (a held HTLC the payee let go)", func() (scene, want) {
			s, _ := repaid("FAILURE_REASON_TIMEOUT", 2, false)
			return s, want{validity: check.Valid}
		}},
		{"the harness ran the purchase again in between", func() (scene, want) {
			s, _ := repaid("FAILURE_REASON_INSUFFICIENT_BALANCE", 2, true)
			return s, want{validity: check.Valid}
		}},
		{"truth incomplete", withErrors(tooEarly)},
	})
}

// repaid: one run of k1 pays hx(1), which fails with reason, then pays
// again n times (each failing the same way); with rerun the harness runs
// k1 again between the first failure and the payments after it.
func repaid(reason string, n int, rerun bool) (scene, want) {
	s := newScene("k1")
	s.h.invoke(1, "k1", 0)
	s.t.challenge("k1", ms(100), hx(1))
	s.t.pay(hx(1), history.PaymentFailed, ms(200), ms(300))
	s.t.t.Payments[0].FailureReason = reason
	at := ms(400)
	if rerun {
		s.h.report(1, "k1", ms(350), failedRes())
		s.h.invoke(2, "k1", ms(360))
	}
	for i := range n {
		s.t.challenge("k1", at, hx(2+i))
		s.t.pay(hx(2+i), history.PaymentFailed, at+ms(50), at+ms(60))
		s.t.t.Payments[len(s.t.t.Payments)-1].FailureReason = reason
		at += ms(100)
	}
	proc := 1
	if rerun {
		proc = 2
	}
	s.h.report(proc, "k1", at, failedRes())
	if rerun {
		return s, want{validity: check.Valid}
	}
	// The run's invoke and its report.
	return s, want{validity: check.Invalid, purchase: "k1", events: evs(0, 1)}
}
