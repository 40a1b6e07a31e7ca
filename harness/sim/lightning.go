package sim

import (
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lntypes"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
)

// What the model takes from LND's defaults.
const (
	// hopDelay is one HTLC message across the peer link.
	hopDelay = 20 * time.Millisecond
	// mailboxTimeout is how long LND's switch keeps an HTLC for a peer
	// that is offline before failing it back.
	mailboxTimeout = 60 * time.Second
	// finalCltvDelta is the invoices' min_final_cltv_expiry_delta, and
	// blockPadding what LND adds to it when it pays.
	finalCltvDelta = 80
	blockPadding   = 3
	// cancelDelta: a held HTLC is failed back once the height is within
	// this many blocks of its expiry (lnd's final CLTV reject delta).
	cancelDelta = 19
	// broadcastDelta: an outgoing HTLC the peer never resolved makes the
	// payer go to chain this many blocks before its expiry (LND's
	// outgoing broadcast delta), closing the channel.
	broadcastDelta = 10
	// startHeight is the chain's height when a simulation begins.
	startHeight = 500
	// capacitySat is the payer's side of its one channel to the payee.
	capacitySat = 9_900_000
)

// invoice is one of the payee's invoices.
type invoice struct {
	bolt11   string
	hash     lntypes.Hash
	preimage lntypes.Preimage // zero for a hold invoice until settled
	amount   int64            // msat; 0 amountless
	memo     string
	created  time.Time
	expiry   time.Duration
	hold     bool
	state    fakeprovider.InvoiceState
	paid     int64
	settled  time.Time
	// htlc is the held HTLC of an ACCEPTED invoice.
	htlc *htlc
}

func (i *invoice) expired(now time.Time) bool { return !now.Before(i.created.Add(i.expiry)) }

// payment is one of the payer's payments: LND keeps one per hash and
// allows another only after the last one failed.
type payment struct {
	hash     lntypes.Hash
	bolt11   string
	amount   int64
	status   lnrpc.Payment_PaymentStatus
	reason   lnrpc.PaymentFailureReason
	preimage lntypes.Preimage
	created  time.Time
	resolved time.Time
	htlcs    []*htlc
	// gen counts updates, for streams waiting on a change.
	gen int
}

func (p *payment) final() bool {
	return p.status == lnrpc.Payment_SUCCEEDED || p.status == lnrpc.Payment_FAILED
}

// htlc is one attempt of a payment: it leaves the payer, crosses the peer
// link to the payee and comes back settled or failed.
type htlc struct {
	pay      *payment
	amount   int64
	expiry   uint32 // CLTV expiry height
	sent     time.Time
	resolved time.Time
	status   lnrpc.HTLCAttempt_HTLCStatus
	failure  lnrpc.Failure_FailureCode
	// where it is: in the payer's mailbox, at the payee (held or being
	// resolved), or on its way back.
	atPayee bool
	// mailbox fails it back if the link is still down when it expires.
	mailbox *event
}

// lightning is the model's state: two nodes, alice (the payer) and bob
// (the payee, behind the provider), one channel between them, the chain.
type lightning struct {
	w *World
	// height is the chain's; payerHeight and payeeHeight are what each
	// node has seen of it: the chain's, unless its link to btcd
	// (payer-btcd, payee-btcd) is cut, and caught up when it is back.
	height, payerHeight, payeeHeight uint32
	local                            int64 // the payer's spendable balance, msat
	remote                           int64 // the payee's side, msat
	invoices                         map[lntypes.Hash]*invoice
	order                            []lntypes.Hash // invoices in creation order
	payments                         map[lntypes.Hash]*payment
	porder                           []lntypes.Hash
	// pending are the HTLCs not yet resolved, in the order sent.
	pending []*htlc
	// stalled are payments waiting for the payer's chain backend
	// (start).
	stalled []*payment
	// closed is set once the channel was force-closed: its balance is
	// on chain and nothing routes.
	closed bool
}

func newLightning(w *World) *lightning {
	return &lightning{
		w: w, height: startHeight, payerHeight: startHeight, payeeHeight: startHeight, local: capacitySat * 1000,
		invoices: map[lntypes.Hash]*invoice{}, payments: map[lntypes.Hash]*payment{},
	}
}

func (l *lightning) now() time.Time { return l.w.clock.now }

// peersUp: the payer and payee are connected (both running, link up).
func (l *lightning) peersUp() bool {
	return !l.closed && l.w.nodes["alice"].up && l.w.nodes["bob"].up && l.w.links[harness.LinkPeers].up
}

// start carries a new payment (IN_FLIGHT) through LND's first steps. A
// payer cut from its chain backend cannot learn the height its HTLC's
// expiry is reckoned from: the payment stays in flight, no HTLC sent,
// until the link is back (as LND's does; its caller's stream sees
// nothing more). Otherwise it fails at once without a route (the payee
// down, the channel closed) or the balance, or its HTLC goes out. first
// is the payment's first start: one in flight marks the
// payment-in-flight phase.
func (l *lightning) start(p *payment, first bool) {
	switch {
	case !l.w.links[harness.LinkPayerChain].up || !l.w.nodes["alice"].up:
		if first {
			l.w.phase(harness.PaymentInFlight)
		}
		l.stalled = append(l.stalled, p)
	case !l.w.nodes["bob"].up || l.closed:
		p.status, p.reason, p.resolved = lnrpc.Payment_FAILED, lnrpc.PaymentFailureReason_FAILURE_REASON_NO_ROUTE, l.now()
	case p.amount > l.local:
		p.status, p.reason, p.resolved = lnrpc.Payment_FAILED, lnrpc.PaymentFailureReason_FAILURE_REASON_INSUFFICIENT_BALANCE, l.now()
	default:
		if first {
			l.w.phase(harness.PaymentInFlight)
		}
		l.dispatch(p, l.invoices[p.hash])
	}
	if !first {
		p.gen++ // streams waiting on the payment see its new state
	}
}

// resumeStalled starts again the payments that waited for the payer's
// chain backend, once the payer runs and reaches it.
func (l *lightning) resumeStalled() {
	if len(l.stalled) == 0 || !l.w.links[harness.LinkPayerChain].up || !l.w.nodes["alice"].up {
		return
	}
	stalled := l.stalled
	l.stalled = nil
	for _, p := range stalled {
		if p.status == lnrpc.Payment_IN_FLIGHT && !hasInFlight(p) {
			l.start(p, false)
		}
	}
}

// hasInFlight reports whether a payment has an HTLC out.
func hasInFlight(p *payment) bool {
	for _, h := range p.htlcs {
		if h.status == lnrpc.HTLCAttempt_IN_FLIGHT {
			return true
		}
	}
	return false
}

// dispatch sends a payment's HTLC. The payment is IN_FLIGHT from here.
func (l *lightning) dispatch(p *payment, inv *invoice) {
	amt := p.amount
	h := &htlc{pay: p, amount: amt, expiry: l.payerHeight + finalCltvDelta + blockPadding, sent: l.now(),
		status: lnrpc.HTLCAttempt_IN_FLIGHT}
	p.htlcs = append(p.htlcs, h)
	l.local -= amt
	l.pending = append(l.pending, h)
	l.forward(h, inv)
}

// forward moves an HTLC to the payee now or, with the peer link down,
// keeps it in the mailbox until the link is back or the mailbox times
// out.
func (l *lightning) forward(h *htlc, inv *invoice) {
	if !l.peersUp() {
		if h.mailbox == nil {
			h.mailbox = l.w.clock.after(mailboxTimeout, func() {
				h.mailbox = nil
				if !h.atPayee && h.status == lnrpc.HTLCAttempt_IN_FLIGHT {
					l.failHTLC(h, lnrpc.Failure_TEMPORARY_CHANNEL_FAILURE, lnrpc.PaymentFailureReason_FAILURE_REASON_NO_ROUTE)
				}
			})
		}
		return
	}
	if h.mailbox != nil {
		h.mailbox.dead = true
		h.mailbox = nil
	}
	l.w.clock.after(hopDelay+l.w.links[harness.LinkPeers].delay, func() { l.arrive(h, inv) })
}

// arrive is the HTLC reaching the payee's invoice registry.
func (l *lightning) arrive(h *htlc, inv *invoice) {
	if h.status != lnrpc.HTLCAttempt_IN_FLIGHT || h.atPayee {
		return
	}
	if !l.peersUp() {
		l.forward(h, inv) // the link went down while it crossed
		return
	}
	h.atPayee = true
	now := l.now()
	switch {
	case inv == nil || inv.state == fakeprovider.InvoiceCanceled || inv.state == fakeprovider.InvoiceSettled,
		inv.state == fakeprovider.InvoiceAccepted,
		inv.expired(now) && inv.state == fakeprovider.InvoiceOpen,
		inv.amount > 0 && h.amount < inv.amount,
		// Too soon for the payee's view of the chain: a payer behind it
		// computed the expiry from a stale height.
		h.expiry < l.payeeHeight+finalCltvDelta:
		l.back(h, false, lnrpc.Failure_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS)
	case inv.hold:
		inv.state, inv.paid, inv.htlc = fakeprovider.InvoiceAccepted, h.amount, h
		l.w.phase(harness.InvoiceAccepted)
		l.checkHeld()
	default:
		inv.state, inv.paid, inv.settled = fakeprovider.InvoiceSettled, h.amount, now
		l.back(h, true, 0)
	}
}

// back sends an HTLC's resolution from the payee to the payer: the
// preimage, or a failure.
func (l *lightning) back(h *htlc, settle bool, code lnrpc.Failure_FailureCode) {
	var deliver func()
	deliver = func() {
		if !l.peersUp() {
			// The resolution waits for the link; the payee has already
			// decided.
			l.w.waiters = append(l.w.waiters, deliver)
			return
		}
		l.w.clock.after(hopDelay+l.w.links[harness.LinkPeers].delay, func() {
			if !l.peersUp() {
				l.w.waiters = append(l.w.waiters, deliver)
				return
			}
			if settle {
				l.settleHTLC(h)
			} else {
				l.failHTLC(h, code, lnrpc.PaymentFailureReason_FAILURE_REASON_INCORRECT_PAYMENT_DETAILS)
			}
		})
	}
	if settle {
		l.remote += h.amount
	}
	deliver()
}

func (l *lightning) settleHTLC(h *htlc) {
	if h.status != lnrpc.HTLCAttempt_IN_FLIGHT {
		return
	}
	h.status, h.resolved = lnrpc.HTLCAttempt_SUCCEEDED, l.now()
	l.drop(h)
	p := h.pay
	inv := l.invoices[p.hash]
	p.status, p.preimage, p.resolved, p.reason = lnrpc.Payment_SUCCEEDED, inv.preimage, l.now(), lnrpc.PaymentFailureReason_FAILURE_REASON_NONE
	p.gen++
	l.w.phase(harness.PreimageReceived)
}

func (l *lightning) failHTLC(h *htlc, code lnrpc.Failure_FailureCode, reason lnrpc.PaymentFailureReason) {
	if h.status != lnrpc.HTLCAttempt_IN_FLIGHT {
		return
	}
	h.status, h.failure, h.resolved = lnrpc.HTLCAttempt_FAILED, code, l.now()
	l.local += h.amount
	l.drop(h)
	p := h.pay
	p.status, p.reason, p.resolved = lnrpc.Payment_FAILED, reason, l.now()
	p.gen++
}

func (l *lightning) drop(h *htlc) {
	for i, x := range l.pending {
		if x == h {
			l.pending = append(l.pending[:i], l.pending[i+1:]...)
			return
		}
	}
}

// checkHeld fails back held HTLCs whose expiry is too close, as LND's
// invoice registry does.
func (l *lightning) checkHeld() {
	for _, hash := range l.order {
		inv := l.invoices[hash]
		if inv.state != fakeprovider.InvoiceAccepted || inv.htlc == nil {
			continue
		}
		if l.payeeHeight+cancelDelta >= inv.htlc.expiry {
			h := inv.htlc
			inv.state, inv.htlc, inv.paid = fakeprovider.InvoiceCanceled, nil, 0
			l.back(h, false, lnrpc.Failure_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS)
		}
	}
}

// linkChanged lets a node whose chain link is back catch up with the
// chain, and re-forwards what waited for the peer link.
func (l *lightning) linkChanged() {
	if l.syncChain() {
		l.checkHeld()
		l.checkOutgoing()
	}
	l.resumeStalled()
	if !l.peersUp() {
		return
	}
	waiting := l.w.waiters
	l.w.waiters = nil
	for _, f := range waiting {
		f()
	}
	for _, h := range l.pending {
		if !h.atPayee && h.mailbox != nil {
			l.forward(h, l.invoices[h.pay.hash])
		}
	}
}

// mine adds blocks.
func (l *lightning) mine(n int) {
	l.height += uint32(n)
	l.syncChain()
	l.checkHeld()
	l.checkOutgoing()
}

// syncChain brings each node whose chain link is up to the chain's
// height, and reports whether any moved.
func (l *lightning) syncChain() bool {
	moved := false
	for _, n := range []struct {
		link   string
		height *uint32
	}{{harness.LinkPayerChain, &l.payerHeight}, {harness.LinkPayeeChain, &l.payeeHeight}} {
		if l.w.links[n.link].up && *n.height < l.height {
			*n.height, moved = l.height, true
		}
	}
	return moved
}

// checkOutgoing force-closes the channel when an outgoing HTLC the peer
// has not resolved comes within broadcastDelta blocks of its expiry: the
// payer times it out on chain. The HTLC's payment fails; the channel's
// balances leave it.
func (l *lightning) checkOutgoing() {
	if l.closed {
		return
	}
	for _, h := range l.pending {
		if h.status == lnrpc.HTLCAttempt_IN_FLIGHT && l.payerHeight+broadcastDelta >= h.expiry && !l.peersUp() {
			l.forceClose()
			return
		}
	}
}

func (l *lightning) forceClose() {
	l.closed = true
	for _, h := range append([]*htlc(nil), l.pending...) {
		if h.mailbox != nil {
			h.mailbox.dead = true
			h.mailbox = nil
		}
		l.failHTLC(h, lnrpc.Failure_PERMANENT_CHANNEL_FAILURE, lnrpc.PaymentFailureReason_FAILURE_REASON_TIMEOUT)
	}
	for _, hash := range l.order {
		if inv := l.invoices[hash]; inv.state == fakeprovider.InvoiceAccepted {
			inv.state, inv.htlc, inv.paid = fakeprovider.InvoiceCanceled, nil, 0
		}
	}
	l.local, l.remote = 0, 0
	l.w.waiters = nil
}

// expireInvoices cancels open invoices past their expiry, as LND's
// invoice expiry watcher does.
func (l *lightning) expireInvoices() {
	now := l.now()
	for _, hash := range l.order {
		inv := l.invoices[hash]
		if inv.state == fakeprovider.InvoiceOpen && inv.expired(now) {
			inv.state = fakeprovider.InvoiceCanceled
		}
	}
}
