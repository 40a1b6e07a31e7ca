package property

import (
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/fault"
)

// Faults is the fault table both tiers model: entries of fault.Catalogue
// (some with parameters fixed so that nothing rides on a timer the
// simulator cannot see), keyed by their names. A hold invoice waits for
// a "settle held invoices" or "cancel held invoices" step, or for blocks
// to time its HTLC out.
func Faults() []harness.Fault {
	knob := func(k fakeprovider.Knob) harness.Fault {
		k.Times = 1
		return fault.Knob{Knob: k}
	}
	return []harness.Fault{
		fault.Down{Link: harness.LinkProvider},
		fault.Latency{Link: harness.LinkProvider, Stream: harness.Downstream, Delay: 500 * time.Millisecond},
		fault.Timeout{Link: harness.LinkProvider, Stream: harness.Downstream},
		fault.Reset{Link: harness.LinkProvider, Stream: harness.Downstream},
		fault.Down{Link: harness.LinkPayer},
		fault.Latency{Link: harness.LinkPayer, Stream: harness.Downstream, Delay: 500 * time.Millisecond},
		fault.Down{Link: harness.LinkPeers},
		// The nodes' links to btcd: a node cut from its chain backend
		// stops seeing blocks (its height lags, its HTLC expiries and
		// held-invoice timeouts are reckoned from it) and catches up
		// when healed.
		fault.Down{Link: harness.LinkPayerChain},
		fault.Down{Link: harness.LinkPayeeChain},
		fault.KillNode{Node: "bob"},
		fault.RestartNode{Node: "alice"},
		fault.RestartNode{Node: "bob"},
		fault.ResolveHolds{},
		fault.ResolveHolds{Cancel: true},
		fault.RevokeTokens{},
		fault.Drain{Keep: 50},
		knob(fakeprovider.Knob{Kind: fakeprovider.ErrorBefore}),
		knob(fakeprovider.Knob{Kind: fakeprovider.ErrorBefore, Status: 400}),
		knob(fakeprovider.Knob{Kind: fakeprovider.ErrorAfter}),
		knob(fakeprovider.Knob{Kind: fakeprovider.DropAfter}),
		knob(fakeprovider.Knob{Kind: fakeprovider.RetryAfter}),
		knob(fakeprovider.Knob{Kind: fakeprovider.SettlementFailure}),
		knob(fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice, ExpiresIn: fakeprovider.Duration(time.Second)}),
		knob(fakeprovider.Knob{Kind: fakeprovider.AmountlessInvoice}),
		knob(fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice}),
		knob(fakeprovider.Knob{Kind: fakeprovider.HashMismatch}),
		knob(fakeprovider.Knob{Kind: fakeprovider.ReusedInvoice}),
		knob(fakeprovider.Knob{Kind: fakeprovider.RejectPaid}),
		knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Then: fakeprovider.ThenManual}),
		// Paid requests only: the answer to a request that paid is lost.
		// The first stays until healed: a server that keeps failing.
		named{"knob error-after on paid, until healed", fault.Knob{Knob: fakeprovider.Knob{
			Kind: fakeprovider.ErrorAfter, Match: fakeprovider.Match{Credentialed: true}}}},
		named{"knob drop-after on paid", fault.Knob{Knob: fakeprovider.Knob{
			Kind: fakeprovider.DropAfter, Times: 1, Match: fakeprovider.Match{Credentialed: true}}}},
	}
}

// named gives a table entry a name of its own where two entries of one
// fault type would otherwise share one.
type named struct {
	name string
	harness.Fault
}

func (n named) Name() string { return n.name }

// FaultNames lists Faults' names, in order.
func FaultNames() []string {
	var out []string
	for _, f := range Faults() {
		out = append(out, f.Name())
	}
	return out
}

// FaultByName finds an entry of Faults.
func FaultByName(name string) (harness.Fault, bool) {
	for _, f := range Faults() {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}
