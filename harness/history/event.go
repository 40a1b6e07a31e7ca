package history

import (
	"fmt"
	"time"
)

// Type is an event's place in an operation: an Invoke, or one of the three
// completions.
type Type string

const (
	Invoke Type = "invoke"
	OK     Type = "ok"
	Fail   Type = "fail"
	// Info means "may have happened": the operation's effect is unknown.
	Info Type = "info"
)

// Valid reports whether t is one of the four types.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// Completes reports whether t ends an operation.
func (t Type) Completes() bool { return t == OK || t == Fail || t == Info }

// Nemesis is the process of fault events.
const Nemesis = -1

// Operation names (Event.F).
const (
	// Purchase is one run of the client for a purchase key: one exec of an
	// adapter, or one call of an in-process client.
	Purchase = "purchase"
	// FaultStart and FaultStop bracket a fault; both are Info events on
	// the Nemesis process.
	FaultStart = "fault.start"
	FaultStop  = "fault.stop"
	// FaultError marks a fault that was never in place: its trigger never
	// came, or injecting it failed.
	FaultError = "fault.error"
	// Phase marks a payment phase the harness saw (a trigger firing).
	Phase = "phase"
)

// Event is one line of history.jsonl.
type Event struct {
	Index   int64         `json:"index"`
	Time    time.Duration `json:"time"` // since the run began, monotonic
	Process int           `json:"process"`
	Type    Type          `json:"type"`
	F       string        `json:"f"`
	Key     string        `json:"key,omitempty"` // the purchase
	// Attempt numbers the runs of one purchase key, from 1.
	Attempt int `json:"attempt,omitempty"`
	// Value is what the client reported, on a purchase's completion.
	Value *Result `json:"value,omitempty"`
	// Fault names the fault, on fault events.
	Fault string `json:"fault,omitempty"`
	// Detail is free text: the fault's parameters, the phase seen, why an
	// operation is Info.
	Detail string `json:"detail,omitempty"`
}

func (e Event) String() string {
	s := fmt.Sprintf("#%d %s p%d %s %s", e.Index, e.Time.Round(time.Millisecond), e.Process, e.Type, e.F)
	if e.Key != "" {
		s += " " + e.Key
	}
	if e.Fault != "" {
		s += " " + e.Fault
	}
	if e.Value != nil {
		s += " outcome=" + string(e.Value.Outcome)
		if e.Value.PaymentHash != "" {
			s += " hash=" + Short(e.Value.PaymentHash)
		}
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Outcome is what a client claims about a purchase.
type Outcome string

const (
	// Delivered: the server answered with success.
	Delivered Outcome = "delivered"
	// Failed: no money moved and none will.
	Failed Outcome = "failed"
	// Unknown: money may have moved.
	Unknown Outcome = "unknown"
)

// Result is a client's report on one purchase attempt: the adapter
// protocol's JSON line, plus how the process ended.
type Result struct {
	Outcome          Outcome `json:"outcome,omitempty"`
	Status           int     `json:"status,omitempty"`
	BodySHA256       string  `json:"body_sha256,omitempty"`
	PaymentHash      string  `json:"payment_hash,omitempty"`
	PaidMsat         int64   `json:"paid_msat,omitempty"`
	Error            string  `json:"error,omitempty"`
	PaidNotDelivered bool    `json:"paid_not_delivered,omitempty"`
	// ExitCode is the process's exit status; -1 when killed by a signal.
	ExitCode int `json:"exit_code,omitempty"`
	// Killed is set when the harness killed the client on purpose, or
	// made it die at a crash point (CrashPoint).
	Killed bool `json:"killed,omitempty"`
	// CrashPoint names the crash point inside the client where it died
	// as the harness asked (L402_CRASH_AT): the process wrote the crash
	// marker to stderr and died of SIGKILL.
	CrashPoint string `json:"crash_point,omitempty"`
	// AdapterError is set when the client broke the adapter protocol (it
	// could not start, printed no report or garbage): the attempt says
	// nothing about the client's L402 behaviour.
	AdapterError bool `json:"adapter_error,omitempty"`
}

// Short is a hash's first 8 hex digits, for messages.
func Short(hash string) string {
	if len(hash) > 8 {
		return hash[:8]
	}
	return hash
}

// Completion is the event that ends a purchase attempt: OK for
// delivered, Fail for failed, Info for anything else and for an attempt
// that reported nothing usable (err): it may have happened.
func Completion(proc int, key string, attempt int, res Result, err error) Event {
	e := Event{Process: proc, F: Purchase, Key: key, Attempt: attempt, Value: &res}
	switch {
	case err != nil:
		e.Type, e.Detail = Info, err.Error()
	case res.Outcome == Delivered:
		e.Type = OK
	case res.Outcome == Failed:
		e.Type = Fail
	default:
		e.Type = Info
	}
	return e
}
