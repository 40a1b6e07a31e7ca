package mutant

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/client"
)

// sabotage is how one mutant departs from the reference client. Every
// field works through a public seam of package client; the zero value is
// the reference client itself.
type sabotage struct {
	// payer wraps the Rig's payer.
	payer func(client.Payer) client.Payer
	// transport wraps the Rig's HTTP transport.
	transport func(http.RoundTripper) http.RoundTripper
	// options come after the reference client's own, so they win.
	options []client.Option
	// scratchJournal journals in a fresh directory removed when the
	// attempt returns instead of Env.StateDir.
	scratchJournal bool
	// startOverAfter5xx starts the purchase over, with a fresh journal,
	// when it ends paid and undelivered after a 5xx.
	startOverAfter5xx bool
}

// giveUpAfter is how long fail-on-timeout waits for a payment.
const giveUpAfter = 3 * time.Second

// sabotages maps every mutant of All to its sabotage.
func sabotages() map[string]sabotage {
	return map[string]sabotage{
		PayAfter5xx:   {startOverAfter5xx: true},
		MemoryJournal: {scratchJournal: true},
		FailOnTimeout: {
			payer: func(p client.Payer) client.Payer { return failOnTimeout{Payer: p, after: giveUpAfter} },
			// One payment per attempt: the false failure is what it
			// reports, instead of paying a second challenge.
			options: []client.Option{client.WithMaxPayments(1)},
		},
		IgnoreRetryAfter: {transport: func(rt http.RoundTripper) http.RoundTripper { return stripRetryAfter{rt} }},
		Retry400:         {transport: func(rt http.RoundTripper) http.RoundTripper { return retry400{rt} }},
		PayAnyAmount:     {options: []client.Option{client.WithMaxCost(math.MaxInt64)}},
		NoIdempotencyKey: {transport: func(rt http.RoundTripper) http.RoundTripper { return stripIdempotencyKey{rt} }},
		// A token that expires as it is stored is never reused; the
		// journal, and so at-most-once per purchase, is untouched.
		NoTokenReuse:    {options: []client.Option{client.WithTokenTTL(0)}},
		StrictChallenge: {transport: func(rt http.RoundTripper) http.RoundTripper { return strictChallenge{rt} }},
	}
}

// failOnTimeout is a Payer that waits at most `after` for a payment and
// then calls it failed: every error (timeout, lost stream, duplicate) and
// every non-final state becomes a definitive PayFailed, so the client
// never tracks the payment that may still settle. The wait is a context
// deadline, so a simulator that maps deadlines onto its own clock
// controls it.
type failOnTimeout struct {
	client.Payer
	after time.Duration
}

func (f failOnTimeout) SendPayment(ctx context.Context, bolt11 string, opts client.SendOptions) (client.PaymentStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, f.after)
	defer cancel()
	st, err := f.Payer.SendPayment(ctx, bolt11, opts)
	switch {
	case err != nil:
		return client.PaymentStatus{State: client.PayFailed, Hash: st.Hash, Reason: fmt.Sprintf("gave up: %v", err)}, nil
	case !st.State.Final():
		return client.PaymentStatus{State: client.PayFailed, Hash: st.Hash, Reason: "gave up: " + st.State.String()}, nil
	}
	return st, nil
}

// stripRetryAfter removes Retry-After from every response.
type stripRetryAfter struct{ base http.RoundTripper }

func (s stripRetryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if resp != nil {
		resp.Header.Del("Retry-After")
	}
	return resp, err
}

// retry400 turns a 400 into a 503 without Retry-After.
type retry400 struct{ base http.RoundTripper }

func (r retry400) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if resp != nil && resp.StatusCode == http.StatusBadRequest {
		resp.StatusCode = http.StatusServiceUnavailable
		resp.Status = fmt.Sprintf("%d %s", http.StatusServiceUnavailable, http.StatusText(http.StatusServiceUnavailable))
		resp.Header.Del("Retry-After")
	}
	return resp, err
}

// stripIdempotencyKey sends every request without Idempotency-Key.
type stripIdempotencyKey struct{ base http.RoundTripper }

func (s stripIdempotencyKey) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Idempotency-Key") != "" {
		// A RoundTripper must not modify the caller's request.
		req = req.Clone(req.Context())
		req.Header.Del("Idempotency-Key")
	}
	return s.base.RoundTrip(req)
}

// strictChallenge keeps only the challenges written exactly as the
// current form writes them: "L402 " then token= among the parameters.
type strictChallenge struct{ base http.RoundTripper }

func (s strictChallenge) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if resp == nil {
		return resp, err
	}
	var keep []string
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if strings.HasPrefix(v, "L402 ") && strings.Contains(v, ` token="`) {
			keep = append(keep, v)
		}
	}
	resp.Header.Del("WWW-Authenticate")
	for _, v := range keep {
		resp.Header.Add("WWW-Authenticate", v)
	}
	return resp, err
}
