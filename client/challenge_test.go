package client

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/require"
	"gopkg.in/macaroon.v2"
)

// testMac builds a real L402 macaroon committing to hash.
func testMac(t testing.TB, hash lntypes.Hash, version macaroon.Version) []byte {
	t.Helper()
	var id bytes.Buffer
	require.NoError(t, l402.EncodeIdentifier(&id, &l402.Identifier{PaymentHash: hash, TokenID: l402.TokenID{1, 2, 3}}))
	mac, err := macaroon.New([]byte("root key"), id.Bytes(), "test", version)
	require.NoError(t, err)
	require.NoError(t, mac.AddFirstPartyCaveat([]byte("svc_valid_until=4102444800")))
	raw, err := mac.MarshalBinary()
	require.NoError(t, err)
	return raw
}

func testHash(s string) lntypes.Hash { return lntypes.Hash(sha256.Sum256([]byte(s))) }

func headerOf(values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add("WWW-Authenticate", v)
	}
	return h
}

func TestParseChallengesGenerations(t *testing.T) {
	hash := testHash("a")
	raw := testMac(t, hash, macaroon.V2)
	std := base64.StdEncoding.EncodeToString(raw)
	url := base64.URLEncoding.EncodeToString(raw)
	rawStd := base64.RawStdEncoding.EncodeToString(raw)
	rawURL := base64.RawURLEncoding.EncodeToString(raw)
	const inv = "lnbcrt10u1pjexample"

	cases := []struct {
		name   string
		values []string
		scheme string
		n      int
	}{
		{"current spec", []string{fmt.Sprintf(`L402 version="0", token="%s", invoice="%s"`, std, inv)}, SchemeL402, 1},
		{"legacy l402", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, std, inv)}, SchemeL402, 1},
		{"lsat", []string{fmt.Sprintf(`LSAT macaroon="%s", invoice="%s"`, std, inv)}, SchemeLSAT, 1},
		{"aperture two headers", []string{
			fmt.Sprintf(`LSAT macaroon="%s", invoice="%s"`, std, inv),
			fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, std, inv),
		}, SchemeL402, 2},
		{"lowercase scheme", []string{fmt.Sprintf(`l402 macaroon="%s", invoice="%s"`, std, inv)}, SchemeL402, 1},
		{"uppercase params", []string{fmt.Sprintf(`L402 MACAROON="%s", INVOICE="%s"`, std, inv)}, SchemeL402, 1},
		{"extra params", []string{fmt.Sprintf(`L402 realm="x", macaroon="%s", foo=bar, invoice="%s", baz="q\"uo\\ted"`, std, inv)}, SchemeL402, 1},
		{"unquoted values", []string{fmt.Sprintf(`L402 macaroon=%s, invoice=%s`, std, inv)}, SchemeL402, 1},
		{"url alphabet padded", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, url, inv)}, SchemeL402, 1},
		{"std unpadded", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, rawStd, inv)}, SchemeL402, 1},
		{"url unpadded", []string{fmt.Sprintf(`L402 token="%s", version=0, invoice="%s"`, rawURL, inv)}, SchemeL402, 1},
		{"escaped quotes in value", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="\l\n%s"`, std, inv[2:])}, SchemeL402, 1},
		{"comma separated with basic", []string{fmt.Sprintf(`Basic realm="x", L402 macaroon="%s", invoice="%s", Bearer`, std, inv)}, SchemeL402, 1},
		{"comma separated two", []string{fmt.Sprintf(`LSAT macaroon="%s", invoice="%s", L402 macaroon="%s", invoice="%s"`, std, inv, std, inv)}, SchemeL402, 2},
		{"bearer header first", []string{`Bearer realm="api", error="invalid_token"`, fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, std, inv)}, SchemeL402, 1},
		{"token68 scheme before", []string{fmt.Sprintf(`Negotiate YWJj==, L402 macaroon="%s", invoice="%s"`, std, inv)}, SchemeL402, 1},
		{"whitespace", []string{fmt.Sprintf("  L402\tmacaroon = \"%s\" ,\t invoice= \"%s\"  ,", std, inv)}, SchemeL402, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := ParseChallenges(headerOf(tc.values...))
			require.NoError(t, err)
			require.Len(t, cs, tc.n)
			c, ok := Preferred(cs)
			require.True(t, ok)
			require.Equal(t, tc.scheme, c.Scheme)
			require.Equal(t, hash, c.PaymentHash)
			require.Equal(t, inv, c.Invoice)
			require.NotNil(t, c.Macaroon)
			require.Equal(t, hash[:], c.Macaroon.Id()[2:34])
		})
	}
}

func TestParseChallengesRejects(t *testing.T) {
	hash := testHash("b")
	std := base64.StdEncoding.EncodeToString(testMac(t, hash, macaroon.V2))
	var shortID bytes.Buffer
	shortID.Write([]byte{0, 0})
	shortID.Write(hash[:])
	shortMac, err := macaroon.New([]byte("k"), shortID.Bytes(), "", macaroon.V2)
	require.NoError(t, err)
	shortRaw, err := shortMac.MarshalBinary()
	require.NoError(t, err)
	v1ID := append([]byte{0, 1}, make([]byte, 64)...)
	v1Mac, err := macaroon.New([]byte("k"), v1ID, "", macaroon.V2)
	require.NoError(t, err)
	v1Raw, err := v1Mac.MarshalBinary()
	require.NoError(t, err)

	cases := []struct {
		name   string
		values []string
		want   error
	}{
		{"no header", nil, ErrNoChallenge},
		{"other schemes only", []string{`Basic realm="x"`, `Bearer error="invalid_token"`}, ErrNoChallenge},
		{"missing invoice", []string{fmt.Sprintf(`L402 macaroon="%s"`, std)}, ErrMalformedChallenge},
		{"missing macaroon", []string{`L402 invoice="lnbc1"`}, ErrMalformedChallenge},
		{"bad base64", []string{`L402 macaroon="!!!", invoice="lnbc1"`}, ErrMalformedChallenge},
		{"not a macaroon", []string{`L402 macaroon="aGVsbG8=", invoice="lnbc1"`}, ErrMalformedChallenge},
		{"short identifier", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="lnbc1"`, base64.StdEncoding.EncodeToString(shortRaw))}, ErrMalformedChallenge},
		{"unknown identifier version", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="lnbc1"`, base64.StdEncoding.EncodeToString(v1Raw))}, ErrMalformedChallenge},
		{"unknown spec version", []string{fmt.Sprintf(`L402 version="1", token="%s", invoice="lnbc1"`, std)}, ErrMalformedChallenge},
		{"invoice with spaces", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="lnbc 1"`, std)}, ErrMalformedChallenge},
		{"unterminated quote", []string{fmt.Sprintf(`L402 macaroon="%s, invoice="lnbc1`, std)}, ErrMalformedChallenge},
		{"token68 form", []string{`L402 abcdef==`}, ErrMalformedChallenge},
		{"too large", []string{fmt.Sprintf(`L402 macaroon="%s", invoice="%s"`, std, strings.Repeat("x", MaxChallengeValue))}, ErrChallengeTooLarge},
		{"missing comma", []string{fmt.Sprintf(`L402 macaroon="%s" invoice="lnbc1"`, std)}, ErrMalformedChallenge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := ParseChallenges(headerOf(tc.values...))
			require.Empty(t, cs)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// A broken challenge does not hide a good one beside it.
func TestParseChallengesKeepsGoodOnes(t *testing.T) {
	hash := testHash("c")
	std := base64.StdEncoding.EncodeToString(testMac(t, hash, macaroon.V2))
	cs, err := ParseChallenges(headerOf(`L402 macaroon="%%%", invoice="x"`, fmt.Sprintf(`LSAT macaroon="%s", invoice="lnbc1"`, std)))
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, SchemeLSAT, cs[0].Scheme)
}

func TestSplitChallengesRFC7235(t *testing.T) {
	rcs, err := splitChallenges(`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Token abc/def+==`)
	require.NoError(t, err)
	require.Len(t, rcs, 3)
	require.Equal(t, "Newauth", rcs[0].scheme)
	require.Equal(t, map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}, rcs[0].params)
	require.Equal(t, "Basic", rcs[1].scheme)
	require.Equal(t, "simple", rcs[1].params["realm"])
	require.Equal(t, "abc/def+==", rcs[2].token68)
}

func TestDecodeBase64(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xfe, 0x01}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		got, err := decodeBase64(enc.EncodeToString(data))
		require.NoError(t, err)
		require.Equal(t, data, got)
	}
	_, err := decodeBase64("ab cd")
	require.Error(t, err)
	_, err = decodeBase64("a")
	require.Error(t, err)
}

func TestCredentialHeader(t *testing.T) {
	pre := lntypes.Preimage{9, 8, 7}
	raw := []byte("mac bytes")
	c := Credential{Macaroon: raw, Preimage: pre}
	want := "L402 " + base64.StdEncoding.EncodeToString(raw) + ":" + hex.EncodeToString(pre[:])
	require.Equal(t, want, c.Header())
	c.Scheme = "lsat"
	require.True(t, strings.HasPrefix(c.Header(), "LSAT "))
	// String never shows the secrets.
	require.NotContains(t, c.String(), hex.EncodeToString(pre[:]))
	require.NotContains(t, c.String(), base64.StdEncoding.EncodeToString(raw))

	// Aperture's own parser accepts what we send.
	hash := testHash("d")
	macRaw := testMac(t, hash, macaroon.V2)
	h := http.Header{}
	h.Set("Authorization", Credential{Macaroon: macRaw, Preimage: pre}.Header())
	mac, gotPre, err := l402.FromHeader(&h)
	require.NoError(t, err)
	require.Equal(t, pre, gotPre)
	require.Equal(t, hash[:], mac.Id()[2:34])
}

func TestParseChallengesCapsValues(t *testing.T) {
	hash := testHash("e")
	std := base64.StdEncoding.EncodeToString(testMac(t, hash, macaroon.V2))
	var vals []string
	for i := 0; i < maxChallengeValues; i++ {
		vals = append(vals, "Basic")
	}
	vals = append(vals, fmt.Sprintf(`L402 macaroon="%s", invoice="lnbc1"`, std))
	_, err := ParseChallenges(headerOf(vals...))
	require.True(t, errors.Is(err, ErrNoChallenge), "values past the cap are not read: %v", err)
}
