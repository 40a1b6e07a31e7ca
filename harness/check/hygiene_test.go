package check_test

import (
	"testing"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// clean: two purchases delivered, balances that add up.
func clean() scene {
	s := newScene("k1", "k2")
	s.t.t.Plan.Purchases[1].Instance = 1 // its own token cache
	happy(s.h, s.t, 1, "k1", hx(1), 0)
	happy(s.h, s.t, 2, "k2", hx(2), ms(1000))
	s.t.t.Payments[1].FeeMsat = 1_000
	s.t.balanced()
	return s
}

// pending: an HTLC of k2's payment is left on the payee's channel.
func pending() (scene, want) {
	s := clean()
	s.t.t.Pending = []history.HTLC{{Node: payee, Channel: "103x1x0", Hash: hx(2), AmountMsat: price, Incoming: true, ExpiryBlock: 500}}
	return s, want{validity: check.Invalid, purchase: "k2", hashes: hs(hx(2)), events: evs(2, 3)}
}

func TestHygiene(t *testing.T) {
	runCases(t, check.Hygiene{}, []checkCase{
		{"clean", func() (scene, want) { return clean(), want{validity: check.Valid} }},
		{"set-up payments before the run are not counted", func() (scene, want) {
			s := clean()
			s.t.t.Payments = append(s.t.t.Payments, history.Payment{Hash: hx(50), Status: history.PaymentSucceeded, ValueMsat: 5 * price, Created: t0.Add(-ms(5000)), Resolved: t0.Add(-ms(4900))})
			s.t.t.Invoices = append(s.t.t.Invoices, history.Invoice{Hash: hx(50), State: history.InvoiceSettled, AmtPaidMsat: 5 * price, Settled: t0.Add(-ms(4900))})
			return s, want{validity: check.Valid}
		}},
		{"HTLC pending", pending},
		{"a channel force-closed: the balances say nothing", func() (scene, want) {
			s := clean()
			a := s.t.t.After[payer]
			a.LocalMsat = 0
			s.t.t.After[payer] = a
			s.t.t.Closed = []string{"103x1x0 (force closing)"}
			return s, want{validity: check.Unknown}
		}},
		{"payer paid more than its payments", func() (scene, want) {
			s := clean()
			a := s.t.t.After[payer]
			a.LocalMsat -= 1
			s.t.t.After[payer] = a
			return s, want{validity: check.Invalid}
		}},
		{"payee got less than its invoices", func() (scene, want) {
			s := clean()
			a := s.t.t.After[payee]
			a.LocalMsat -= price
			s.t.t.After[payee] = a
			return s, want{validity: check.Invalid}
		}},
		{"balances missing", func() (scene, want) {
			s := clean()
			delete(s.t.t.Before, payee)
			return s, want{validity: check.Unknown}
		}},
		{"truth incomplete", withErrors(pending)},
	})
}
