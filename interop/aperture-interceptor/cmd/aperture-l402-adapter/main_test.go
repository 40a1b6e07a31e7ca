package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lightninglabs/aperture/l402"
)

func TestFailedCall(t *testing.T) {
	store, err := l402.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r := failedCall("Unavailable: connection lost", "", store); r.Outcome != "failed" || r.PaymentHash != "" {
		t.Fatalf("a purchase that bought nothing: %+v", r)
	}
	r := failedCall("Internal: payment required", "ab12", store)
	if r.Outcome != "unknown" || r.PaymentHash != "ab12" || r.Error != "Internal: payment required" {
		t.Fatalf("a purchase that bought a token: %+v", r)
	}
}

func TestPurchases(t *testing.T) {
	dir := t.TempDir()
	b, err := openPurchases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.begin("k1"); err != nil {
		t.Fatal(err)
	}
	// Killed here: the next run finds k1 in flight.
	b, err = openPurchases(dir)
	if err != nil || b.InFlight != "k1" {
		t.Fatalf("in flight after a kill: %+v %v", b, err)
	}
	if err := b.claim("aa", "k1"); err != nil {
		t.Fatal(err)
	}
	if err := b.claim("aa", "k2"); err != nil || b.Owner["aa"] != "k1" || b.Keys["k2"] != "" {
		t.Fatalf("a token has one owner: %+v %v", b, err)
	}
	if err := b.end(); err != nil {
		t.Fatal(err)
	}
	b, err = openPurchases(dir)
	if err != nil || b.InFlight != "" || b.Keys["k1"] != "aa" {
		t.Fatalf("after the run: %+v %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "l402chaos-purchases.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openPurchases(dir); err == nil {
		t.Fatal("a broken record was read")
	}
}

func TestCurrentToken(t *testing.T) {
	store, err := l402.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := currentToken(store)
	if err != nil || tok != nil {
		t.Fatalf("empty store: %v %v", tok, err)
	}
	// The store's tokens can only be made by the interceptor (their
	// macaroon is unexported): the certification runs read real ones.
}

func TestConfigFromEnv(t *testing.T) {
	good := map[string]string{
		"L402_URL":         "grpc://127.0.0.1:9/ops.L402/k1",
		"L402_STATE_DIR":   t.TempDir(),
		"LND_RPCSERVER":    "127.0.0.1:10009",
		"LND_TLSCERTPATH":  "/x/tls.cert",
		"LND_MACAROONPATH": "/x/admin.macaroon",
	}
	set := func(t *testing.T, over map[string]string) {
		for _, k := range []string{"L402_URL", "L402_STATE_DIR", "LND_RPCSERVER", "LND_TLSCERTPATH", "LND_MACAROONPATH",
			"L402_MAX_COST_SAT", "L402_TIMEOUT_SEC", "L402_BODY_FILE", "L402_IDEMPOTENCY_KEY", "LND_NETWORK"} {
			t.Setenv(k, "")
		}
		for k, v := range good {
			t.Setenv(k, v)
		}
		for k, v := range over {
			t.Setenv(k, v)
		}
	}
	set(t, nil)
	c, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.target != "127.0.0.1:9" || c.method != "/ops.L402/k1" || c.service != "ops.L402" || c.network != "regtest" {
		t.Fatalf("config %+v", c)
	}
	body := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(body, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	set(t, map[string]string{"L402_BODY_FILE": body, "L402_MAX_COST_SAT": "250", "L402_TIMEOUT_SEC": "1.5"})
	if c, err = configFromEnv(); err != nil || string(c.body) != "hello" || c.maxCost != 250 || c.timeout.Seconds() != 1.5 {
		t.Fatalf("config %+v %v", c, err)
	}
	for name, over := range map[string]map[string]string{
		"an http URL":        {"L402_URL": "http://127.0.0.1:9/data/x"},
		"no method":          {"L402_URL": "grpc://127.0.0.1:9/"},
		"no state dir":       {"L402_STATE_DIR": ""},
		"a negative cap":     {"L402_MAX_COST_SAT": "-1"},
		"a cap in words":     {"L402_MAX_COST_SAT": "ten"},
		"a zero timeout":     {"L402_TIMEOUT_SEC": "0"},
		"no lnd":             {"LND_RPCSERVER": ""},
		"a missing body":     {"L402_BODY_FILE": "/nonexistent/body"},
		"a service-less URL": {"L402_URL": "grpc://127.0.0.1:9/Method"},
	} {
		t.Run(name, func(t *testing.T) {
			set(t, over)
			if _, err := configFromEnv(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
