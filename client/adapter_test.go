package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/clienttest"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
)

func adapterEnv(t *testing.T) map[string]string {
	t.Helper()
	body := filepath.Join(t.TempDir(), "body")
	require.NoError(t, os.WriteFile(body, []byte(`{"qty":1}`), 0o644))
	return map[string]string{
		"L402_URL": "http://127.0.0.1:1/ops/order", "L402_METHOD": "POST", "L402_BODY_FILE": body,
		"L402_IDEMPOTENCY_KEY": "k1", "L402_STATE_DIR": t.TempDir(), "L402_MAX_COST_SAT": "500",
		"L402_TIMEOUT_SEC": "1.5", "LND_RPCSERVER": "127.0.0.1:2", "LND_TLSCERTPATH": "/tls.cert",
		"LND_MACAROONPATH": "/admin.macaroon", "LND_NETWORK": "regtest",
	}
}

func getenv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestReadAdapterEnv(t *testing.T) {
	m := adapterEnv(t)
	e, err := client.ReadAdapterEnv(getenv(m))
	require.NoError(t, err)
	require.Equal(t, "POST", e.Method)
	require.Equal(t, []byte(`{"qty":1}`), e.Body)
	require.Equal(t, int64(500), e.MaxCostSat)
	require.Equal(t, 1500*time.Millisecond, e.Timeout)
	require.Equal(t, "k1", e.Key)
	require.Equal(t, "127.0.0.1:2", e.LNDRPCServer)

	t.Run("defaults", func(t *testing.T) {
		for _, k := range []string{"L402_METHOD", "L402_BODY_FILE", "L402_MAX_COST_SAT", "L402_TIMEOUT_SEC", "LND_NETWORK"} {
			delete(m, k)
		}
		e, err := client.ReadAdapterEnv(getenv(m))
		require.NoError(t, err)
		require.Equal(t, "GET", e.Method)
		require.Nil(t, e.Body)
		require.Equal(t, int64(1000), e.MaxCostSat)
		require.Equal(t, 60*time.Second, e.Timeout)
	})

	t.Run("bad", func(t *testing.T) {
		big := filepath.Join(t.TempDir(), "big")
		require.NoError(t, os.WriteFile(big, make([]byte, client.MaxAdapterBody+1), 0o644))
		for k, v := range map[string]string{
			"L402_URL": "not a url", "L402_METHOD": "DELETE", "L402_MAX_COST_SAT": "-1",
			"L402_TIMEOUT_SEC": "soon", "LND_NETWORK": "mainnet", "L402_BODY_FILE": big,
			"L402_STATE_DIR": "", "L402_IDEMPOTENCY_KEY": "", "LND_MACAROONPATH": "",
		} {
			bad := adapterEnv(t)
			bad[k] = v
			_, err := client.ReadAdapterEnv(getenv(bad))
			require.ErrorIs(t, err, client.ErrAdapterConfig, k)
			require.Contains(t, err.Error(), k, "the error names the variable")
		}
	})
}

func TestReportFor(t *testing.T) {
	pre := lntypes.Preimage{1}
	hash := pre.Hash()
	cases := []struct {
		name string
		out  *client.Outcome
		err  error
		want client.Report
		code int
	}{
		{"config", nil, errors.New("config: L402_URL is not set"),
			client.Report{Outcome: client.ReportFailed, Error: "config: L402_URL is not set"}, 1},
		{"ambiguous-without-outcome", nil, &client.Error{Op: "x", Kind: client.Ambiguous, Err: errors.New("lost")},
			client.Report{Outcome: client.ReportUnknown, Error: "x: ambiguous: lost"}, 2},
		{"delivered", &client.Outcome{Key: "k", Result: client.Delivered, Status: 200, Body: []byte("test"), PaymentHash: hash, PaidMsat: 250_000, Payments: 1, Requests: 2}, nil,
			client.Report{Outcome: client.ReportDelivered, Key: "k", Status: 200, PaymentHash: hash.String(), PaidMsat: 250_000, Payments: 1, Requests: 2,
				BodySHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}, 0},
		{"failed", &client.Outcome{Key: "k", Result: client.Failed, Kind: client.Refused, Reason: "too dear", Requests: 1}, &client.Error{Op: "p", Kind: client.Refused},
			client.Report{Outcome: client.ReportFailed, Key: "k", Kind: "refused", Error: "too dear", Requests: 1}, 1},
		{"paid-not-delivered", &client.Outcome{Key: "k", Result: client.PaidNotDelivered, Kind: client.Transient, Status: 503, PaymentHash: hash, Payments: 1}, &client.Error{Op: "p", Kind: client.Transient, Err: errors.New("status 503")},
			client.Report{Outcome: client.ReportUnknown, PaidNotDelivered: true, Key: "k", Kind: "transient", Status: 503, PaymentHash: hash.String(), Payments: 1, Error: "p: transient: status 503"}, 2},
		{"unknown", &client.Outcome{Key: "k", Result: client.Unknown, Kind: client.Ambiguous, Reason: "in flight"}, nil,
			client.Report{Outcome: client.ReportUnknown, Key: "k", Kind: "ambiguous", Error: "in flight"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := client.ReportFor(tc.out, tc.err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.code, got.ExitCode())
			b, err := json.Marshal(got)
			require.NoError(t, err)
			var back client.Report
			require.NoError(t, json.Unmarshal(b, &back))
			require.Equal(t, got, back)
		})
	}
}

func TestAdapterAttempt(t *testing.T) {
	e := newEnv(t)
	env := client.AdapterEnv{URL: e.srv.URL + "/svc/a", Method: http.MethodPost, Body: []byte("x"), Key: "k1", Timeout: time.Minute}
	rep := client.ReportFor(e.c.AdapterAttempt(context.Background(), env))
	require.Equal(t, client.ReportDelivered, rep.Outcome)
	require.Equal(t, 1, rep.Payments)
	require.Equal(t, "k1", e.requests()[0].IdemKey)

	t.Run("permanent-is-failed", func(t *testing.T) {
		e.setHandler(http.NotFound)
		env := env
		env.Key = "k2"
		rep := client.ReportFor(e.c.AdapterAttempt(context.Background(), env))
		require.Equal(t, client.ReportFailed, rep.Outcome)
		require.Equal(t, "permanent", rep.Kind)
		require.Equal(t, http.StatusNotFound, rep.Status)
	})
}

// A purchase whose payment is in flight is unknown even when this attempt
// cannot take its lock before the deadline: never failed.
func TestAdapterAttemptLockedOpenPurchaseIsUnknown(t *testing.T) {
	e := newEnv(t)
	e.payer.SetDefault(clienttest.Behavior{Hang: true})
	sent := make(chan lntypes.Hash, 1)
	e.payer.OnSend(func(c clienttest.Call) { sent <- c.Hash })
	env := client.AdapterEnv{URL: e.srv.URL + "/svc/a", Method: http.MethodGet, Key: "k1", Timeout: time.Minute}

	first := make(chan error, 1)
	go func() {
		_, err := e.c.AdapterAttempt(context.Background(), env)
		first <- err
	}()
	hash := <-sent // the first attempt holds the purchase, its payment in flight

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out, err := e.c.AdapterAttempt(ctx, env)
	require.Nil(t, out, "Do could not start")
	require.Equal(t, client.Ambiguous, client.KindOf(err))
	require.Equal(t, client.ReportUnknown, client.ReportFor(out, err).Outcome)

	require.NoError(t, e.payer.Settle(hash))
	require.NoError(t, <-first)
}
