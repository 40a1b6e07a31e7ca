package soak

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/property"
)

// ErrBadSchedule marks a nemesis schedule that cannot be carried out as
// written.
var ErrBadSchedule = errors.New("bad nemesis schedule")

// Op is one move of the nemesis: at At (since the soak began) it injects
// the fault named Fault, and heals it For later. Ops are data: the
// schedule a soak drew is written to its run directory, and a schedule
// file replays it.
type Op struct {
	At    time.Duration `json:"at"`
	Fault string        `json:"fault"`
	For   time.Duration `json:"for"`
}

// opJSON is an Op as a schedule file writes it: durations as text ("30s").
type opJSON struct {
	At    string `json:"at"`
	Fault string `json:"fault"`
	For   string `json:"for"`
}

// MarshalJSON writes durations as text, so that a schedule reads as it
// is meant.
func (o Op) MarshalJSON() ([]byte, error) {
	return json.Marshal(opJSON{At: o.At.String(), Fault: o.Fault, For: o.For.String()})
}

// CrashPrefix names the crash faults of the table: "crash at <phase>"
// kills every running attempt of the client (kill -9) once the phase
// happens.
const CrashPrefix = "crash at "

// Faults names the faults a soak's nemesis can draw: the property's fault
// table (links, nodes, provider knobs, hold invoices, drains), both tiers'
// common ground, and a crash of the client at each payment phase.
func Faults() []string {
	var out []string
	out = append(out, property.FaultNames()...)
	for _, p := range property.CrashPhases() {
		out = append(out, CrashPrefix+string(p))
	}
	return out
}

// maxSpan bounds a schedule's times: longer than any soak.
const maxSpan = 7 * 24 * time.Hour

// ParseSchedule reads a schedule: a JSON array of ops, e.g.
//
//	[{"at": "30s", "fault": "down client-provider", "for": "10s"},
//	 {"at": "1m", "fault": "crash at payment-in-flight", "for": "5s"}]
//
// Unknown fields, unknown faults, negative or unparsable times, a zero
// "for" and ops out of time order are errors naming the op and the field.
func ParseSchedule(b []byte) ([]Op, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw []opJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSchedule, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the array", ErrBadSchedule)
	}
	known := Faults()
	ops := make([]Op, 0, len(raw))
	for i, r := range raw {
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("%w: op %d: %s: %s", ErrBadSchedule, i+1, field, fmt.Sprintf(format, args...))
		}
		at, err := time.ParseDuration(r.At)
		if err != nil {
			return nil, bad("at", "%q: %v", r.At, err)
		}
		if at < 0 || at > maxSpan {
			return nil, bad("at", "%s: want 0 to %s", at, maxSpan)
		}
		d, err := time.ParseDuration(r.For)
		if err != nil {
			return nil, bad("for", "%q: %v", r.For, err)
		}
		if d <= 0 || d > maxSpan {
			return nil, bad("for", "%s: want more than 0, at most %s", d, maxSpan)
		}
		if !slices.Contains(known, r.Fault) {
			return nil, bad("fault", "unknown fault %q (chaos soak -h lists them)", r.Fault)
		}
		if n := len(ops); n > 0 && at < ops[n-1].At {
			return nil, bad("at", "%s is before the previous op's %s: ops are in time order", at, ops[n-1].At)
		}
		ops = append(ops, Op{At: at, Fault: r.Fault, For: d})
	}
	return ops, nil
}

// Random draws a schedule for a soak of duration d from seed, in the
// style of Jepsen's nemesis generators (every fault of Faults but the
// drain): a quiet period, one fault held
// for a while, healed, another quiet period, and so on. The same seed and
// duration draw the same schedule.
func Random(seed int64, d time.Duration) []Op {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6e656d65736973))
	// A drain is not undone by its heal (the sats stay with the payee):
	// drawn at random it would starve the rest of the soak. A schedule
	// file can still name it.
	names := slices.DeleteFunc(Faults(), func(n string) bool { return strings.HasPrefix(n, "drain ") })
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(r.Int64N(int64(hi-lo)+1)).Round(100*time.Millisecond)
	}
	var ops []Op
	at := between(5*time.Second, 15*time.Second)
	for at < d {
		op := Op{At: at, Fault: names[r.IntN(len(names))], For: between(3*time.Second, 20*time.Second)}
		ops = append(ops, op)
		at += op.For + between(5*time.Second, 20*time.Second)
	}
	return ops
}

// crashPhase is the phase a crash op names, if it is one.
func crashPhase(name string) (harness.Phase, bool) {
	p, ok := strings.CutPrefix(name, CrashPrefix)
	return harness.Phase(p), ok
}
