package scenarios

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Coverage predicates: each names a dangerous moment and says whether the
// run reached it, from the history and the ground truth alone.

func reached(name string, f func(h history.History, t *history.Truth) bool) harness.Coverage {
	return harness.Coverage{Name: name, Reached: f}
}

// faultFired: a fault whose name contains part was in place.
func faultFired(part string) harness.Coverage {
	return reached("fault fired: "+part, func(h history.History, _ *history.Truth) bool {
		return firstFault(h, part) != nil
	})
}

func firstFault(h history.History, part string) *history.Event {
	for i, e := range h {
		if e.Process == history.Nemesis && e.F == history.FaultStart && strings.Contains(e.Fault, part) {
			return &h[i]
		}
	}
	return nil
}

// knobFired: a provider knob of that kind fired on some request.
func knobFired(kind string) harness.Coverage {
	return reached("knob fired: "+kind, func(_ history.History, t *history.Truth) bool {
		for _, r := range t.Requests {
			for _, k := range r.Knobs {
				if strings.HasSuffix(k, ":"+kind) {
					return true
				}
			}
			if r.ChallengeKnob == kind {
				return true
			}
		}
		return false
	})
}

// paymentEnded: some client payment ended in this status (and, if reason
// is set, with this failure reason).
func paymentEnded(status, reason string) harness.Coverage {
	name := "payment " + status
	if reason != "" {
		name += " (" + reason + ")"
	}
	return reached(name, func(_ history.History, t *history.Truth) bool {
		for _, p := range t.Payments {
			if p.Status == status && (reason == "" || p.FailureReason == reason) {
				return true
			}
		}
		return false
	})
}

// invoiceState: some provider invoice ended in this state.
func invoiceState(state string, hold bool) harness.Coverage {
	return reached("invoice "+state, func(_ history.History, t *history.Truth) bool {
		for _, i := range t.Invoices {
			if i.State == state && (!hold || i.Hold) {
				return true
			}
		}
		return false
	})
}

// restarted: some purchase needed more than one run of the client.
func restarted() harness.Coverage {
	return reached("client restarted on the same key", func(h history.History, _ *history.Truth) bool {
		for _, e := range h {
			if e.Type == history.Invoke && e.Attempt > 1 {
				return true
			}
		}
		return false
	})
}

// killedClient: the client was killed mid-purchase.
func killedClient() harness.Coverage {
	return reached("client killed mid-purchase", func(h history.History, _ *history.Truth) bool {
		for _, e := range h {
			if e.Type == history.Info && e.Value != nil && e.Value.Killed {
				return true
			}
		}
		return false
	})
}

// gaveUp: a run of the client ended with outcome unknown (it gave up with
// money possibly in flight).
func gaveUp() harness.Coverage {
	return reached("client gave up with the outcome unknown", func(h history.History, _ *history.Truth) bool {
		for _, e := range h {
			if e.Type == history.Info && e.Value != nil && e.Value.Outcome == history.Unknown {
				return true
			}
		}
		return false
	})
}

// overlapping: two runs of the same key were in flight at once.
func overlapping() harness.Coverage {
	return reached("two runs of one key at once", func(h history.History, _ *history.Truth) bool {
		open := map[string]int{}
		for _, e := range h {
			switch {
			case e.Type == history.Invoke:
				open[e.Key]++
				if open[e.Key] > 1 {
					return true
				}
			case e.Type.Completes() && e.Process != history.Nemesis:
				open[e.Key]--
			}
		}
		return false
	})
}

// status: the provider answered some request with this status.
func status(code int) harness.Coverage {
	return reached("answered "+strconv.Itoa(code), func(_ history.History, t *history.Truth) bool {
		return slices.ContainsFunc(t.Requests, func(r history.Request) bool { return r.Status == code })
	})
}

// deliveredTwice: the provider delivered one purchase's answer more than
// once (the first answer was lost on the way).
func deliveredTwice() harness.Coverage {
	return reached("an answer delivered and lost", func(_ history.History, t *history.Truth) bool {
		n := map[string]int{}
		for _, d := range t.Deliveries {
			n[d.Purchase]++
			if n[d.Purchase] > 1 {
				return true
			}
		}
		return false
	})
}

// settledLate: a hold invoice settled after its own expiry.
func settledLate() harness.Coverage {
	return reached("hold invoice settled after its expiry", func(_ history.History, t *history.Truth) bool {
		for _, i := range t.Invoices {
			if i.State == history.InvoiceSettled && !i.Settled.IsZero() && i.Settled.After(i.Created.Add(i.Expiry)) {
				return true
			}
		}
		return false
	})
}

// delivered: some purchase was delivered in the end.
func delivered() harness.Coverage {
	return reached("purchase delivered", func(h history.History, _ *history.Truth) bool {
		for _, e := range h {
			if e.Type == history.OK {
				return true
			}
		}
		return false
	})
}

// refusedCredential: the provider refused a presented credential.
func refusedCredential() harness.Coverage {
	return reached("a credential refused", func(_ history.History, t *history.Truth) bool {
		for _, r := range t.Requests {
			if r.CredentialToken != "" && !r.CredentialValid {
				return true
			}
		}
		return false
	})
}

// crashedAt: a run of the client died at the named crash point inside it.
func crashedAt(point string) harness.Coverage {
	return reached("client died at crash point "+point, func(h history.History, _ *history.Truth) bool {
		for _, e := range h {
			if e.Type == history.Info && e.Value != nil && e.Value.CrashPoint == point {
				return true
			}
		}
		return false
	})
}

// raceWindowOpen: while the first request a delay knob held for key was
// being held, both processes of the key were running: a second process
// without a cross-process guard could ask too, and the barrier would
// give both a challenge at once.
func raceWindowOpen(key string) harness.Coverage {
	return reached("both processes ran while the first challenge was held", func(h history.History, t *history.Truth) bool {
		var held time.Duration = -1
		for _, r := range t.Requests {
			if r.Purchase == key && slices.ContainsFunc(r.Knobs, func(k string) bool { return strings.HasSuffix(k, ":"+string(fakeprovider.Delay)) }) {
				held = t.HistoryTime(r.Time)
				break
			}
		}
		if held < 0 {
			return false
		}
		running := 0
		for _, e := range h {
			if e.Key != key || e.Process == history.Nemesis {
				continue
			}
			switch {
			case e.Type == history.Invoke && e.Time <= held:
				running++
			case e.Type.Completes() && e.Time <= held:
				running--
			}
		}
		return running >= 2
	})
}
