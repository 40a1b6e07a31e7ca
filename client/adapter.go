package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// The client side of the exec adapter protocol v1
// (docs/adapter-protocol.md), shared by every program that drives this
// library through it (chaos client, the mutants):
//
//	environment ──ReadAdapterEnv──> AdapterEnv ──AdapterAttempt──> *Outcome, error
//	                                               (Recover, Do)          │
//	stdout (last line) <──json── Report <──ReportFor──────────────────────┘

// ErrAdapterConfig marks an adapter environment that cannot be used: the
// run did nothing, so its report is "failed".
var ErrAdapterConfig = errors.New("config")

// MaxAdapterBody bounds L402_BODY_FILE, in bytes.
const MaxAdapterBody = 1 << 20

// AdapterEnv is one purchase attempt as the exec adapter protocol passes
// it in the environment.
type AdapterEnv struct {
	URL        string
	Method     string // GET or POST
	Body       []byte // L402_BODY_FILE's content, nil without one
	Key        string // L402_IDEMPOTENCY_KEY
	StateDir   string
	MaxCostSat int64         // default 1,000
	Timeout    time.Duration // default 60s

	LNDRPCServer    string
	LNDTLSCertPath  string
	LNDMacaroonPath string

	// CrashAt (L402_CRASH_AT) names the crash point where this attempt
	// must die (CrashPoints); empty for none. ArmCrashPoint arms it.
	CrashAt string
}

// ReadAdapterEnv reads and checks the protocol's variables through getenv
// (os.Getenv in a real run), and reads the body file. Errors wrap
// ErrAdapterConfig and name the variable at fault.
func ReadAdapterEnv(getenv func(string) string) (AdapterEnv, error) {
	e := AdapterEnv{
		URL: getenv("L402_URL"), Method: getenv("L402_METHOD"),
		Key: getenv("L402_IDEMPOTENCY_KEY"), StateDir: getenv("L402_STATE_DIR"),
		LNDRPCServer: getenv("LND_RPCSERVER"), LNDTLSCertPath: getenv("LND_TLSCERTPATH"), LNDMacaroonPath: getenv("LND_MACAROONPATH"),
		MaxCostSat: 1000, Timeout: 60 * time.Second,
	}
	bad := func(format string, args ...any) (AdapterEnv, error) {
		return AdapterEnv{}, fmt.Errorf("%w: %s", ErrAdapterConfig, fmt.Sprintf(format, args...))
	}
	for _, v := range []struct{ name, val string }{
		{"L402_URL", e.URL}, {"L402_IDEMPOTENCY_KEY", e.Key}, {"L402_STATE_DIR", e.StateDir},
		{"LND_RPCSERVER", e.LNDRPCServer}, {"LND_TLSCERTPATH", e.LNDTLSCertPath}, {"LND_MACAROONPATH", e.LNDMacaroonPath},
	} {
		if v.val == "" {
			return bad("%s is not set", v.name)
		}
	}
	if u, err := url.Parse(e.URL); err == nil && u.Scheme == GRPCScheme {
		if _, _, err := GRPCMethod(u); err != nil {
			return bad("L402_URL: %v", err)
		}
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("L402_URL %q: want an absolute http(s) URL, or grpc://host:port/package.Service/Method", e.URL)
	}
	switch e.Method {
	case "":
		e.Method = http.MethodGet
	case http.MethodGet, http.MethodPost:
	default:
		return bad("L402_METHOD %q: want GET or POST", e.Method)
	}
	if v := getenv("L402_MAX_COST_SAT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return bad("L402_MAX_COST_SAT %q: want a positive integer", v)
		}
		e.MaxCostSat = n
	}
	if v := getenv("L402_TIMEOUT_SEC"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n <= 0 || n > 24*3600 {
			return bad("L402_TIMEOUT_SEC %q: want seconds, more than 0", v)
		}
		e.Timeout = time.Duration(n * float64(time.Second))
	}
	if n := getenv("LND_NETWORK"); n != "" && n != "regtest" {
		return bad("LND_NETWORK %q: the harness runs on regtest", n)
	}
	if p := getenv("L402_CRASH_AT"); p != "" {
		if !slices.Contains(CrashPoints(), p) {
			return bad("L402_CRASH_AT %q: want one of %s", p, strings.Join(CrashPoints(), ", "))
		}
		e.CrashAt = p
	}
	if name := getenv("L402_BODY_FILE"); name != "" {
		body, err := readAdapterBody(name)
		if err != nil {
			return AdapterEnv{}, fmt.Errorf("%w: L402_BODY_FILE: %w", ErrAdapterConfig, err)
		}
		e.Body = body
	}
	return e, nil
}

func readAdapterBody(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxAdapterBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxAdapterBody {
		return nil, fmt.Errorf("over %d bytes", MaxAdapterBody)
	}
	return body, nil
}

// AdapterAttempt is one purchase attempt of the protocol on c: it first
// resolves what dead attempts left open (Recover, which never pays, within
// half of env.Timeout), then buys env's request as the purchase env.Key. ctx bounds both
// (L402_TIMEOUT_SEC). The cap is c's: build it with
// WithMaxCost(env.MaxCostSat*1000).
//
// When Do cannot even start (its lock is not taken before ctx ends,
// typically because Recover spent the time waiting for an in-flight
// payment of another purchase) while the journal knows the purchase
// (open, or finished in an earlier attempt that may have paid), the error
// is Ambiguous, so that ReportFor says unknown, never failed.
func (c *Client) AdapterAttempt(ctx context.Context, env AdapterEnv) (*Outcome, error) {
	// Recovery gets at most half the attempt's time: purchases that dead
	// attempts left open (one waiting out a refused credential, say)
	// must not starve the one asked for.
	rctx, cancel := context.WithTimeout(ctx, max(env.Timeout/2, time.Second))
	recovered, err := c.Recover(rctx)
	cancel()
	if err != nil {
		c.log.Info("recover", "err", err)
	}
	// What Recover settled for this very purchase for good (delivered,
	// or refused for good) is the attempt's answer: sending the request
	// again would retry a permanent refusal.
	for _, o := range recovered {
		if o.Key == env.Key && (o.Result == Delivered || o.Kind == Permanent) {
			return o, recoveredErr(o)
		}
	}
	req, err := http.NewRequestWithContext(ctx, env.Method, env.URL, bytes.NewReader(env.Body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAdapterConfig, err)
	}
	out, err := c.Do(ctx, req, env.Key)
	if out != nil || err == nil || KindOf(err) == Ambiguous {
		return out, err
	}
	// Do could not start; if Recover got this very purchase somewhere
	// (paid, not delivered), that is its outcome.
	for _, o := range recovered {
		if o.Key == env.Key {
			return o, recoveredErr(o)
		}
	}
	open, uerr := c.store.Unfinished()
	if uerr != nil || slices.Contains(open, env.Key) {
		return nil, &Error{Op: "purchase " + env.Key, Kind: Ambiguous, Err: fmt.Errorf("open in the journal and not resumed: %w", err)}
	}
	// A purchase the journal already knows may have paid (and been
	// delivered) in an earlier attempt: "failed" would say no money ever
	// moved for it.
	if evs, eerr := c.store.Events(env.Key); eerr != nil || len(evs) > 0 {
		return nil, &Error{Op: "purchase " + env.Key, Kind: Ambiguous, Err: fmt.Errorf("in the journal and not resumed: %w", err)}
	}
	return nil, err
}

// JournalUnavailable is the error of an attempt that could not open its
// journal (another process held it past the open timeout, or it cannot be
// read). The attempt did nothing, but an earlier one may have paid for the
// purchase: the outcome is unknown, never failed.
func JournalUnavailable(err error) error {
	return &Error{Op: "open journal", Kind: Ambiguous, Err: err}
}

// recoveredErr is the error that goes with an outcome Recover reached.
func recoveredErr(o *Outcome) error {
	if o.Result == Delivered {
		return nil
	}
	return &Error{Op: "purchase " + o.Key, Kind: o.Kind, Err: fmt.Errorf("%s after recovery: %s", o.Result, o.Reason)}
}

// The report's outcomes.
const (
	ReportDelivered = "delivered" // the server answered with success
	ReportFailed    = "failed"    // no money moved and none will
	ReportUnknown   = "unknown"   // money may have moved
)

// Report is the JSON object an adapter run prints as the last line of
// stdout.
type Report struct {
	Outcome     string `json:"outcome"` // ReportDelivered, ReportFailed or ReportUnknown
	Status      int    `json:"status,omitempty"`
	BodySHA256  string `json:"body_sha256,omitempty"`
	PaymentHash string `json:"payment_hash,omitempty"`
	PaidMsat    int64  `json:"paid_msat,omitempty"`
	Error       string `json:"error,omitempty"`
	// Extensions (allowed by the protocol).
	Key              string `json:"key,omitempty"`
	Kind             string `json:"kind,omitempty"`
	FeeMsat          int64  `json:"fee_msat,omitempty"`
	PaidNotDelivered bool   `json:"paid_not_delivered,omitempty"`
	Payments         int    `json:"payments"`
	Requests         int    `json:"requests"`
}

// ReportFor says what a Do call (or the setup before it) achieved, in the
// protocol's terms. Without an Outcome the run failed unless err is
// Ambiguous. PaidNotDelivered is unknown with PaidNotDelivered set:
// money moved and the preimage is kept, so it is not a failure, nor a
// success.
func ReportFor(out *Outcome, err error) Report {
	if out == nil {
		if err == nil {
			err = errors.New("no outcome")
		}
		if KindOf(err) == Ambiguous {
			return Report{Outcome: ReportUnknown, Error: err.Error()}
		}
		return Report{Outcome: ReportFailed, Error: err.Error()}
	}
	res := Report{
		Key: out.Key, Status: out.Status, PaidMsat: out.PaidMsat, FeeMsat: out.FeeMsat,
		Payments: out.Payments, Requests: out.Requests, Error: out.Reason,
	}
	if out.PaymentHash != (lntypes.Hash{}) {
		res.PaymentHash = out.PaymentHash.String()
	}
	if out.Kind != Unclassified {
		res.Kind = out.Kind.String()
	}
	switch out.Result {
	case Delivered:
		res.Outcome = ReportDelivered
		res.BodySHA256 = bodySHA256(out.Body)
	case Failed:
		res.Outcome = ReportFailed
	case PaidNotDelivered:
		res.Outcome, res.PaidNotDelivered = ReportUnknown, true
	default:
		res.Outcome = ReportUnknown
	}
	if res.Error == "" && err != nil {
		res.Error = err.Error()
	}
	return res
}

// ExitCode is the protocol's exit status for the report: 0 delivered, 1
// failed, 2 unknown.
func (r Report) ExitCode() int {
	switch r.Outcome {
	case ReportDelivered:
		return 0
	case ReportFailed:
		return 1
	}
	return 2
}

func bodySHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
