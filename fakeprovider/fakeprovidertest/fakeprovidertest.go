// Package fakeprovidertest is the thin test layer over fakeprovider:
// helpers that take a testing.TB, fail the test on error and register
// cleanup.
package fakeprovidertest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"

	"github.com/l402chaos/l402chaos/fakeprovider"
)

// Node is the payee a provider serves on: a *regtest.Node, or anything
// else with its RPC clients.
type Node interface {
	LN() lnrpc.LightningClient
	Invoices() invoicesrpc.InvoicesClient
}

// Start serves a provider on node (the payee, usually bob) on ephemeral
// loopback ports and closes it when the test ends.
func Start(t testing.TB, node Node, cfg fakeprovider.Config, opts ...fakeprovider.Option) *fakeprovider.Provider {
	t.Helper()
	ln := fakeprovider.NewLND(node.LN(), node.Invoices())
	opts = append([]fakeprovider.Option{fakeprovider.WithLogger(logger(t))}, opts...)
	p, err := fakeprovider.Start(context.Background(), ln, cfg, opts...)
	if err != nil {
		t.Fatalf("start provider: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close provider: %v", err)
		}
	})
	return p
}

// Control returns a control API client for p.
func Control(t testing.TB, p *fakeprovider.Provider) *fakeprovider.Control {
	t.Helper()
	c, err := fakeprovider.NewControl(p.ControlURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logger writes to the test's log, as regtesttest.Logger does (this
// package does not import regtest, so that the provider's test layer
// does not link the network).
func logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
