package client_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
)

// A purchase from an L402 server. With a real node the payer would be
//
//	payer, err := client.NewLNDPayer(node.LN(), node.Router())
//
// here it is the fake node from clienttest, and the server mints real
// macaroons over its fake invoices.
func ExampleClient_Do() {
	clock := clienttest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	payer := clienttest.NewPayer()
	issuer := clienttest.NewIssuer(payer, clock)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := issuer.Verify(r); err == nil {
			_, _ = io.WriteString(w, "the weather is fine")
			return
		}
		_, _ = issuer.Challenge(w, 5_000) // 5 sat
	}))
	defer srv.Close()

	dir, err := os.MkdirTemp("", "l402-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := client.OpenStore(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	c, err := client.New(payer, store,
		client.WithClock(clock),
		client.WithMaxCost(10_000), // msat per purchase
		client.WithBudget(100_000), // msat in total
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/weather/today", nil)
	out, err := c.Do(context.Background(), req, "weather-2030-01-01")
	if err != nil {
		fmt.Println("not delivered:", client.KindOf(err), err)
		return
	}
	fmt.Println(out.Result, out.Status, string(out.Body), out.PaidMsat, "msat")

	// The same key again never pays again.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/weather/today", nil)
	out, _ = c.Do(context.Background(), req, "weather-2030-01-01")
	fmt.Println(out.Result, "replayed:", out.Replayed, "payments:", len(payer.Calls()))
	// Output:
	// delivered 200 the weather is fine 5000 msat
	// delivered replayed: true payments: 1
}

// Challenges of every generation parse the same way.
func ExampleParseChallenges() {
	payer := clienttest.NewPayer()
	issuer := clienttest.NewIssuer(payer, clienttest.NewClock(time.Unix(0, 0)))
	m, _ := issuer.Mint(1_000)
	h := http.Header{}
	for _, v := range clienttest.Headers(m, clienttest.FormatAperture) {
		h.Add("WWW-Authenticate", v)
	}
	cs, err := client.ParseChallenges(h)
	if err != nil {
		fmt.Println(err)
		return
	}
	best, _ := client.Preferred(cs)
	fmt.Println(len(cs), best.Scheme, best.PaymentHash == m.Hash)
	// Output: 2 L402 true
}
