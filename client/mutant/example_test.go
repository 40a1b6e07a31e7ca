package mutant_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/l402chaos/l402chaos/client/mutant"
)

// handler is an HTTP transport that serves every request in process.
type handler http.HandlerFunc

func (h handler) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	h(rec, req)
	return rec.Result(), nil
}

// The reference client and pay-any-amount buy from a provider that asks
// 5,000 sat against a 1,000 sat cap, in process: a fake node, a fake
// clock, and a transport that serves the provider without a socket.
func ExampleBuy() {
	clock := clienttest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	node := clienttest.NewPayer()
	issuer := clienttest.NewIssuer(node, clock)
	provider := handler(func(rw http.ResponseWriter, r *http.Request) {
		if _, err := issuer.Verify(r); err == nil {
			_, _ = rw.Write([]byte("content"))
			return
		}
		_, _ = issuer.Challenge(rw, 5_000_000) // msat
	})
	for _, name := range []string{"", mutant.PayAnyAmount} {
		state, err := os.MkdirTemp("", "mutant-example-")
		if err != nil {
			fmt.Println(err)
			return
		}
		defer os.RemoveAll(state)
		out, err := mutant.Buy(context.Background(), name, mutant.Rig{
			Env: client.AdapterEnv{
				URL: "http://provider.invalid/data", Method: http.MethodGet, Key: "quote-1",
				StateDir: state, MaxCostSat: 1000, Timeout: 10 * time.Second,
			},
			Payer:     node,
			Options:   []client.Option{client.WithClock(clock)},
			Transport: provider,
		})
		rep := client.ReportFor(out, err)
		fmt.Printf("%-14s %-9s paid %d msat\n", cmp.Or(name, "reference"), rep.Outcome, rep.PaidMsat)
	}
	// Output:
	// reference      failed    paid 0 msat
	// pay-any-amount delivered paid 5000000 msat
}

// Every mutant names the checker that must catch it.
func ExampleAll() {
	for _, m := range mutant.All() {
		fmt.Printf("%-18s caught by %s\n", m.Name, m.CaughtBy)
	}
	// Output:
	// pay-after-5xx      caught by at-most-once
	// memory-journal     caught by at-most-once
	// fail-on-timeout    caught by truthful-outcome
	// ignore-retry-after caught by retry-discipline
	// retry-400          caught by retry-discipline
	// pay-any-amount     caught by price-cap
	// no-idempotency-key caught by idempotent-side-effects
	// no-token-reuse     caught by token-reuse
}
