package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
	"github.com/lightningnetwork/lnd/lntypes"
)

// chaos client is the reference client behind the exec adapter protocol
// v1 (docs/adapter-protocol.md): the harness runs it once per purchase
// attempt with the purchase in the environment, and reads one JSON object
// from the last line of stdout. Exit 0 delivered, 1 failed, 2 unknown.

// AdapterResult is the JSON line of the exec adapter protocol.
type AdapterResult struct {
	Outcome     string `json:"outcome"` // delivered, failed or unknown
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

// Outcomes and their exit codes.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
	OutcomeUnknown   = "unknown"
)

// exitCode ends a command with a given status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// adapterEnv is the protocol's environment, read and checked.
type adapterEnv struct {
	url, method, bodyFile, key, stateDir string
	maxCostSat                           int64
	timeout                              time.Duration
	rpc, cert, mac                       string
}

// maxBodyFile bounds L402_BODY_FILE.
const maxBodyFile = 1 << 20

func readAdapterEnv() (adapterEnv, error) {
	e := adapterEnv{
		url: os.Getenv("L402_URL"), method: os.Getenv("L402_METHOD"), bodyFile: os.Getenv("L402_BODY_FILE"),
		key: os.Getenv("L402_IDEMPOTENCY_KEY"), stateDir: os.Getenv("L402_STATE_DIR"),
		rpc: os.Getenv("LND_RPCSERVER"), cert: os.Getenv("LND_TLSCERTPATH"), mac: os.Getenv("LND_MACAROONPATH"),
		maxCostSat: 1000, timeout: 60 * time.Second,
	}
	for _, v := range []struct{ name, val string }{
		{"L402_URL", e.url}, {"L402_IDEMPOTENCY_KEY", e.key}, {"L402_STATE_DIR", e.stateDir},
		{"LND_RPCSERVER", e.rpc}, {"LND_TLSCERTPATH", e.cert}, {"LND_MACAROONPATH", e.mac},
	} {
		if v.val == "" {
			return e, fmt.Errorf("%s is not set", v.name)
		}
	}
	if u, err := url.Parse(e.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return e, fmt.Errorf("L402_URL %q: want an absolute http(s) URL", e.url)
	}
	switch e.method {
	case "":
		e.method = http.MethodGet
	case http.MethodGet, http.MethodPost:
	default:
		return e, fmt.Errorf("L402_METHOD %q: want GET or POST", e.method)
	}
	if v := os.Getenv("L402_MAX_COST_SAT"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return e, fmt.Errorf("L402_MAX_COST_SAT %q: want a positive integer", v)
		}
		e.maxCostSat = n
	}
	if v := os.Getenv("L402_TIMEOUT_SEC"); v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n <= 0 || n > 24*3600 {
			return e, fmt.Errorf("L402_TIMEOUT_SEC %q: want seconds, more than 0", v)
		}
		e.timeout = time.Duration(n * float64(time.Second))
	}
	if n := os.Getenv("LND_NETWORK"); n != "" && n != "regtest" {
		return e, fmt.Errorf("LND_NETWORK %q: the harness runs on regtest", n)
	}
	return e, nil
}

func cmdClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("client", stderr)
	verbose := fs.Bool("v", false, "log each step on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos client   (the exec adapter protocol v1: the purchase comes in the environment)")
		fmt.Fprintln(stderr, "  L402_URL L402_METHOD L402_BODY_FILE L402_IDEMPOTENCY_KEY L402_STATE_DIR L402_MAX_COST_SAT L402_TIMEOUT_SEC")
		fmt.Fprintln(stderr, "  LND_RPCSERVER LND_TLSCERTPATH LND_MACAROONPATH LND_NETWORK=regtest")
		fmt.Fprintln(stderr, "prints one JSON object as the last line of stdout; exit 0 delivered, 1 failed, 2 unknown")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	res := buyOnce(ctx, newLogger(stderr, *verbose))
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return exitCode(exitUsage)
	}
	switch res.Outcome {
	case OutcomeDelivered:
		return nil
	case OutcomeFailed:
		return exitCode(1)
	}
	return exitCode(2)
}

// buyOnce runs one purchase attempt. A problem before anything could be
// paid is a failure; once a payment may be under way, it is unknown.
func buyOnce(ctx context.Context, log *slog.Logger) AdapterResult {
	failed := func(err error) AdapterResult { return AdapterResult{Outcome: OutcomeFailed, Error: err.Error()} }
	env, err := readAdapterEnv()
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	var body []byte
	if env.bodyFile != "" {
		f, err := os.Open(env.bodyFile)
		if err != nil {
			return failed(fmt.Errorf("config: L402_BODY_FILE: %w", err))
		}
		body, err = io.ReadAll(io.LimitReader(f, maxBodyFile+1))
		f.Close()
		if err != nil {
			return failed(fmt.Errorf("config: L402_BODY_FILE: %w", err))
		}
		if len(body) > maxBodyFile {
			return failed(fmt.Errorf("config: L402_BODY_FILE over %d bytes", maxBodyFile))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	store, err := client.OpenStore(env.stateDir, client.WithOpenTimeout(env.timeout))
	if err != nil {
		// Another process holds the journal: this attempt did nothing.
		return failed(fmt.Errorf("open journal: %w", err))
	}
	defer store.Close()
	conn, err := regtest.Dial(env.rpc, env.cert, env.mac)
	if err != nil {
		return failed(fmt.Errorf("config: lnd: %w", err))
	}
	defer conn.Close()
	payer, err := client.NewLNDPayer(lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn))
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	c, err := client.New(payer, store, client.WithMaxCost(env.maxCostSat*1000))
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	// Purchases a dead attempt left half done are resolved first.
	if _, err := c.Recover(ctx); err != nil {
		log.Info("recover", "err", err)
	}
	req, err := http.NewRequestWithContext(ctx, env.method, env.url, bytes.NewReader(body))
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	out, err := c.Do(ctx, req, env.key)
	if out == nil {
		if err == nil {
			err = errors.New("no outcome")
		}
		if client.KindOf(err) == client.Ambiguous {
			return AdapterResult{Outcome: OutcomeUnknown, Error: err.Error()}
		}
		return failed(err)
	}
	res := AdapterResult{
		Key: out.Key, Status: out.Status, PaidMsat: out.PaidMsat, FeeMsat: out.FeeMsat,
		Payments: out.Payments, Requests: out.Requests, Error: out.Reason,
	}
	if out.PaymentHash != (lntypes.Hash{}) {
		res.PaymentHash = out.PaymentHash.String()
	}
	if out.Kind != client.Unclassified {
		res.Kind = out.Kind.String()
	}
	switch out.Result {
	case client.Delivered:
		res.Outcome = OutcomeDelivered
		sum := sha256.Sum256(out.Body)
		res.BodySHA256 = hex.EncodeToString(sum[:])
	case client.Failed:
		res.Outcome = OutcomeFailed
	case client.PaidNotDelivered:
		// Paid, and the preimage is in the journal, but the server did not
		// deliver: not a failure (money moved), not a success.
		res.Outcome, res.PaidNotDelivered = OutcomeUnknown, true
	default:
		res.Outcome = OutcomeUnknown
	}
	if res.Error == "" && err != nil {
		res.Error = err.Error()
	}
	return res
}
