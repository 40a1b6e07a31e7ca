package adapter

import (
	"errors"
	"fmt"
	"strings"
)

// Reasons an exec attempt reported nothing usable. Each makes the attempt
// Info (may have happened). Check them with errors.Is on the error
// Purchase returns.
var (
	// ErrNoReport: the last non-empty line of stdout is not a JSON report
	// (there is none, or it is plain text).
	ErrNoReport = errors.New("no report")
	// ErrBadReport: the last line is JSON but not a valid report: not an
	// object, a field of the wrong type, no outcome or an unknown one.
	ErrBadReport = errors.New("bad report")
	// ErrExitMismatch: the exit code disagrees with the reported outcome
	// (0 delivered, 1 failed, 2 unknown).
	ErrExitMismatch = errors.New("exit code disagrees with the outcome")
	// ErrKilled: the harness killed the process, through Kill or because
	// the purchase's context ended.
	ErrKilled = errors.New("killed")
	// ErrNotStarted: the command could not be started (not found, not
	// executable).
	ErrNotStarted = errors.New("command did not start")
	// ErrTimeout: the process outlived its own deadline (L402_TIMEOUT_SEC)
	// plus the grace period and was killed.
	ErrTimeout = errors.New("timed out")
	// ErrCrashed: the process died at the crash point the harness named
	// (L402_CRASH_AT), as asked: a crash, not a broken protocol.
	ErrCrashed = errors.New("crashed at a crash point")
)

// ErrClosed: the client was closed.
var ErrClosed = errors.New("adapter closed")

// ProtocolError is an exec attempt that broke the adapter protocol or was
// cut short. Reason is one of ErrNoReport, ErrBadReport, ErrExitMismatch,
// ErrKilled and ErrTimeout; Err, when set, is the detail (the JSON error,
// the context's error).
type ProtocolError struct {
	Reason   error
	ExitCode int    // -1 when ended by a signal
	Stdout   string // the end of stdout (at most the last 64 KiB)
	Log      string // the attempt's stderr log file
	Err      error
}

// AdapterFault reports whether the client's adapter broke the protocol
// (it did not start, printed no report or a bad one, or its exit code
// contradicted its report), as opposed to being killed or timing out:
// see harness.AdapterFault.
func (e *ProtocolError) AdapterFault() bool {
	for _, r := range []error{ErrNotStarted, ErrNoReport, ErrBadReport, ErrExitMismatch} {
		if errors.Is(e.Reason, r) {
			return true
		}
	}
	return false
}

// stdoutInMessage bounds how much of stdout Error shows.
const stdoutInMessage = 200

func (e *ProtocolError) Error() string {
	var b strings.Builder
	b.WriteString("adapter protocol: ")
	if e.Reason != nil {
		b.WriteString(e.Reason.Error())
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	fmt.Fprintf(&b, " (exit %d", e.ExitCode)
	if e.Log != "" {
		fmt.Fprintf(&b, ", stderr in %s", e.Log)
	}
	b.WriteString(")")
	if out := strings.TrimSpace(e.Stdout); out != "" {
		if len(out) > stdoutInMessage {
			out = "..." + out[len(out)-stdoutInMessage:]
		}
		fmt.Fprintf(&b, "; stdout ends %q", out)
	}
	return b.String()
}

// Unwrap gives the reason and the detail, so errors.Is finds both
// (ErrKilled and context.Canceled, for a purchase whose context ended).
func (e *ProtocolError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Reason, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
