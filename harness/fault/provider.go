package fault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
)

// ErrNoProvider: the backend has no provider to act on.
var ErrNoProvider = errors.New("backend has no provider")

// ErrNoTarget: the fault found nothing to act on (no invoice held), so it
// did nothing. Generated sequences draw such faults freely.
var ErrNoTarget = errors.New("nothing to act on")

// ProviderBackend is a backend with the fake provider: in this process
// or in a container, driven through its control API.
type ProviderBackend interface {
	ProviderControl() fakeprovider.Controller
}

func provider(env *harness.Env) (fakeprovider.Controller, error) {
	pb, ok := env.Backend.(ProviderBackend)
	if !ok {
		return nil, ErrNoProvider
	}
	if c := pb.ProviderControl(); c != nil {
		return c, nil
	}
	return nil, ErrNoProvider
}

// Knob arms one of the provider's L7 knobs; the heal disarms it.
type Knob struct {
	Knob fakeprovider.Knob `json:"knob"`
}

func (k Knob) Name() string {
	s := "knob " + string(k.Knob.Kind)
	if k.Knob.Status != 0 {
		s += fmt.Sprintf(" %d", k.Knob.Status)
	}
	return s
}

func (k Knob) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	p, err := provider(env)
	if err != nil {
		return nil, err
	}
	armed, err := p.Arm(ctx, k.Knob)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	return func(ctx context.Context) error {
		if err := p.Disarm(ctx, armed.ID); err != nil && !errors.Is(err, fakeprovider.ErrNotFound) {
			return err
		}
		return nil
	}, nil
}

// RestartProvider restarts the provider on the same ports after Down;
// with Forget it loses its root keys, so every token it issued is void.
type RestartProvider struct {
	Down   time.Duration `json:"down"`
	Forget bool          `json:"forget,omitempty"`
}

func (r RestartProvider) Name() string {
	if r.Forget {
		return "restart provider, keys lost"
	}
	return "restart provider"
}

func (r RestartProvider) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	p, err := provider(env)
	if err != nil {
		return nil, err
	}
	if err := p.Restart(ctx, r.Down, r.Forget); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Name(), err)
	}
	return noHeal, nil
}

// ResolveHolds settles (or cancels) every hold invoice whose HTLC the
// provider is holding.
type ResolveHolds struct {
	Cancel bool `json:"cancel,omitempty"`
}

func (r ResolveHolds) Name() string {
	if r.Cancel {
		return "cancel held invoices"
	}
	return "settle held invoices"
}

func (r ResolveHolds) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	p, err := provider(env)
	if err != nil {
		return nil, err
	}
	held, err := heldInvoices(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(held) == 0 {
		return nil, fmt.Errorf("%s: no invoice is held: %w", r.Name(), ErrNoTarget)
	}
	for _, h := range held {
		if r.Cancel {
			_, err = p.CancelInvoice(ctx, h)
		} else {
			_, err = p.SettleInvoice(ctx, h)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Name(), h, err)
		}
	}
	return noHeal, nil
}

func heldInvoices(ctx context.Context, p fakeprovider.Controller) ([]lntypes.Hash, error) {
	snap, err := p.Ledger(ctx)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	var out []lntypes.Hash
	for _, inv := range snap.Invoices {
		if !inv.Hold || inv.State != fakeprovider.InvoiceAccepted {
			continue
		}
		h, err := lntypes.MakeHashFromStr(inv.PaymentHash)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// RevokeTokens revokes every token the provider has issued so far: a
// client holding one must pay again, once.
type RevokeTokens struct{}

func (RevokeTokens) Name() string { return "revoke tokens" }

func (r RevokeTokens) Inject(ctx context.Context, env *harness.Env) (harness.Heal, error) {
	p, err := provider(env)
	if err != nil {
		return nil, err
	}
	snap, err := p.Ledger(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: read ledger: %w", r.Name(), err)
	}
	n := 0
	for _, req := range snap.Requests {
		if c := req.Challenge; c != nil && c.TokenID != "" {
			if err := p.RevokeToken(ctx, c.TokenID); err != nil && !errors.Is(err, fakeprovider.ErrNotFound) {
				return nil, fmt.Errorf("%s %s: %w", r.Name(), c.TokenID, err)
			}
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no token issued yet", r.Name())
	}
	return noHeal, nil
}

// challengeKnobs act on the challenges the fake provider mints; where
// another server (real Aperture) mints them, they have nothing to act on.
var challengeKnobs = map[fakeprovider.KnobKind]bool{
	fakeprovider.ExpiredInvoice: true, fakeprovider.AmountlessInvoice: true, fakeprovider.OverpricedInvoice: true,
	fakeprovider.HashMismatch: true, fakeprovider.ReusedInvoice: true, fakeprovider.HoldInvoice: true,
	fakeprovider.RejectPaid: true,
}

// FakeProviderOnly says why f needs the fake provider to mint the
// challenges and keep the tokens (a challenge knob, a hold invoice,
// revoked tokens, a restart that loses the root keys), or "" when it
// works with any L402 server in front of the provider. Wrappers are
// looked through.
func FakeProviderOnly(f harness.Fault) string {
	switch f := f.(type) {
	case *Triggered:
		return FakeProviderOnly(f.Fault)
	case *Timed:
		return FakeProviderOnly(f.Fault)
	case *Bounded:
		return FakeProviderOnly(f.Fault)
	case Knob:
		if challengeKnobs[f.Knob.Kind] {
			return "the " + string(f.Knob.Kind) + " knob acts on the fake provider's challenges"
		}
	case RevokeTokens:
		return "it revokes the fake provider's tokens"
	case ResolveHolds:
		return "it resolves the fake provider's hold invoices"
	case RestartProvider:
		return "it restarts the fake provider's L402 APIs"
	}
	return ""
}
