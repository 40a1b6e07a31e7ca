package fakeprovider

import (
	"context"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// Controller is what a harness does to a provider, wherever it runs: a
// Provider in this process (Provider.Controller) or one in another
// process or container, through its control API (*Control).
type Controller interface {
	Arm(ctx context.Context, k Knob) (Knob, error)
	Disarm(ctx context.Context, id string) error
	Ledger(ctx context.Context) (Snapshot, error)
	SettleInvoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error)
	CancelInvoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error)
	RevokeToken(ctx context.Context, tokenID string) error
	Restart(ctx context.Context, down time.Duration, forget bool) error
	Forget(ctx context.Context, paths []string) ([]string, error)
}

var (
	_ Controller = (*Control)(nil)
	_ Controller = local{}
)

// Controller is p as a Controller, with no API in between.
func (p *Provider) Controller() Controller { return local{p} }

// local adapts a Provider's methods to Controller.
type local struct{ p *Provider }

func (l local) Arm(_ context.Context, k Knob) (Knob, error)  { return l.p.Arm(k) }
func (l local) Disarm(_ context.Context, id string) error    { return l.p.Disarm(id) }
func (l local) Ledger(ctx context.Context) (Snapshot, error) { return l.p.Ledger(ctx) }
func (l local) RevokeToken(_ context.Context, id string) error {
	return l.p.RevokeToken(id)
}

func (l local) SettleInvoice(ctx context.Context, h lntypes.Hash) (InvoiceRecord, error) {
	if err := l.p.SettleInvoice(ctx, h); err != nil {
		return InvoiceRecord{}, err
	}
	return l.p.Invoice(ctx, h)
}

func (l local) CancelInvoice(ctx context.Context, h lntypes.Hash) (InvoiceRecord, error) {
	if err := l.p.CancelInvoice(ctx, h); err != nil {
		return InvoiceRecord{}, err
	}
	return l.p.Invoice(ctx, h)
}

func (l local) Restart(ctx context.Context, down time.Duration, forget bool) error {
	return l.p.Restart(ctx, down, forget)
}

func (l local) Forget(_ context.Context, paths []string) ([]string, error) {
	return l.p.Forget(paths), nil
}
