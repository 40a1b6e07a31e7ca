package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lightningnetwork/lnd/lnrpc"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/ledger"
	"github.com/l402chaos/l402chaos/harness/property"
)

// settleWait is how long Truth lets HTLCs clear, as the live backend
// does.
const settleWait = 20 * time.Second

// Attempts runs the attempts one after another, all from the same
// start: two processes on one journal, the second waiting until the
// first lets go of it.
func (w *World) Attempts(ctx context.Context, as []property.Attempt) []property.Report {
	start := w.clock.now
	out := make([]property.Report, len(as))
	for i, a := range as {
		// The journal's open timeout is the attempt's own timeout: an
		// attempt that waited that long for the one before it to let go
		// fails to open it.
		busy := i > 0 && !w.clock.now.Before(start.Add(timeoutOf(a.Purchase)))
		res, err := w.attempt(ctx, a.Purchase, a.CrashAt, start, busy)
		out[i] = property.Report{Result: res, Err: err, At: w.lastEnd}
	}
	return out
}

// Truth is the model's ground truth, in the live backend's shape. It
// first lets up to settleWait pass while an HTLC is pending, as the live
// backend waits for HTLCs to clear.
func (w *World) Truth(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	until := w.clock.now.Add(settleWait)
	for len(w.ln.pending) > 0 && w.clock.now.Before(until) {
		e := w.clock.next()
		if e == nil || e.at.After(until) {
			break
		}
		w.clock.fire()
	}
	return w.TruthNow(ctx, plan)
}

// TruthNow is the ground truth as it stands: reading it moves no time.
func (w *World) TruthNow(ctx context.Context, plan history.Plan) (*history.Truth, error) {
	t := &history.Truth{Started: w.started, Collected: w.clock.now, Plan: plan, Payer: "alice", Payee: "bob", Before: w.before}
	for _, s := range w.provCfg.Services {
		t.Plan.Services = append(t.Plan.Services, history.Service{
			Name: s.Name, PerToken: s.Pricing == fakeprovider.PerToken,
			TokenTTL: time.Duration(s.TokenTTL), PriceMsat: s.PriceSat * 1000,
		})
	}
	for _, h := range w.ln.porder {
		p := w.ln.payments[h]
		hp := history.Payment{
			Hash: p.hash.String(), Status: p.status.String(), ValueMsat: p.amount, Created: p.created,
		}
		if p.reason != lnrpc.PaymentFailureReason_FAILURE_REASON_NONE {
			hp.FailureReason = p.reason.String()
		}
		for _, a := range p.htlcs {
			ha := history.Attempt{Status: a.status.String(), Attempted: a.sent, Resolved: a.resolved}
			if a.status == lnrpc.HTLCAttempt_FAILED {
				ha.Failure = a.failure.String()
			}
			hp.Attempts = append(hp.Attempts, ha)
		}
		if p.final() {
			hp.Resolved = p.resolved
		}
		t.Payments = append(t.Payments, hp)
	}
	var errs []error
	snap, err := w.prov.Ledger(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("provider ledger: %w", err))
		t.Errors = append(t.Errors, "provider ledger: "+err.Error())
	}
	holds := ledger.Add(t, snap)
	for _, h := range w.ln.order {
		inv := w.ln.invoices[h]
		t.Invoices = append(t.Invoices, history.Invoice{
			Hash: h.String(), State: lnrpcState(inv.state), ValueMsat: inv.amount, AmtPaidMsat: inv.paid,
			Created: inv.created, Expiry: inv.expiry, Settled: inv.settled, Hold: holds[h.String()] || inv.hold,
		})
	}
	for _, h := range w.ln.pending {
		hash := h.pay.hash.String()
		t.Pending = append(t.Pending, history.HTLC{Node: "alice", Channel: "alice-bob", Hash: hash, AmountMsat: h.amount, ExpiryBlock: h.expiry})
		if h.atPayee {
			t.Pending = append(t.Pending, history.HTLC{Node: "bob", Channel: "alice-bob", Hash: hash, AmountMsat: h.amount, Incoming: true, ExpiryBlock: h.expiry})
		}
	}
	if w.ln.closed {
		t.Closed = []string{"alice-bob (force closing)"}
	}
	t.After = w.balances()
	return t, errors.Join(errs...)
}

// lnrpcState is an invoice state as lnrpc names it.
func lnrpcState(s fakeprovider.InvoiceState) string {
	switch s {
	case fakeprovider.InvoiceOpen:
		return lnrpc.Invoice_OPEN.String()
	case fakeprovider.InvoiceAccepted:
		return lnrpc.Invoice_ACCEPTED.String()
	case fakeprovider.InvoiceSettled:
		return lnrpc.Invoice_SETTLED.String()
	}
	return lnrpc.Invoice_CANCELED.String()
}
