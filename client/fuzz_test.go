package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
	"gopkg.in/macaroon.v2"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the FuzzParseChallenges seed corpus in testdata")

// fuzzHeader turns one fuzz input into headers: one WWW-Authenticate
// value per line, so a single string covers several headers.
func fuzzHeader(in string) http.Header {
	h := http.Header{}
	for _, v := range strings.Split(in, "\n") {
		h.Add("WWW-Authenticate", v)
	}
	return h
}

// seedCorpus is every challenge generation servers send, and the broken
// shapes the parser must survive. Keys are the corpus file names.
func seedCorpus(t testing.TB) map[string]string {
	raw := testMac(t, testHash("seed"), macaroon.V2)
	std := base64.StdEncoding.EncodeToString(raw)
	rawURL := base64.RawURLEncoding.EncodeToString(raw)
	inv := "lnbcrt500n1pjseedinvoice0example"
	legacy := fmt.Sprintf(`macaroon="%s", invoice="%s"`, std, inv)
	return map[string]string{
		"l402-current":       fmt.Sprintf(`L402 version="0", token="%s", invoice="%s"`, std, inv),
		"l402-legacy":        "L402 " + legacy,
		"lsat":               "LSAT " + legacy,
		"aperture-two":       "LSAT " + legacy + "\nL402 " + legacy,
		"lowercase-scheme":   "l402 " + legacy,
		"uppercase-params":   fmt.Sprintf(`L402 MACAROON="%s", INVOICE="%s"`, std, inv),
		"extra-params":       fmt.Sprintf(`L402 realm="x", macaroon="%s", foo=bar, invoice="%s", note="a\"b\\c"`, std, inv),
		"unquoted":           fmt.Sprintf(`L402 macaroon=%s, invoice=%s`, std, inv),
		"url-unpadded":       fmt.Sprintf(`L402 version=0, token="%s", invoice="%s"`, rawURL, inv),
		"comma-separated":    fmt.Sprintf(`Basic realm="r", LSAT %s, L402 %s, Bearer`, legacy, legacy),
		"other-schemes":      `Basic realm="simple"` + "\n" + `Bearer realm="api", error="invalid_token"` + "\nNegotiate YWJj==",
		"unterminated-quote": fmt.Sprintf(`L402 macaroon="%s, invoice="%s`, std, inv),
		"bad-base64":         fmt.Sprintf(`L402 macaroon="%s!", invoice="%s"`, std[:20], inv),
		"missing-invoice":    fmt.Sprintf(`L402 macaroon="%s"`, std),
		"unknown-version":    fmt.Sprintf(`L402 version="7", token="%s", invoice="%s"`, std, inv),
		"empty":              "",
		"dangling-escape":    `L402 macaroon="abc\`,
	}
}

func corpusFile(in string) string {
	return fmt.Sprintf("go test fuzz v1\nstring(%q)\n", in)
}

// TestFuzzSeedCorpus keeps testdata in step with seedCorpus; run with
// -update-corpus to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseChallenges")
	seeds := seedCorpus(t)
	if *updateCorpus {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		for name, in := range seeds {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(corpusFile(in)), 0o644))
		}
	}
	for name, in := range seeds {
		b, err := os.ReadFile(filepath.Join(dir, "seed-"+name))
		require.NoError(t, err, "run go test -run TestFuzzSeedCorpus -update-corpus ./client/")
		require.Equal(t, corpusFile(in), string(b), name)
	}
	// Every generation parses to a challenge.
	for _, name := range []string{"l402-current", "l402-legacy", "lsat", "aperture-two", "lowercase-scheme", "uppercase-params", "extra-params", "unquoted", "url-unpadded", "comma-separated"} {
		cs, err := ParseChallenges(fuzzHeader(seeds[name]))
		require.NoError(t, err, name)
		require.NotEmpty(t, cs, name)
	}
}

// FuzzParseChallenges: any input, no panic, and whatever comes back is
// consistent: a challenge's hash is the one its macaroon commits to.
func FuzzParseChallenges(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		cs, err := ParseChallenges(fuzzHeader(in))
		if err != nil {
			if len(cs) != 0 {
				t.Fatalf("challenges and an error: %v", err)
			}
			if !errors.Is(err, ErrNoChallenge) && !errors.Is(err, ErrMalformedChallenge) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if len(cs) == 0 {
			t.Fatal("no challenges and no error")
		}
		for _, c := range cs {
			if c.Scheme != SchemeL402 && c.Scheme != SchemeLSAT {
				t.Fatalf("scheme %q", c.Scheme)
			}
			if c.Macaroon == nil || !bytes.Equal(c.Macaroon.Id()[2:34], c.PaymentHash[:]) {
				t.Fatal("payment hash is not the macaroon's")
			}
			if c.Invoice == "" || checkInvoiceSyntax(c.Invoice) != nil {
				t.Fatalf("invoice %q", c.Invoice)
			}
			var again macaroon.Macaroon
			if err := again.UnmarshalBinary(c.MacaroonRaw); err != nil || !bytes.Equal(again.Id(), c.Macaroon.Id()) {
				t.Fatal("raw macaroon does not round-trip")
			}
			h := http.Header{}
			h.Set("Authorization", Credential{Scheme: c.Scheme, Macaroon: c.MacaroonRaw}.Header())
			if _, _, err := l402.FromHeader(&h); err != nil {
				t.Fatalf("aperture rejects the credential we would send: %v", err)
			}
		}
	})
}

// FuzzChallengeRoundTrip builds a valid challenge in a fuzzed
// generation, alphabet, case and quoting, and checks it parses back to
// the same macaroon, hash and invoice.
func FuzzChallengeRoundTrip(f *testing.F) {
	f.Add([]byte("seed"), "lnbcrt1pjexample", uint8(0), true, "svc_valid_until=1700000000")
	f.Add([]byte{0}, "LNBC1", uint8(7), false, "")
	f.Add([]byte("x"), "lntb1", uint8(23), true, "a=b")
	f.Fuzz(func(t *testing.T, seed []byte, invoice string, variant uint8, quote bool, caveat string) {
		if invoice == "" || checkInvoiceSyntax(invoice) != nil {
			t.Skip()
		}
		hash := lntypes.Hash(sha256.Sum256(seed))
		var id bytes.Buffer
		if err := l402.EncodeIdentifier(&id, &l402.Identifier{PaymentHash: hash}); err != nil {
			t.Fatal(err)
		}
		mac, err := macaroon.New([]byte("root"), id.Bytes(), "loc", macaroon.V2)
		if err != nil {
			t.Fatal(err)
		}
		if caveat != "" {
			if err := mac.AddFirstPartyCaveat([]byte(caveat)); err != nil {
				t.Skip()
			}
		}
		raw, err := mac.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		encs := []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding}
		mac64 := encs[variant%4].EncodeToString(raw)
		val := func(s string) string {
			if quote {
				return `"` + s + `"`
			}
			return s
		}
		macParam, invParam, scheme := "macaroon", "invoice", "L402"
		var extra string
		switch (variant / 4) % 3 {
		case 0:
			macParam, extra = "token", `version="0", `
		case 2:
			scheme = "LSAT"
		}
		if (variant/12)%2 == 1 {
			scheme, macParam, invParam = strings.ToLower(scheme), strings.ToUpper(macParam), strings.ToUpper(invParam)
		}
		v := fmt.Sprintf("%s %s%s=%s, %s=%s", scheme, extra, macParam, val(mac64), invParam, val(invoice))
		cs, err := ParseChallenges(fuzzHeader(v))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(cs) != 1 || cs[0].PaymentHash != hash || cs[0].Invoice != invoice || !bytes.Equal(cs[0].MacaroonRaw, raw) {
			t.Fatalf("%s: got %+v", v, cs)
		}
	})
}
