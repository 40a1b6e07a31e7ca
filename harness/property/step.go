package property

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// ErrBadStep marks a step that cannot be carried out as written.
var ErrBadStep = errors.New("bad step")

// Op is what a step does.
type Op string

const (
	// OpBuy runs one purchase attempt to its report.
	OpBuy Op = "buy"
	// OpCrash runs one purchase attempt and kills the client (kill -9)
	// once Phase has happened again; if it never does, the attempt ends
	// on its own. The next buy of the key is the restart.
	OpCrash Op = "crash"
	// OpPair runs two attempts of one key at once: two processes on one
	// journal.
	OpPair Op = "pair"
	// OpFault injects Faults()[Fault]; it stays until a heal.
	OpFault Op = "fault"
	// OpHeal heals every fault in place, newest first.
	OpHeal Op = "heal"
	// OpMine mines Blocks blocks.
	OpMine Op = "mine"
	// OpWait lets Wait pass.
	OpWait Op = "wait"
)

// Step is one action of a sequence. Its JSON form is what failing
// sequences are printed and replayed as.
type Step struct {
	Op      Op              `json:"op"`
	Key     string          `json:"key,omitempty"`
	Service harness.Service `json:"service,omitempty"`
	// Method is GET or POST; empty is the service's own (data GET, ops
	// POST). A POST to data is a write on a per-token service, where only
	// the Idempotency-Key keeps a resent request from running twice.
	Method string        `json:"method,omitempty"`
	Phase  harness.Phase `json:"phase,omitempty"`
	Fault  string        `json:"fault,omitempty"`
	Blocks int           `json:"blocks,omitempty"`
	Wait   time.Duration `json:"wait,omitempty"`
}

// String is the step on one line: "buy k1 ops", "fault knob error-after".
func (s Step) String() string {
	switch s.Op {
	case OpBuy, OpPair:
		return fmt.Sprintf("%s %s %s", s.Op, s.Key, s.what())
	case OpCrash:
		return fmt.Sprintf("crash %s %s at %s", s.Key, s.what(), s.Phase)
	case OpFault:
		return "fault " + s.Fault
	case OpMine:
		return fmt.Sprintf("mine %d", s.Blocks)
	case OpWait:
		return "wait " + s.Wait.String()
	}
	return string(s.Op)
}

func (s Step) what() string {
	if s.Method != "" {
		return s.Method + " " + string(s.Service)
	}
	return string(s.Service)
}

// Validate reports what is wrong with a step, wrapping ErrBadStep.
func (s Step) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadStep, s, fmt.Sprintf(format, args...))
	}
	switch s.Op {
	case OpBuy, OpCrash, OpPair:
		if s.Key == "" {
			return bad("no key")
		}
		if !s.Service.Valid() {
			return bad("service %q: want %s or %s", s.Service, harness.ServiceData, harness.ServiceOps)
		}
		if s.Method != "" && s.Method != "GET" && s.Method != "POST" {
			return bad("method %q: want GET or POST", s.Method)
		}
		if s.Op == OpCrash && !knownPhase(s.Phase) {
			return bad("phase %q: want one of %s", s.Phase, strings.Join(phaseNames(), ", "))
		}
	case OpFault:
		if _, ok := FaultByName(s.Fault); !ok {
			return bad("unknown fault %q", s.Fault)
		}
	case OpHeal:
	case OpMine:
		if s.Blocks < 1 || s.Blocks > 200 {
			return bad("blocks %d: want 1 to 200", s.Blocks)
		}
	case OpWait:
		if s.Wait <= 0 || s.Wait > time.Hour {
			return bad("wait %s: want more than 0, at most 1h", s.Wait)
		}
	default:
		return bad("unknown op %q", s.Op)
	}
	return nil
}

// CrashPhases are the moments a crash step can kill the client at.
func CrashPhases() []harness.Phase {
	return []harness.Phase{harness.ChallengeIssued, harness.PaymentInFlight, harness.InvoiceAccepted, harness.PreimageReceived,
		harness.SideEffectDone, harness.Delivered}
}

func knownPhase(p harness.Phase) bool {
	for _, q := range CrashPhases() {
		if p == q {
			return true
		}
	}
	return false
}

func phaseNames() []string {
	var out []string
	for _, p := range CrashPhases() {
		out = append(out, string(p))
	}
	return out
}

// ParseSteps reads a sequence as JSON (an array of steps), checking each.
func ParseSteps(b []byte) ([]Step, error) {
	var steps []Step
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&steps); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadStep, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the sequence", ErrBadStep)
	}
	for i, s := range steps {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
	}
	return steps, nil
}
