// Package fakeprovidertest is the thin test layer over fakeprovider:
// helpers that take a testing.TB, fail the test on error and register
// cleanup.
package fakeprovidertest

import (
	"context"
	"testing"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

// Start serves a provider on node (the payee, usually bob) on ephemeral
// loopback ports and closes it when the test ends.
func Start(t testing.TB, node *regtest.Node, cfg fakeprovider.Config, opts ...fakeprovider.Option) *fakeprovider.Provider {
	t.Helper()
	ln := fakeprovider.NewLND(node.LN(), node.Invoices())
	opts = append([]fakeprovider.Option{fakeprovider.WithLogger(regtesttest.Logger(t))}, opts...)
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
