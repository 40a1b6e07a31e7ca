// Package regtesttest holds the thin test layer over regtest: helpers that
// take a testing.TB, fail the test on error and register cleanup. Library
// code never takes a *testing.T; tests use these.
package regtesttest

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/internal/testlog"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
)

// StartTimeout bounds a network start in tests, including making a
// snapshot on first use (binaries are expected to be built already).
const StartTimeout = 5 * time.Minute

// EnvKeepFailed, when set, keeps the run directories (data and logs) of
// failed tests.
const EnvKeepFailed = "L402CHAOS_KEEP_FAILED"

// Start starts a network from a snapshot (unless opts say otherwise) and
// closes it when the test ends, whether it passed, failed or panicked.
func Start(t testing.TB, opts ...regtest.Option) *regtest.Network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	opts = append([]regtest.Option{regtest.WithSnapshot(true), regtest.WithLogger(Logger(t))}, opts...)
	n, err := regtest.Start(ctx, opts...)
	if n != nil {
		t.Cleanup(func() {
			if t.Failed() && os.Getenv(EnvKeepFailed) != "" {
				n.Keep()
				t.Logf("keeping run dir %s (%s is set)", n.Dir(), EnvKeepFailed)
			}
			if err := n.Close(); err != nil {
				t.Errorf("close network: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("start network: %v", err)
	}
	return n
}

// Pay makes an invoice of amt satoshis on to and pays it from from,
// failing the test unless the payment succeeds and the invoice settles.
func Pay(t testing.TB, ctx context.Context, from, to *regtest.Node, amt int64) *lnrpc.Payment {
	t.Helper()
	inv, err := to.AddInvoice(ctx, amt, "regtesttest")
	if err != nil {
		t.Fatal(err)
	}
	p, err := from.Pay(ctx, inv.PaymentRequest)
	if err != nil {
		t.Fatalf("pay %s -> %s: %v", from.Name(), to.Name(), err)
	}
	got, err := to.LN().LookupInvoice(ctx, &lnrpc.PaymentHash{RHash: inv.RHash})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lnrpc.Invoice_SETTLED {
		t.Fatalf("invoice on %s is %v after a successful payment", to.Name(), got.State)
	}
	return p
}

// Logger returns a slog logger that writes through t.Log.
func Logger(t testing.TB) *slog.Logger { return testlog.New(t) }
