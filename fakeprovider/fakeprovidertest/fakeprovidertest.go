// Package fakeprovidertest is the thin test layer over fakeprovider:
// helpers that take a testing.TB, fail the test on error and register
// cleanup.
package fakeprovidertest

import (
	"context"
	"testing"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/invoicesrpc"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/internal/testlog"
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
	opts = append([]fakeprovider.Option{fakeprovider.WithLogger(testlog.New(t))}, opts...)
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
	return c.WithToken(p.ControlToken())
}
