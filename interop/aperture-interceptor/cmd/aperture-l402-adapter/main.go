// Command aperture-l402-adapter puts aperture's L402 client, the gRPC
// interceptor l402.ClientInterceptor of aperture v0.5.0, behind l402chaos's
// exec adapter protocol (docs/adapter-protocol.md), so that `chaos certify`
// can judge it:
//
//	chaos certify -client-cmd ./aperture-l402-adapter
//
// The adapter is what an application using the interceptor does, and no
// more: it connects to its LND with lndclient, opens aperture's FileStore
// in the state directory (one store per gRPC service, as an application
// keeps one interceptor per server), dials the server with the
// interceptor, and makes one unary call. The L402 logic (reading the
// challenge, the pending token written before paying, tracking a pending
// payment after a restart, the price cap) is the interceptor's own.
//
// The outcome it reports is read off the interceptor's store, which is
// all an application can know: delivered when the call succeeded;
// unknown when the store holds a pending token (a payment may be under
// way) or a token paid during this call that did not buy the answer;
// failed when the call failed and this call left no payment behind.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/lightninglabs/aperture/l402"
	"github.com/lightninglabs/lndclient"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Version is aperture's version: the interceptor under test.
const Version = "v0.5.0"

// maxFeeSat is the routing fee the interceptor may pay on top of the
// invoice (its maxFee argument).
const maxFeeSat = 10

// Exit codes of the adapter protocol.
const (
	exitDelivered = 0
	exitFailed    = 1
	exitUnknown   = 2
	exitUsage     = 64
)

// report is the protocol's last line of stdout.
type report struct {
	Outcome     string `json:"outcome"`
	Status      int    `json:"status,omitempty"`
	BodySHA256  string `json:"body_sha256,omitempty"`
	PaymentHash string `json:"payment_hash,omitempty"`
	PaidMsat    int64  `json:"paid_msat,omitempty"`
	FeeMsat     int64  `json:"fee_msat,omitempty"`
	// PaidNotDelivered: the purchase's token is paid (the store holds
	// its preimage) and the call still failed.
	PaidNotDelivered bool   `json:"paid_not_delivered,omitempty"`
	Error            string `json:"error,omitempty"`
}

// descriptor answers --describe: gRPC only, the interceptor has no HTTP.
type descriptor struct {
	Adapter      int      `json:"l402chaos_adapter"`
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) > 1 {
		if os.Args[1] == "--describe" {
			emit(descriptor{Adapter: 1, Name: "aperture l402.ClientInterceptor", Version: Version, Capabilities: []string{"grpc"}})
			return
		}
		fmt.Fprintf(os.Stderr, "usage: %s [--describe] (the purchase comes from the L402_* environment)\n", filepath.Base(os.Args[0]))
		os.Exit(exitUsage)
	}
	cfg, err := configFromEnv()
	if err != nil {
		log.Error("configuration", "err", err)
		emit(report{Outcome: "failed", Error: err.Error()})
		os.Exit(exitFailed)
	}
	r := buy(log, cfg)
	emit(r)
	switch r.Outcome {
	case "delivered":
		os.Exit(exitDelivered)
	case "failed":
		os.Exit(exitFailed)
	default:
		os.Exit(exitUnknown)
	}
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

type config struct {
	target   string // host:port
	method   string // /package.Service/Method
	service  string // package.Service
	body     []byte
	key      string
	stateDir string
	maxCost  int64
	timeout  time.Duration
	lndHost  string
	lndTLS   string
	lndMac   string
	network  string
}

func configFromEnv() (config, error) {
	var c config
	raw := os.Getenv("L402_URL")
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "grpc" || u.Host == "" {
		return c, fmt.Errorf("L402_URL %q: want grpc://host:port/package.Service/Method (this client speaks gRPC only)", raw)
	}
	c.target, c.method = u.Host, u.Path
	parts := strings.Split(strings.TrimPrefix(c.method, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return c, fmt.Errorf("L402_URL %q: the path must be /package.Service/Method", raw)
	}
	c.service = parts[0]
	if f := os.Getenv("L402_BODY_FILE"); f != "" {
		if c.body, err = os.ReadFile(f); err != nil {
			return c, fmt.Errorf("L402_BODY_FILE: %w", err)
		}
	}
	c.key = os.Getenv("L402_IDEMPOTENCY_KEY")
	if c.stateDir = os.Getenv("L402_STATE_DIR"); c.stateDir == "" {
		return c, errors.New("L402_STATE_DIR is not set")
	}
	c.maxCost = 1000
	if s := os.Getenv("L402_MAX_COST_SAT"); s != "" {
		if c.maxCost, err = strconv.ParseInt(s, 10, 64); err != nil || c.maxCost <= 0 {
			return c, fmt.Errorf("L402_MAX_COST_SAT %q: want a positive integer", s)
		}
	}
	c.timeout = 60 * time.Second
	if s := os.Getenv("L402_TIMEOUT_SEC"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("L402_TIMEOUT_SEC %q: want a positive number", s)
		}
		c.timeout = time.Duration(n * float64(time.Second))
	}
	c.lndHost, c.lndTLS, c.lndMac = os.Getenv("LND_RPCSERVER"), os.Getenv("LND_TLSCERTPATH"), os.Getenv("LND_MACAROONPATH")
	if c.lndHost == "" || c.lndTLS == "" || c.lndMac == "" {
		return c, errors.New("LND_RPCSERVER, LND_TLSCERTPATH and LND_MACAROONPATH must be set")
	}
	if c.network = os.Getenv("LND_NETWORK"); c.network == "" {
		c.network = "regtest"
	}
	return c, nil
}

// buy makes the call through the interceptor and tells what happened.
func buy(log *slog.Logger, c config) report {
	// The report must be out by the deadline: the call gets nine tenths
	// of it, the rest is for reading the store and printing.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout*9/10)
	defer cancel()

	dir := filepath.Join(c.stateDir, c.service)
	store, err := l402.NewFileStore(dir)
	if err != nil {
		return report{Outcome: "failed", Error: "open the token store: " + err.Error()}
	}
	book, err := openPurchases(dir)
	if err != nil {
		return report{Outcome: "unknown", Error: err.Error()}
	}
	// attribute gives the store's token to the purchase that made it.
	attribute := func(key string) error {
		t, err := currentToken(store)
		if err != nil || t == nil {
			return err
		}
		return book.claim(hex.EncodeToString(t.hash), key)
	}
	// A token left by a run killed during its call is that run's
	// purchase's; then this call is in flight.
	if book.InFlight != "" {
		if err := attribute(book.InFlight); err != nil {
			return report{Outcome: "unknown", Error: "read the token store: " + err.Error()}
		}
	}
	if err := book.begin(c.key); err != nil {
		return report{Outcome: "unknown", Error: err.Error()}
	}
	done := func(r report) report {
		if err := attribute(c.key); err != nil {
			log.Warn("record the purchase's token", "err", err)
		}
		if err := book.end(); err != nil {
			log.Warn("record the purchase's end", "err", err)
		}
		if r.Outcome != "delivered" {
			r = failedCall(r.Error, book.Keys[c.key], store)
		} else if h := book.Keys[c.key]; h != "" {
			r.PaymentHash = h
			if t, err := currentToken(store); err == nil && t != nil && hex.EncodeToString(t.hash) == h {
				r.PaidMsat, r.FeeMsat = t.paid, t.fee
			}
		}
		return r
	}

	lnd, err := lndclient.NewLndServices(&lndclient.LndServicesConfig{
		LndAddress:         c.lndHost,
		Network:            lndclient.Network(c.network),
		CustomMacaroonPath: c.lndMac,
		TLSPath:            c.lndTLS,
		CallerCtx:          ctx,
	})
	if err != nil {
		return done(report{Error: "connect to lnd: " + err.Error()})
	}
	// lnd is not closed: Close waits for lndclient's calls under way,
	// and the process ends with the report anyway.

	ic := l402.NewInterceptor(&lnd.LndServices, store, c.timeout,
		btcutil.Amount(c.maxCost), maxFeeSat, true)
	conn, err := grpc.NewClient(c.target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(ic.UnaryInterceptor))
	if err != nil {
		return done(report{Error: "dial: " + err.Error()})
	}
	defer conn.Close()

	if c.key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "idempotency-key", c.key)
	}
	var reply wrapperspb.StringValue
	if err := conn.Invoke(ctx, c.method, wrapperspb.Bytes(c.body), &reply); err != nil {
		log.Info("call failed", "method", c.method, "err", err)
		msg := err.Error()
		if s, ok := status.FromError(err); ok {
			msg = s.Code().String() + ": " + s.Message()
		}
		return done(report{Error: msg})
	}
	sum := sha256.Sum256([]byte(reply.GetValue()))
	return done(report{Outcome: "delivered", Status: 200, BodySHA256: hex.EncodeToString(sum[:])})
}

// purchases is the adapter's own record, beside the interceptor's store,
// of which purchase (Idempotency-Key) each token was bought for: the
// interceptor keeps one token and knows nothing of purchases, and a
// purchase that paid in an earlier attempt must not be reported failed.
// It decides reports only; the interceptor never reads it.
type purchases struct {
	path string
	// Keys maps a purchase to the payment hash of the token it bought.
	Keys map[string]string `json:"keys"`
	// Owner maps a payment hash back to its purchase.
	Owner map[string]string `json:"owner"`
	// InFlight is the purchase whose call is under way (or was, when a
	// run was killed).
	InFlight string `json:"in_flight,omitempty"`
}

func openPurchases(dir string) (*purchases, error) {
	b := &purchases{path: filepath.Join(dir, "l402chaos-purchases.json"), Keys: map[string]string{}, Owner: map[string]string{}}
	data, err := os.ReadFile(b.path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the purchase record: %w", err)
	}
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("read the purchase record %s: %w", b.path, err)
	}
	return b, nil
}

// claim gives an unowned token to key.
func (b *purchases) claim(hash, key string) error {
	if _, owned := b.Owner[hash]; owned || key == "" {
		return nil
	}
	b.Owner[hash], b.Keys[key] = key, hash
	return b.save()
}

func (b *purchases) begin(key string) error { b.InFlight = key; return b.save() }
func (b *purchases) end() error             { b.InFlight = ""; return b.save() }

// save replaces the record atomically.
func (b *purchases) save() error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	tmp := b.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write the purchase record: %w", err)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fmt.Errorf("write the purchase record: %w", err)
	}
	return nil
}

// token is what the adapter reads of the store's current token.
type token struct {
	hash      []byte
	pending   bool
	paid, fee int64
}

func currentToken(s l402.Store) (*token, error) {
	t, err := s.CurrentToken()
	if errors.Is(err, l402.ErrNoToken) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var zero [32]byte
	return &token{
		hash:    t.PaymentHash[:],
		pending: bytes.Equal(t.Preimage[:], zero[:]),
		paid:    int64(t.AmountPaid),
		fee:     int64(t.RoutingFeePaid),
	}, nil
}

// failedCall tells the outcome of a failed call: unknown when the
// purchase bought a token (in this attempt or an earlier one: money
// moved, or may be moving, for it), failed when it never did.
func failedCall(msg, mine string, store l402.Store) report {
	if mine == "" {
		return report{Outcome: "failed", Error: msg}
	}
	r := report{Outcome: "unknown", PaymentHash: mine, Error: msg}
	if t, err := currentToken(store); err == nil && t != nil && hex.EncodeToString(t.hash) == mine && !t.pending {
		// Paid, and the server would not deliver.
		r.PaidMsat, r.FeeMsat, r.PaidNotDelivered = t.paid, t.fee, true
	}
	return r
}
