package scenarios

import (
	"fmt"
	"regexp"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
)

// All is the catalogue of scripted scenarios, in the order they run.
func All() []harness.Scenario {
	return []harness.Scenario{
		{
			Name:        "invoice-expired",
			Description: "the challenge's invoice has already expired: the client must not pay it",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice, Times: 1})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.ExpiredInvoice))},
		},
		{
			Name:        "invoice-expires-while-held",
			Description: "the payee holds the HTLC past the invoice's expiry, then settles: the purchase still completes once",
			// The reference client refuses invoices within 30 s of their
			// expiry; this one leaves it a few seconds to pay.
			Network:  harness.Network{InvoiceExpiry: 34 * time.Second},
			Setup:    []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(36 * time.Second), Then: "settle"})},
			Traffic:  []harness.Traffic{data("k1")},
			Coverage: []harness.Coverage{invoiceState(history.InvoiceSettled, true), settledLate()},
		},
		{
			Name:        "hodl-timeout",
			Description: "the payee holds the HTLC until blocks time it out: the payment fails back, and the client may pay a fresh challenge once",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, Then: "manual"})},
			Faults:      []harness.Fault{fault.After(fault.MineUntilCancel{}, harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("mine until"), paymentEnded(history.PaymentFailed, "")},
		},
		{
			Name:        "hold-settled-after-give-up",
			Description: "the client gives up while its HTLC is held; the payee settles later; a restart must recover the purchase without paying again",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(8 * time.Second), Then: "settle"})},
			Traffic:     []harness.Traffic{{Key: "k1", Service: "data", ClientTimeout: 5 * time.Second}},
			Coverage:    []harness.Coverage{gaveUp(), invoiceState(history.InvoiceSettled, true), delivered()},
		},
		{
			Name:        "insufficient-funds",
			Description: "every invoice (until the fault heals) asks more than the payer's channel holds, under the client's cap: the payments fail, nothing moves, and the client does not keep paying",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice, AmountSat: 12_000_000})},
			Traffic:     []harness.Traffic{{Key: "k1", Service: "data", MaxCostSat: 20_000_000}},
			Coverage:    []harness.Coverage{paymentEnded(history.PaymentFailed, "")},
		},
		{
			Name:        "no-route",
			Description: "the payer's only peer is unreachable: no route, the purchase fails",
			Setup:       []harness.Fault{fault.Disconnect{}},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{paymentEnded(history.PaymentFailed, "")},
		},
		{
			Name:        "payee-offline",
			Description: "the payee's LND is down (kill -9) when the client pays: the payment fails with nothing moved, and once the node is back the client pays once",
			Vary:        vary(lasting(3*time.Second, 8*time.Second)),
			Faults:      []harness.Fault{fault.After(fault.For(fault.KillNode{Node: "bob"}, 5*time.Second), harness.ChallengeIssued)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("kill -9 bob"), delivered()},
		},
		{
			Name:        "drained-channel",
			Description: "the payer's channel has been drained (its funds moved to the payee) before the purchase: the payment cannot be made, nothing moves, and the client does not keep paying",
			Setup:       []harness.Fault{fault.Drain{Keep: 50}},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("drain payer"), paymentEnded(history.PaymentFailed, "")},
		},
		{
			Name:        "hold-expiry-payer-chain-cut",
			Description: "the payee holds the HTLC while the payer's LND is cut from its chain backend and blocks time the HTLC out: the payee fails it back, the payer learns it over the channel, not the chain; the client may pay a fresh challenge once",
			Vary:        vary(lasting(3*time.Second, 8*time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, Then: "manual"})},
			Faults: []harness.Fault{fault.After(
				fault.For(fault.Then(fault.Down{Link: harness.LinkPayerChain}, fault.MineUntilCancel{}), 5*time.Second),
				harness.InvoiceAccepted)},
			Traffic:  []harness.Traffic{data("k1")},
			Coverage: []harness.Coverage{faultFired("down " + harness.LinkPayerChain), paymentEnded(history.PaymentFailed, "")},
		},
		{
			Name:        "payee-chain-lags",
			Description: "the payee's LND is cut from its chain backend while 30 blocks are mined, so it is behind the payer when the client pays: the HTLC's expiry is checked against a stale height, and the purchase completes once",
			Vary:        vary(lasting(6*time.Second, 10*time.Second)),
			Setup:       []harness.Fault{fault.For(fault.Then(fault.Down{Link: harness.LinkPayeeChain}, fault.Mine{Blocks: 30}), 8*time.Second)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("down " + harness.LinkPayeeChain), delivered()},
		},
		{
			Name:        "partition-before-challenge",
			Description: "client and provider are cut before the first request; the client retries or gives up, and pays at most once",
			Vary:        vary(lasting(500*time.Millisecond, 3*time.Second)),
			Setup:       []harness.Fault{fault.For(fault.Down{Link: harness.LinkProvider}, time.Second)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("down " + harness.LinkProvider)},
		},
		{
			Name:        "partition-after-payment",
			Description: "client and provider are cut the moment the payment settles; the credentialed retry must not pay again",
			Vary:        vary(lasting(2*time.Second, 6*time.Second)),
			Faults:      []harness.Fault{fault.After(fault.For(fault.Down{Link: harness.LinkProvider}, 4*time.Second), harness.PreimageReceived)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("down " + harness.LinkProvider), delivered()},
		},
		{
			Name:        "partition-credentialed-retry",
			Description: "the answer to the paid request is lost on the wire; the client retries with its credential, never pays twice",
			Vary:        vary(lasting(2*time.Second, 6*time.Second)),
			Faults: []harness.Fault{fault.After(
				fault.For(fault.Timeout{Link: harness.LinkProvider, Stream: harness.Downstream}, 4*time.Second),
				harness.PreimageReceived)},
			Traffic:  []harness.Traffic{ops("k1")},
			Coverage: []harness.Coverage{faultFired("timeout " + harness.LinkProvider), deliveredTwice(), delivered()},
		},
		{
			Name:        "partition-payer-lnd-in-flight",
			Description: "the client loses its LND while the HTLC is held; it must track the payment, not pay again",
			Vary:        vary(lasting(6*time.Second, 10*time.Second), lagging(time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(4 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.For(fault.Down{Link: harness.LinkPayer}, 8*time.Second), harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("down " + harness.LinkPayer), invoiceState(history.InvoiceSettled, true)},
		},
		{
			Name:        "partition-lnd-lnd-held",
			Description: "payer and payee nodes are cut while the HTLC is held; the payee settles during the cut",
			Vary:        vary(lasting(6*time.Second, 10*time.Second), lagging(time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(3 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.For(fault.Down{Link: harness.LinkPeers}, 8*time.Second), harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("down " + harness.LinkPeers), invoiceState(history.InvoiceSettled, true)},
		},
		{
			Name:        "payee-isolated-while-held",
			Description: "the payee's LND is cut from the network as a whole (its container disconnected: peers, chain, provider and client lose it) while it holds the HTLC, then joins again and settles: the purchase completes once",
			Vary:        vary(lasting(4*time.Second, 8*time.Second), lagging(time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(12 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.For(fault.IsolateNode{Node: "bob"}, 6*time.Second), harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("isolate bob"), invoiceState(history.InvoiceSettled, true)},
			// Only the containers backend can cut a node off as a whole.
			NeedsIsolation: true,
		},
		{
			Name:        "payer-lnd-killed-in-flight",
			Description: "the payer's LND is killed (kill -9; on containers the container, restarted on the same data) while the HTLC is held; the client must track the payment across the crash and never pay twice",
			Vary:        vary(lasting(time.Second, 3*time.Second), lagging(time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(6 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.For(fault.KillNode{Node: "alice"}, 2*time.Second), harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("kill -9 alice"), invoiceState(history.InvoiceSettled, true)},
		},
		{
			Name:        "payee-frozen-in-flight",
			Description: "the payee's LND is frozen (SIGSTOP; on containers the cgroup freezer) as the client pays, and thawed later: the HTLC waits, the purchase completes once",
			Vary:        vary(lasting(3*time.Second, 7*time.Second)),
			Faults:      []harness.Fault{fault.After(fault.For(fault.PauseNode{Node: "bob"}, 5*time.Second), harness.ChallengeIssued)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("pause bob"), delivered()},
		},
		{
			Name:        "provider-paused-credentialed-retry",
			Description: "the provider's container is frozen (cgroup freezer) while the client's payment is in flight, so the credentialed request that follows hangs unanswered; thawed later, the client's retry with the same credential gets the answer: paid once, delivered",
			// The peers' messages are slowed so that the payment outlasts
			// the freezing: the credentialed request meets a frozen
			// provider, never one still running.
			Setup:    []harness.Fault{fault.Latency{Link: harness.LinkPeers, Delay: time.Second}},
			Faults:   []harness.Fault{fault.After(fault.For(fault.PauseNode{Node: harness.ProviderNode}, 10*time.Second), harness.PaymentInFlight)},
			Traffic:  []harness.Traffic{data("k1")},
			Coverage: []harness.Coverage{faultFired("pause " + harness.ProviderNode), delivered()},
			// Only the containers backend runs the provider as a program
			// of its own, which can be frozen.
			NeedsIsolation: true,
		},
		{
			Name:        "response-lost-after-processing",
			Description: "the provider runs the paid POST and drops the connection; the retry must not run the side effect twice",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.DropAfter, Times: 1, Match: fakeprovider.Match{Method: "POST", Credentialed: true}})},
			// A POST on the per-token service: the paid token stays good,
			// so only the Idempotency-Key stops a second execution.
			Traffic:  []harness.Traffic{{Key: "k1", Service: "data", Method: "POST"}},
			Coverage: []harness.Coverage{knobFired(string(fakeprovider.DropAfter))},
		},
		{
			Name:        "5xx-after-processing",
			Description: "the provider runs the paid POST and answers 500; the client must not pay the next challenge",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.ErrorAfter, Times: 1, Status: 500, Match: fakeprovider.Match{Method: "POST", Credentialed: true}})},
			Traffic:     []harness.Traffic{ops("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.ErrorAfter))},
		},
		{
			Name:        "5xx-persistent",
			Description: "every paid request is answered 500 until the fault heals: the client keeps its preimage, never pays again, and gets its answer once healed",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.ErrorAfter, Status: 500, Match: fakeprovider.Match{Credentialed: true}})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.ErrorAfter)), restarted(), delivered()},
		},
		{
			Name:        "permanent-400",
			Description: "the provider answers 400 Bad Request: a permanent error, reported at once and never retried",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.ErrorBefore, Times: 1, Status: 400})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{status(400)},
		},
		{
			Name:        "402-after-payment",
			Description: "the provider refuses a valid paid credential for a moment (settlement lag); the client retries it, never pays again",
			Vary:        vary(rejectingFor(time.Second, 3*time.Second)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.RejectPaid, For: dur(2 * time.Second)})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.RejectPaid)), delivered()},
		},
		{
			Name:        "429-retry-after",
			Description: "the provider answers 429 with Retry-After; the client waits as told",
			Vary:        vary(retryingAfter(1, 3)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.RetryAfter, Times: 1, Status: 429, RetryAfter: dur(2 * time.Second)})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{status(429), delivered()},
		},
		{
			Name:        "503-retry-after",
			Description: "the provider answers the paid request 503 with Retry-After; the client waits and retries its credential",
			Vary:        vary(retryingAfter(1, 3)),
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.RetryAfter, Times: 1, Status: 503, RetryAfter: dur(2 * time.Second), Match: fakeprovider.Match{Credentialed: true}})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{status(503), delivered()},
		},
		{
			Name:        "settlement-failure",
			Description: "the provider cannot confirm the payment yet (502 with Retry-After); the client retries its credential",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.SettlementFailure, Times: 1})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.SettlementFailure)), delivered()},
		},
		{
			Name:        "crash-before-dispatch",
			Description: "the client dies after the challenge is issued, before it could pay; the restart pays once",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.Delay, Times: 1, Delay: dur(3 * time.Second), Match: fakeprovider.Match{Method: "GET"}})},
			Faults:      []harness.Fault{fault.After(fault.KillClient{Key: "k1"}, harness.ChallengeIssued)},
			Traffic:     []harness.Traffic{data("k1")},
			NeedsKiller: true,
			Coverage:    []harness.Coverage{killedClient(), restarted(), delivered()},
		},
		{
			Name:        "crash-htlc-held",
			Description: "the client dies while its HTLC is held at the payee; the restart must track it, not pay again",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(5 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.KillClient{Key: "k1"}, harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			NeedsKiller: true,
			Coverage:    []harness.Coverage{killedClient(), restarted(), invoiceState(history.InvoiceSettled, true)},
		},
		{
			Name:        "crash-after-settlement",
			Description: "the client dies the moment its payment settles, maybe before it stored the preimage; the restart must recover it from its node",
			Faults:      []harness.Fault{fault.After(fault.KillClient{Key: "k1"}, harness.PreimageReceived)},
			Traffic:     []harness.Traffic{data("k1")},
			NeedsKiller: true,
			Coverage:    []harness.Coverage{killedClient(), restarted(), delivered()},
		},
		crashAt(client.CrashIntent, data("k1"),
			"the client dies right after journalling its intent, before its first request: the restart pays once"),
		crashAt(client.CrashDispatched, data("k1"),
			"the client dies after journalling the dispatch, before the payment reaches its LND: the restart finds no payment at its node and pays once"),
		crashAt(client.CrashPaymentSent, data("k1"),
			"the client dies as its payment request goes to its LND, the outcome unread: the restart tracks whatever the node has and never pays twice"),
		crashAt(client.CrashPreimage, data("k1"),
			"the client dies with the preimage in memory, not yet journalled: the restart recovers it from its node, no second payment"),
		crashAt(client.CrashTokenStored, data("k1"),
			"the client dies with the preimage and token journalled, before presenting them: the restart presents them, no second payment"),
		crashAt(client.CrashCredentialSent, ops("k1"),
			"the client dies once the paid POST is on the wire, the answer unread: the restart sends it again with the same credential and Idempotency-Key; the side effect runs once"),
		crashAt(client.CrashDelivered, data("k1"),
			"the client dies after journalling the answer, before reporting it: the restart replays the delivered purchase without paying"),
		{
			Name:        "payer-lnd-restart-in-flight",
			Description: "the payer's LND restarts while the HTLC is held; the client must ride it out",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(5 * time.Second), Then: "settle"})},
			Faults:      []harness.Fault{fault.After(fault.RestartNode{Node: "alice"}, harness.InvoiceAccepted)},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{faultFired("restart alice"), invoiceState(history.InvoiceSettled, true)},
		},
		{
			Name:        "two-processes-same-key",
			Description: "two processes of one client buy the same key at once; the first challenge is held until both have asked (or 3 s), so both would be challenged together without a guard across processes; one payment at most",
			Setup: []harness.Fault{
				knob(fakeprovider.Knob{Kind: fakeprovider.Delay, Match: fakeprovider.Match{Key: "k1"}, Delay: dur(3 * time.Second), Gather: 2, Times: 2}),
				knob(fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Times: 1, For: dur(2 * time.Second), Then: "settle"}),
			},
			Traffic:  []harness.Traffic{{Key: "k1", Service: "ops", Processes: 2}},
			Coverage: []harness.Coverage{overlapping(), raceWindowOpen("k1")},
		},
		{
			Name:        "overpriced-invoice",
			Description: "the invoice asks ten times the price: above the cap, never paid",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice, Times: 1, AmountSat: 5000})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.OverpricedInvoice))},
		},
		{
			Name:        "amountless-invoice",
			Description: "the invoice has no amount: never paid",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.AmountlessInvoice, Times: 1})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.AmountlessInvoice))},
		},
		{
			Name:        "hash-mismatch",
			Description: "the macaroon commits to another hash than the invoice's: paying could never unlock it",
			Setup:       []harness.Fault{knob(fakeprovider.Knob{Kind: fakeprovider.HashMismatch, Times: 1})},
			Traffic:     []harness.Traffic{data("k1")},
			Coverage:    []harness.Coverage{knobFired(string(fakeprovider.HashMismatch))},
		},
		{
			Name:        "token-reuse",
			Description: "a second purchase of the same service reuses the token: no new payment",
			Traffic:     []harness.Traffic{data("k1"), data("k2")},
			Coverage:    []harness.Coverage{delivered()},
		},
		{
			Name:        "token-expiry",
			Description: "the token expires between two purchases: the second pays once for a new one",
			Network:     harness.Network{TokenTTL: 3 * time.Second},
			Traffic:     []harness.Traffic{data("k1"), {Key: "k2", Service: "data", Wait: 4 * time.Second}},
			Coverage:    []harness.Coverage{paymentsAtLeast(2)},
		},
		{
			Name:        "token-revoked",
			Description: "the provider revokes the token between two purchases: the second is refused once and pays once",
			Faults:      []harness.Fault{fault.After(fault.RevokeTokens{}, harness.Delivered)},
			Traffic:     []harness.Traffic{data("k1"), {Key: "k2", Service: "data", After: &harness.Trigger{Phase: harness.Delivered, Count: 1}, Wait: 500 * time.Millisecond}},
			Coverage:    []harness.Coverage{faultFired("revoke tokens"), refusedCredential(), paymentsAtLeast(2)},
		},
	}
}

// Select returns the scenarios whose name matches pattern (a regular
// expression; empty matches all).
func Select(pattern string) ([]harness.Scenario, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("scenario pattern: %w", err)
	}
	var out []harness.Scenario
	for _, s := range All() {
		if re.MatchString(s.Name) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario matches %q", pattern)
	}
	return out, nil
}

// crashAt is the scenario that makes the client die at a crash point
// inside it (an exact place, where the crash-* scenarios kill it from
// outside some time after a phase): the restart must recover without a
// second payment.
func crashAt(point string, t harness.Traffic, description string) harness.Scenario {
	t.CrashAt = point
	return harness.Scenario{
		Name:             "crash-at-" + point,
		Description:      description,
		Traffic:          []harness.Traffic{t},
		NeedsCrashPoints: true,
		Coverage:         []harness.Coverage{crashedAt(point), restarted(), delivered()},
	}
}

func knob(k fakeprovider.Knob) fault.Knob { return fault.Knob{Knob: k} }

func dur(d time.Duration) fakeprovider.Duration { return fakeprovider.Duration(d) }

func data(key string) harness.Traffic { return harness.Traffic{Key: key, Service: "data"} }

func ops(key string) harness.Traffic { return harness.Traffic{Key: key, Service: "ops"} }

// paymentsAtLeast: the client made at least n payments that settled.
func paymentsAtLeast(n int) harness.Coverage {
	return reached(fmt.Sprintf("at least %d settled payments", n), func(_ history.History, t *history.Truth) bool {
		c := 0
		for _, p := range t.Payments {
			if p.Status == history.PaymentSucceeded {
				c++
			}
		}
		return c >= n
	})
}
