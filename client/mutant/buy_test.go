package mutant

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/l402chaos/l402chaos/client"
	"github.com/stretchr/testify/require"
)

func TestBuyUnknownMutant(t *testing.T) {
	w := newWorld(t)
	out, err := w.buy(context.Background(), "no-such-bug", w.env(http.MethodGet, "/svc/a", "k1"))
	require.Nil(t, out)
	require.ErrorIs(t, err, ErrUnknown)
	require.ErrorIs(t, err, client.ErrAdapterConfig)
	require.Equal(t, client.ReportFailed, client.ReportFor(out, err).Outcome, "nothing was attempted")
	require.Empty(t, w.requests())
	require.Empty(t, w.payer.Calls())
	entries, err := os.ReadDir(w.state)
	require.NoError(t, err)
	require.Empty(t, entries, "no journal was opened")
}

func TestBuyWithoutPayer(t *testing.T) {
	w := newWorld(t)
	r := w.rig(w.env(http.MethodGet, "/svc/a", "k1"))
	r.Payer = nil
	out, err := Buy(context.Background(), reference, r)
	require.Nil(t, out)
	require.ErrorIs(t, err, client.ErrAdapterConfig)
	require.Empty(t, w.requests())
}

// inMemory is a transport that answers every request with a handler, in
// process, as a simulator's does: no socket, no name lookup.
type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		defer req.Body.Close()
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// errNetwork is what the HTTP client a Rig's Options bring answers.
var errNetwork = errors.New("the network was used")

type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) { return nil, errNetwork }

// Every mutant, and the reference client, sends every request through
// Rig.Transport: the provider is a host that does not resolve, served
// only by the in-memory transport. Rig.Options come first, so the cap,
// the logger and the HTTP client over Rig.Transport replace what they
// set; a nil Log is fine.
func TestEveryRequestGoesThroughTheTransport(t *testing.T) {
	for _, name := range names() {
		t.Run(cmp.Or(name, "reference"), func(t *testing.T) {
			w := newWorld(t)
			env := w.env(http.MethodPost, "/svc/a", "k1")
			env.URL = "http://provider.invalid/svc/a"
			r := w.rig(env)
			r.Transport = inMemory{http.HandlerFunc(w.handle)}
			r.Log = nil
			r.Options = append(r.Options,
				client.WithHTTPClient(&http.Client{Transport: refuse{}}),
				client.WithMaxCost(1), // under the price; Env.MaxCostSat comes later and wins
			)
			out, err := Buy(context.Background(), name, r)
			require.NoError(t, err)
			require.Equal(t, client.Delivered, out.Result)
			require.Equal(t, []byte("content"), out.Body)
			require.Len(t, w.requests(), out.Requests)
			require.Equal(t, 1, w.registered())
		})
	}
}
