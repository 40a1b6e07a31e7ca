package check

import (
	"fmt"
	"strings"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Validity is a checker's verdict.
type Validity int8

const (
	// Unknown: the checker could not judge (the harness failed to see
	// what it needed). Never a verdict against the client.
	Unknown Validity = iota
	// Valid: no violation in the history and ground truth.
	Valid
	// Invalid: a violation, with a witness.
	Invalid
)

func (v Validity) String() string {
	switch v {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("validity(%d)", int8(v))
}

// MarshalText writes the verdict's name.
func (v Validity) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name.
func (v *Validity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "valid":
		*v = Valid
	case "invalid":
		*v = Invalid
	case "unknown":
		*v = Unknown
	default:
		return fmt.Errorf("unknown validity %q", b)
	}
	return nil
}

// Result is one checker's verdict, pointing at its evidence.
type Result struct {
	Checker  string   `json:"checker"`
	Validity Validity `json:"validity"`
	// Message is the minimal witness: which purchase, which payment
	// hashes, what was expected.
	Message  string   `json:"message,omitempty"`
	Purchase string   `json:"purchase,omitempty"`
	Hashes   []string `json:"hashes,omitempty"`
	// Events are the history indices involved.
	Events []int64 `json:"events,omitempty"`
}

func (r Result) String() string {
	s := r.Checker + ": " + r.Validity.String()
	if r.Message != "" {
		s += ": " + r.Message
	}
	if len(r.Events) > 0 {
		idx := make([]string, len(r.Events))
		for i, e := range r.Events {
			idx[i] = fmt.Sprintf("#%d", e)
		}
		s += " [" + strings.Join(idx, " ") + "]"
	}
	return s
}

// Checker judges a history against the ground truth.
type Checker interface {
	Name() string
	Check(h history.History, t *history.Truth) Result
}

// Final is an optional Checker ability, found by type assertion: a
// checker whose invariant holds only of a run that has healed and
// resolved what it left open (a lost payment may still be recovered, an
// HTLC still be settled) says so. Every other checker's invariant holds
// at every moment of a run, so it may judge a run midway.
type Final interface {
	Checker
	// Final reports whether the checker judges only a healed run.
	Final() bool
}

// HoldsAnytime reports whether c's invariant holds at every moment of a
// run, not only once it has healed: the checkers a driver may run
// between steps.
func HoldsAnytime(c Checker) bool {
	f, ok := c.(Final)
	return !ok || !f.Final()
}

// Run runs every checker. A checker that panics answers Unknown: a bug in
// the harness is never a verdict against the client.
func Run(h history.History, t *history.Truth, cs []Checker) []Result {
	shared.begin(h, t)
	defer shared.end()
	out := make([]Result, 0, len(cs))
	for _, c := range cs {
		out = append(out, runOne(h, t, c))
	}
	return out
}

func runOne(h history.History, t *history.Truth, c Checker) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Checker: c.Name(), Validity: Unknown, Message: fmt.Sprintf("checker panicked: %v", p)}
		}
	}()
	r = c.Check(h, t)
	r.Checker = c.Name()
	return r
}

// Merge folds results into one verdict: Invalid if any is, else Unknown if
// any is, else Valid.
func Merge(rs []Result) Validity {
	v := Valid
	for _, r := range rs {
		switch r.Validity {
		case Invalid:
			return Invalid
		case Unknown:
			v = Unknown
		}
	}
	return v
}
