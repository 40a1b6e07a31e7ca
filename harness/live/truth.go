package live

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/ledger"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
)

// Truth collects the ground truth: the payer's payments, the payee's
// invoices, the provider's ledger, pending HTLCs and balances. What it
// cannot read goes into Truth.Errors; the checkers that need it answer
// Unknown.
func (b *Backend) Truth(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	b.settle(ctx)
	return b.TruthNow(ctx, plan)
}

// TruthNow collects the ground truth as it stands, without first letting
// HTLCs clear: what a check in the middle of a run reads.
func (b *Backend) TruthNow(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	t := &history.Truth{Collected: time.Now(), Plan: plan, Payer: regtest.Alice, Payee: regtest.Bob, Before: b.before}
	for _, s := range b.cfg.Services {
		t.Plan.Services = append(t.Plan.Services, history.Service{
			Name: s.Name, PerToken: s.Pricing == fakeprovider.PerToken,
			TokenTTL: time.Duration(s.TokenTTL), PriceMsat: s.PriceSat * 1000,
		})
	}
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			t.Errors = append(t.Errors, fmt.Sprintf("%s: %v", what, err))
		}
	}
	note("payments", b.payments(ctx, t))
	if b.rec != nil {
		t.PayRequests, t.PayRequestsRecorded = b.rec.Requests(), true
	}
	holds, err := b.ledger(ctx, t)
	note("provider ledger", err)
	note("invoices", b.invoices(ctx, t, holds))
	note("pending htlcs", b.pending(ctx, t))
	note("closed channels", b.closed(ctx, t))
	after, err := b.balances(ctx)
	note("balances", err)
	t.After = after
	return t, errors.Join(errs...)
}

// settle waits, within settleWait, until no HTLC is pending on any channel
// and no payment of the payer is in flight: a payment reads SUCCEEDED at
// the payer before the HTLC leaves the commitments. What is still pending
// after that is for the checkers to judge.
func (b *Backend) settle(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	err := wait.Until(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		var t history.Truth
		if err := b.pending(ctx, &t); err != nil {
			return err
		}
		if len(t.Pending) > 0 {
			return fmt.Errorf("%d HTLCs pending", len(t.Pending))
		}
		ps, err := listPayments(ctx, b.payer.LN(), b.pays)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.GetStatus() == lnrpc.Payment_IN_FLIGHT || p.GetStatus() == lnrpc.Payment_INITIATED {
				return fmt.Errorf("payment %s in flight", p.GetPaymentHash()[:8])
			}
		}
		return nil
	})
	if err != nil {
		b.log.Info("not settled before collecting the truth", "err", err)
	}
}

// settleWait bounds settle.
const settleWait = 20 * time.Second

// markExisting remembers the payments and invoices from before the run
// (the network's own probes and funding), which are not the client's.
func (b *Backend) markExisting(ctx context.Context) error {
	ps, err := listPayments(ctx, b.payer.LN(), b.pays)
	if err != nil {
		return fmt.Errorf("list payments: %w", err)
	}
	for _, p := range ps {
		b.pays.forget(p.GetPaymentHash())
	}
	is, err := listInvoices(ctx, b.payee.LN(), b.invs)
	if err != nil {
		return fmt.Errorf("list invoices: %w", err)
	}
	for _, i := range is {
		b.invs.forget(hexHash(i.GetRHash()))
	}
	return nil
}

// Forget drops what the backend and its provider hold of purchases a
// long run has judged for good (by the paths they asked for): the
// provider's records, and their payments and invoices from every later
// read of the truth. The truth then stays the size of what is live.
func (b *Backend) Forget(paths []string) {
	ctx, cancel := context.WithTimeout(b.ctx, forgetTimeout)
	hashes, err := b.ctl.Forget(ctx, paths)
	cancel()
	if err != nil {
		// The records stay: the run is as it was, only larger.
		b.log.Warn("provider: forget judged purchases", "paths", len(paths), "err", err)
		return
	}
	b.pays.forget(hashes...)
	b.invs.forget(hashes...)
	b.phases.forget(hashes)
}

// forgetTimeout bounds a call to forget judged purchases.
const forgetTimeout = 30 * time.Second

func nsTime(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func (b *Backend) payments(ctx context.Context, t *history.Truth) error {
	ps, err := listPayments(ctx, b.payer.LN(), b.pays)
	if err != nil {
		return err
	}
	for _, p := range ps {
		hp := history.Payment{
			Hash: p.GetPaymentHash(), Status: p.GetStatus().String(),
			ValueMsat: p.GetValueMsat(), FeeMsat: p.GetFeeMsat(), Created: nsTime(p.GetCreationTimeNs()),
		}
		if p.GetFailureReason() != lnrpc.PaymentFailureReason_FAILURE_REASON_NONE {
			hp.FailureReason = p.GetFailureReason().String()
		}
		final := p.GetStatus() == lnrpc.Payment_SUCCEEDED || p.GetStatus() == lnrpc.Payment_FAILED
		for _, h := range p.GetHtlcs() {
			a := history.Attempt{Status: h.GetStatus().String(), Attempted: nsTime(h.GetAttemptTimeNs()), Resolved: nsTime(h.GetResolveTimeNs())}
			if f := h.GetFailure(); f != nil {
				a.Failure = f.GetCode().String()
			}
			hp.Attempts = append(hp.Attempts, a)
			if final && a.Resolved.After(hp.Resolved) {
				hp.Resolved = a.Resolved
			}
		}
		if final && hp.Resolved.IsZero() {
			hp.Resolved = hp.Created // failed before any HTLC left
		}
		t.Payments = append(t.Payments, hp)
	}
	return nil
}

func (b *Backend) invoices(ctx context.Context, t *history.Truth, holds map[string]bool) error {
	is, err := listInvoices(ctx, b.payee.LN(), b.invs)
	if err != nil {
		return err
	}
	for _, i := range is {
		h := hexHash(i.GetRHash())
		inv := history.Invoice{
			Hash: h, State: i.GetState().String(), ValueMsat: i.GetValueMsat(), AmtPaidMsat: i.GetAmtPaidMsat(),
			Created: time.Unix(i.GetCreationDate(), 0), Expiry: time.Duration(i.GetExpiry()) * time.Second, Hold: holds[h],
		}
		if i.GetSettleDate() > 0 {
			inv.Settled = time.Unix(i.GetSettleDate(), 0)
		}
		t.Invoices = append(t.Invoices, inv)
	}
	return nil
}

// ledger copies the provider's ledger into t. It returns which invoices
// were hold invoices.
func (b *Backend) ledger(ctx context.Context, t *history.Truth) (map[string]bool, error) {
	snap, err := b.ctl.Ledger(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.Add(t, snap), nil
}

func (b *Backend) pending(ctx context.Context, t *history.Truth) error {
	var errs []error
	for _, n := range b.net.Nodes() {
		resp, err := n.LN().ListChannels(ctx, &lnrpc.ListChannelsRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name(), err))
			continue
		}
		for _, c := range resp.GetChannels() {
			for _, h := range c.GetPendingHtlcs() {
				t.Pending = append(t.Pending, history.HTLC{
					Node: n.Name(), Channel: shortPoint(c.GetChannelPoint()), Hash: hexHash(h.GetHashLock()),
					AmountMsat: h.GetAmount() * 1000, Incoming: h.GetIncoming(), ExpiryBlock: h.GetExpirationHeight(),
				})
			}
		}
	}
	return errors.Join(errs...)
}

func shortPoint(p string) string {
	if i := strings.IndexByte(p, ':'); i > 8 {
		return p[:8] + p[i:]
	}
	return p
}

// balances reads every node's channel balance, in msat.
func (b *Backend) balances(ctx context.Context) (map[string]history.Balance, error) {
	out := map[string]history.Balance{}
	var errs []error
	for _, n := range b.net.Nodes() {
		resp, err := n.LN().ChannelBalance(ctx, &lnrpc.ChannelBalanceRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name(), err))
			continue
		}
		out[n.Name()] = history.Balance{
			LocalMsat:  int64(resp.GetLocalBalance().GetMsat()),
			RemoteMsat: int64(resp.GetRemoteBalance().GetMsat()),
		}
	}
	return out, errors.Join(errs...)
}

// closedPoint is a closed (or closing) channel as the truth lists it.
type closedPoint struct{ point, label string }

// closedRead is a node's closed channels and its channels waiting to
// close or force-closing, as last read.
type closedRead struct{ closed, closing []closedPoint }

// closedOf reads a node's closed and closing channels. LND answers
// PendingChannels (and GetInfo) only once it reaches its chain backend:
// while the node's link to btcd is cut the calls hang, so the lists are
// the ones last read. A close is a chain matter the cut node cannot see
// anyway until it is healed.
func (b *Backend) closedOf(ctx context.Context, n *regtest.Node) (closedRead, error) {
	b.closedMu.Lock()
	defer b.closedMu.Unlock()
	if !b.links.Passes(regtest.ChainHop(n.Name())) {
		return b.closedRead[n.Name()], nil
	}
	var r closedRead
	resp, err := n.LN().ClosedChannels(ctx, &lnrpc.ClosedChannelsRequest{})
	if err != nil {
		return r, err
	}
	for _, c := range resp.GetChannels() {
		r.closed = append(r.closed, closedPoint{c.GetChannelPoint(), c.GetCloseType().String()})
	}
	pend, err := n.LN().PendingChannels(ctx, &lnrpc.PendingChannelsRequest{})
	if err != nil {
		return r, err
	}
	for _, c := range pend.GetPendingForceClosingChannels() {
		r.closing = append(r.closing, closedPoint{c.GetChannel().GetChannelPoint(), "force closing"})
	}
	for _, c := range pend.GetWaitingCloseChannels() {
		r.closing = append(r.closing, closedPoint{c.GetChannel().GetChannelPoint(), "waiting close"})
	}
	if b.closedRead == nil {
		b.closedRead = map[string]closedRead{}
	}
	b.closedRead[n.Name()] = r
	return r, nil
}

// closed lists the channels of any node closed since the run began, then
// those waiting to close or force-closing (closed for the balances too),
// each channel once.
func (b *Backend) closed(ctx context.Context, t *history.Truth) error {
	var errs []error
	var reads []closedRead
	for _, n := range b.net.Nodes() {
		r, err := b.closedOf(ctx, n) // what was read, even with an error
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name(), err))
		}
		reads = append(reads, r)
	}
	seen := map[string]bool{}
	add := func(cs []closedPoint) {
		for _, c := range cs {
			if !seen[c.point] {
				seen[c.point] = true
				t.Closed = append(t.Closed, shortPoint(c.point)+" ("+c.label+")")
			}
		}
	}
	for _, r := range reads {
		add(r.closed)
	}
	for _, r := range reads {
		add(r.closing)
	}
	return errors.Join(errs...)
}
