package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness/history"
)

// wireReport is the protocol's JSON line: the fields the protocol names,
// and paid_not_delivered, the reference client's extension that
// history.Result keeps. Other fields are allowed and ignored.
type wireReport struct {
	Outcome          history.Outcome `json:"outcome"`
	Status           int             `json:"status"`
	BodySHA256       string          `json:"body_sha256"`
	PaymentHash      string          `json:"payment_hash"`
	PaidMsat         int64           `json:"paid_msat"`
	Error            string          `json:"error"`
	PaidNotDelivered bool            `json:"paid_not_delivered"`
}

// exitCodeFor is the exit code the protocol pairs with an outcome.
func exitCodeFor(o history.Outcome) (int, bool) {
	switch o {
	case history.Delivered:
		return 0, true
	case history.Failed:
		return 1, true
	case history.Unknown:
		return 2, true
	}
	return 0, false
}

// lastLine is the last non-empty line of out, without surrounding spaces
// (a CRLF ending included).
func lastLine(out []byte) []byte {
	out = bytes.TrimRight(out, " \t\r\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return bytes.TrimSpace(out)
}

// parseReport reads the report from stdout's last non-empty line. A line
// that is not JSON at all (and does not even start like an object) is no
// report; JSON that is not a valid report is a bad one. The error is a
// *ProtocolError with its Reason and detail only.
func parseReport(stdout []byte) (wireReport, error) {
	bad := func(format string, args ...any) (wireReport, error) {
		return wireReport{}, &ProtocolError{Reason: ErrBadReport, Err: fmt.Errorf(format, args...)}
	}
	line := lastLine(stdout)
	if len(line) == 0 || line[0] != '{' && !json.Valid(line) {
		return wireReport{}, &ProtocolError{Reason: ErrNoReport}
	}
	if line[0] != '{' {
		return bad("not a JSON object")
	}
	var r wireReport
	if err := json.Unmarshal(line, &r); err != nil {
		return bad("%w", err)
	}
	if r.Outcome == "" {
		return bad("no outcome")
	}
	if _, ok := exitCodeFor(r.Outcome); !ok {
		return bad("outcome %q: want delivered, failed or unknown", r.Outcome)
	}
	return r, nil
}

func (r wireReport) result(exitCode int) history.Result {
	return history.Result{
		Outcome: r.Outcome, Status: r.Status, BodySHA256: r.BodySHA256, PaymentHash: r.PaymentHash,
		PaidMsat: r.PaidMsat, Error: r.Error, PaidNotDelivered: r.PaidNotDelivered, ExitCode: exitCode,
	}
}

// ResultOf is the reference library's report as a history.Result, the
// same fields the exec path reads from the JSON line.
func ResultOf(r client.Report) history.Result {
	return wireReport{
		Outcome: history.Outcome(r.Outcome), Status: r.Status, BodySHA256: r.BodySHA256, PaymentHash: r.PaymentHash,
		PaidMsat: r.PaidMsat, Error: r.Error, PaidNotDelivered: r.PaidNotDelivered,
	}.result(0)
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	limit int
	buf   []byte
	total int64
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.total += int64(len(p))
	if len(p) >= t.limit {
		t.buf = append(t.buf[:0], p[len(p)-t.limit:]...)
		return len(p), nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.limit {
		n := copy(t.buf, t.buf[len(t.buf)-t.limit:])
		t.buf = t.buf[:n]
	}
	return len(p), nil
}

// Bytes is the tail: the last limit bytes written.
func (t *tailBuffer) Bytes() []byte {
	if len(t.buf) > t.limit {
		return t.buf[len(t.buf)-t.limit:]
	}
	return t.buf
}

// limitedFile writes the first limit bytes to a file and counts the rest,
// so a client that floods stderr cannot fill the disk.
type limitedFile struct {
	f       *os.File
	limit   int64
	written int64
	dropped int64
	err     error
}

func (l *limitedFile) Write(p []byte) (int, error) {
	room := l.limit - l.written
	keep := p
	if int64(len(keep)) > room {
		keep = keep[:max(room, 0)]
	}
	if len(keep) > 0 && l.err == nil {
		n, err := l.f.Write(keep)
		l.written += int64(n)
		l.err = err
	}
	l.dropped += int64(len(p) - len(keep))
	// Never fail the child's writes: a full disk must not change how the
	// client behaves.
	return len(p), nil
}

// Close notes a truncation and closes the file.
func (l *limitedFile) Close() error {
	if l.dropped > 0 && l.err == nil {
		_, l.err = fmt.Fprintf(l.f, "\n[stderr truncated: %d more bytes dropped]\n", l.dropped)
	}
	err := l.f.Close()
	if l.err != nil {
		return l.err
	}
	return err
}

var _ io.WriteCloser = (*limitedFile)(nil)
