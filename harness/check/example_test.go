package check_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

// A client killed after paying, restarted, pays again: the history says
// what the client did, the truth what the ledgers saw.
func Example() {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	first, second := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	run := func(i int64, at time.Duration, proc int, typ history.Type, v *history.Result) history.Event {
		return history.Event{Index: i, Time: at, Process: proc, Type: typ, F: history.Purchase, Key: "k1", Attempt: proc, Value: v}
	}
	h := history.History{
		run(0, 0, 1, history.Invoke, nil),
		run(1, 2*time.Second, 1, history.Info, &history.Result{ExitCode: -1, Killed: true}),
		run(2, 3*time.Second, 2, history.Invoke, nil),
		run(3, 5*time.Second, 2, history.OK, &history.Result{Outcome: history.Delivered, Status: 200, PaymentHash: second}),
	}
	challenge := func(at time.Duration, hash string) history.Request {
		return history.Request{Time: start.Add(at), Path: "/data/k1", Purchase: "k1", Status: 402, InvoiceHash: hash, MacaroonHash: hash, AmountMsat: 100_000}
	}
	paid := func(at time.Duration, hash string) history.Payment {
		return history.Payment{Hash: hash, Status: history.PaymentSucceeded, ValueMsat: 100_000, Created: start.Add(at), Resolved: start.Add(at + time.Second/2)}
	}
	t := &history.Truth{
		Started:    start,
		Plan:       history.Plan{Purchases: []history.PlannedPurchase{{Key: "k1", Path: "/data/k1", Service: "data", MaxCostMsat: 1_000_000}}},
		Requests:   []history.Request{challenge(time.Second/2, first), challenge(3*time.Second+time.Second/2, second)},
		Payments:   []history.Payment{paid(time.Second, first), paid(4*time.Second, second)},
		Deliveries: []history.Delivery{{Time: start.Add(4*time.Second + time.Second/2), Purchase: "k1", PaymentHash: second}},
	}
	cs, err := check.ByName("at-most-once", "truthful-outcome")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range check.Run(h, t, cs) {
		fmt.Println(r)
	}
	// Output:
	// at-most-once: invalid: purchase k1 paid 2 times: a1a1a1a1, b2b2b2b2 [#0 #1 #2 #3]
	// truthful-outcome: valid: 1 claim checked against the ledgers
}
