package fakeprovider

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/lightningnetwork/lnd/lntypes"
)

// holdPoll is how often a held invoice's state is read.
const holdPoll = 50 * time.Millisecond

// holds keeps the preimages of hold invoices and resolves them: after the
// knob's hold time once the payer's HTLC is accepted, or on command.
type holds struct {
	ln  Lightning
	log *slog.Logger

	ctx  context.Context // ends when the provider closes
	wg   sync.WaitGroup
	mu   sync.Mutex
	pres map[lntypes.Hash]lntypes.Preimage
	rnd  io.Reader
}

func newHolds(ctx context.Context, ln Lightning, log *slog.Logger, rnd io.Reader) *holds {
	return &holds{ctx: ctx, ln: ln, log: log, pres: map[lntypes.Hash]lntypes.Preimage{}, rnd: rnd}
}

func (h *holds) newPreimage() (lntypes.Preimage, error) {
	var pre lntypes.Preimage
	if _, err := io.ReadFull(h.rnd, pre[:]); err != nil {
		return pre, err
	}
	h.mu.Lock()
	h.pres[pre.Hash()] = pre
	h.mu.Unlock()
	return pre, nil
}

// track resolves a hold invoice as its knob says, in the background.
func (h *holds) track(hash lntypes.Hash, k Knob) {
	if k.Then == ThenManual {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := h.resolveAfter(h.ctx, hash, time.Duration(k.For), k.Then); err != nil && h.ctx.Err() == nil {
			h.log.Warn("hold invoice not resolved", "hash", short(hash), "err", err)
		}
	}()
}

func (h *holds) resolveAfter(ctx context.Context, hash lntypes.Hash, hold time.Duration, then string) error {
	if err := h.wait(ctx, hash, InvoiceAccepted); err != nil {
		return err
	}
	t := time.NewTimer(hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if then == ThenCancel {
		return h.cancel(ctx, hash)
	}
	return h.settle(ctx, hash)
}

// wait polls until the invoice reaches state; a final state that is not
// the one wanted ends the wait with ErrConflict. The invoice's expiry
// bounds it: an unpaid invoice never becomes ACCEPTED.
func (h *holds) wait(ctx context.Context, hash lntypes.Hash, want InvoiceState) error {
	return wait.Until(ctx, holdPoll, func(ctx context.Context) error {
		inv, err := h.ln.LookupInvoice(ctx, hash)
		if err != nil {
			return err
		}
		switch {
		case inv.State == want:
			return nil
		case inv.State.Final():
			return wait.Permanent(fmt.Errorf("invoice %s is %s, not %s: %w", short(hash), inv.State, want, ErrConflict))
		case time.Now().After(inv.Created.Add(inv.Expiry)) && inv.State == InvoiceOpen:
			return wait.Permanent(fmt.Errorf("invoice %s expired unpaid", short(hash)))
		}
		return fmt.Errorf("invoice %s is %s", short(hash), inv.State)
	})
}

func (h *holds) settle(ctx context.Context, hash lntypes.Hash) error {
	h.mu.Lock()
	pre, ok := h.pres[hash]
	h.mu.Unlock()
	if !ok {
		return fmt.Errorf("hold invoice %s: %w", short(hash), ErrNotFound)
	}
	if err := h.ln.SettleInvoice(ctx, pre); err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return nil
}

func (h *holds) cancel(ctx context.Context, hash lntypes.Hash) error {
	h.mu.Lock()
	_, ok := h.pres[hash]
	h.mu.Unlock()
	if !ok {
		return fmt.Errorf("hold invoice %s: %w", short(hash), ErrNotFound)
	}
	if err := h.ln.CancelInvoice(ctx, hash); err != nil {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return nil
}

// close waits for the background resolvers, whose context has ended.
func (h *holds) close() { h.wg.Wait() }
