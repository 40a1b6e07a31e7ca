package live

import (
	"context"
	"sync"

	"github.com/lightningnetwork/lnd/lnrpc"
)

// listPage is how many entries one ListPayments or ListInvoices call
// asks for: LND's lists are paged, and a long run outgrows any one page.
const listPage = 1000

// listCursor follows one of LND's append-only lists (payments by index,
// invoices by add index) from its first entry still of interest, so that
// a long run reads what is live rather than everything since the start.
// Entries whose hash is skipped (from before the run, or of purchases
// forgotten) are left out; once every entry up to an index is skipped,
// the next read starts after it.
type listCursor struct {
	mu   sync.Mutex
	from uint64          // index_offset: entries at or below it are not read again
	skip map[string]bool // hashes left out
}

func newListCursor() *listCursor { return &listCursor{skip: map[string]bool{}} }

// forget leaves hashes out of every later read.
func (c *listCursor) forget(hashes ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hashes {
		c.skip[h] = true
	}
}

// readList pages through a list from the cursor. page returns up to
// listPage entries after offset; id gives an entry's hash and index.
// Skipped hashes the read did not meet past its new start are dropped
// from the skip set: their entries are behind the cursor, or were never
// made and will not be (a forgotten purchase runs no more).
func readList[T any](ctx context.Context, c *listCursor, page func(ctx context.Context, offset uint64) ([]T, error), id func(T) (string, uint64)) ([]T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		out    []T
		offset = c.from
		from   uint64
		live   bool
		met    = map[string]uint64{}
	)
	for {
		items, err := page(ctx, offset)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			h, idx := id(it)
			offset = max(offset, idx)
			if c.skip[h] {
				met[h] = idx
				continue
			}
			if !live {
				from, live = idx-1, true
			}
			out = append(out, it)
		}
		if len(items) < listPage {
			break
		}
	}
	if !live {
		from = offset
	}
	for h := range c.skip {
		if idx, ok := met[h]; !ok || idx <= from {
			delete(c.skip, h)
		}
	}
	c.from = from
	return out, nil
}

// listPayments reads the payer's payments past the cursor.
func listPayments(ctx context.Context, ln lnrpc.LightningClient, c *listCursor) ([]*lnrpc.Payment, error) {
	return readList(ctx, c, func(ctx context.Context, offset uint64) ([]*lnrpc.Payment, error) {
		resp, err := ln.ListPayments(ctx, &lnrpc.ListPaymentsRequest{IncludeIncomplete: true, IndexOffset: offset, MaxPayments: listPage})
		return resp.GetPayments(), err
	}, func(p *lnrpc.Payment) (string, uint64) { return p.GetPaymentHash(), p.GetPaymentIndex() })
}

// listInvoices reads the payee's invoices past the cursor.
func listInvoices(ctx context.Context, ln lnrpc.LightningClient, c *listCursor) ([]*lnrpc.Invoice, error) {
	return readList(ctx, c, func(ctx context.Context, offset uint64) ([]*lnrpc.Invoice, error) {
		resp, err := ln.ListInvoices(ctx, &lnrpc.ListInvoiceRequest{IndexOffset: offset, NumMaxInvoices: listPage})
		return resp.GetInvoices(), err
	}, func(i *lnrpc.Invoice) (string, uint64) { return hexHash(i.GetRHash()), i.GetAddIndex() })
}
