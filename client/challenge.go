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

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"gopkg.in/macaroon.v2"
)

// Limits on what a server may send us. A challenge is a few hundred bytes
// to a few KiB; anything larger is hostile or broken.
const (
	// MaxChallengeValue is the largest WWW-Authenticate value parsed.
	MaxChallengeValue = 16 << 10
	// maxChallengeValues is how many WWW-Authenticate values are read.
	maxChallengeValues = 32
	// maxParams is how many parameters one challenge may carry.
	maxParams = 32
	// maxInvoice bounds a BOLT11 string (the spec's practical limit is
	// a few KiB; lnd caps at 7089 characters).
	maxInvoice = 7089
)

var (
	// ErrNoChallenge: the response carries no L402 or LSAT challenge.
	ErrNoChallenge = errors.New("no l402 challenge")
	// ErrMalformedChallenge: an L402 or LSAT challenge is present but
	// cannot be used; the wrapping error says why.
	ErrMalformedChallenge = errors.New("malformed l402 challenge")
	// ErrChallengeTooLarge: a WWW-Authenticate value is over
	// MaxChallengeValue.
	ErrChallengeTooLarge = errors.New("challenge too large")
)

// Schemes this package understands, in order of preference.
const (
	SchemeL402 = "L402"
	SchemeLSAT = "LSAT"
)

// Challenge is one usable L402 (or legacy LSAT) challenge: a macaroon that
// commits to a payment hash and the invoice to pay for it.
type Challenge struct {
	Scheme      string // SchemeL402 or SchemeLSAT, whatever case the server used
	Version     string // the version parameter, "" when absent (legacy)
	Macaroon    *macaroon.Macaroon
	MacaroonRaw []byte
	Invoice     string
	PaymentHash lntypes.Hash // from the macaroon identifier
}

// ParseChallenges reads every WWW-Authenticate value in h and returns the
// usable L402 and LSAT challenges in the order the server sent them. Other
// schemes are skipped. With no usable challenge it returns ErrNoChallenge,
// or ErrMalformedChallenge (wrapped with the first reason) when an L402 or
// LSAT challenge was present but unusable.
func ParseChallenges(h http.Header) ([]Challenge, error) {
	var (
		out   []Challenge
		first error
	)
	note := func(err error) {
		if first == nil {
			first = err
		}
	}
	values := h.Values("WWW-Authenticate")
	if len(values) > maxChallengeValues {
		values = values[:maxChallengeValues]
	}
	for _, v := range values {
		if len(v) > MaxChallengeValue {
			note(fmt.Errorf("%w: %w: %d bytes", ErrMalformedChallenge, ErrChallengeTooLarge, len(v)))
			continue
		}
		raws, err := splitChallenges(v)
		for _, r := range raws {
			if !strings.EqualFold(r.scheme, SchemeL402) && !strings.EqualFold(r.scheme, SchemeLSAT) {
				continue
			}
			c, err := r.challenge()
			if err != nil {
				note(fmt.Errorf("%w: %s: %w", ErrMalformedChallenge, r.scheme, err))
				continue
			}
			out = append(out, c)
		}
		if err != nil {
			note(fmt.Errorf("%w: %w", ErrMalformedChallenge, err))
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if first != nil {
		return nil, first
	}
	return nil, ErrNoChallenge
}

// Preferred picks the challenge to pay: the first L402 one, else the first
// LSAT one.
func Preferred(cs []Challenge) (Challenge, bool) {
	for _, c := range cs {
		if strings.EqualFold(c.Scheme, SchemeL402) {
			return c, true
		}
	}
	if len(cs) > 0 {
		return cs[0], true
	}
	return Challenge{}, false
}

// rawChallenge is one auth-scheme with its parameters, not yet validated.
type rawChallenge struct {
	scheme  string
	token68 string
	params  map[string]string // names lowercased; the first occurrence wins
}

func (r rawChallenge) challenge() (Challenge, error) {
	if r.token68 != "" {
		return Challenge{}, errors.New("token68 form is not an l402 challenge")
	}
	version, hasVersion := r.params["version"]
	if hasVersion && version != "0" {
		return Challenge{}, fmt.Errorf("unsupported version %.16q", version)
	}
	mac64, ok := r.params["token"]
	if !ok {
		mac64, ok = r.params["macaroon"]
	}
	if !ok || mac64 == "" {
		return Challenge{}, errors.New("no token or macaroon parameter")
	}
	inv, ok := r.params["invoice"]
	if !ok || inv == "" {
		return Challenge{}, errors.New("no invoice parameter")
	}
	if err := checkInvoiceSyntax(inv); err != nil {
		return Challenge{}, err
	}
	raw, err := decodeBase64(mac64)
	if err != nil {
		return Challenge{}, fmt.Errorf("macaroon: %w", err)
	}
	mac, hash, err := decodeMacaroon(raw)
	if err != nil {
		return Challenge{}, err
	}
	scheme := SchemeL402
	if strings.EqualFold(r.scheme, SchemeLSAT) {
		scheme = SchemeLSAT
	}
	return Challenge{
		Scheme:      scheme,
		Version:     version,
		Macaroon:    mac,
		MacaroonRaw: raw,
		Invoice:     inv,
		PaymentHash: hash,
	}, nil
}

// decodeMacaroon unmarshals a binary macaroon (v1 or v2) and reads the
// payment hash its L402 identifier commits to.
func decodeMacaroon(raw []byte) (*macaroon.Macaroon, lntypes.Hash, error) {
	var mac macaroon.Macaroon
	if err := mac.UnmarshalBinary(raw); err != nil {
		return nil, lntypes.Hash{}, fmt.Errorf("macaroon: %w", err)
	}
	id := mac.Id()
	// Version 0 is uint16 version, 32-byte payment hash, 32-byte token
	// id. aperture's decoder does not check short reads, so we do.
	if len(id) != 2+lntypes.HashSize+l402.TokenIDSize {
		return nil, lntypes.Hash{}, fmt.Errorf("macaroon identifier: %d bytes, want %d",
			len(id), 2+lntypes.HashSize+l402.TokenIDSize)
	}
	ident, err := l402.DecodeIdentifier(bytes.NewReader(id))
	if err != nil {
		return nil, lntypes.Hash{}, fmt.Errorf("macaroon identifier: %w", err)
	}
	return &mac, ident.PaymentHash, nil
}

// decodeBase64 accepts the standard and URL alphabets, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '+'
		case c == '_':
			b[i] = '/'
		case c == '+', c == '/', c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		default:
			return nil, fmt.Errorf("base64: invalid character at offset %d", i)
		}
	}
	out, err := base64.RawStdEncoding.DecodeString(string(b))
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	return out, nil
}

// checkInvoiceSyntax rejects what cannot be a BOLT11 string. The payer
// decodes it for real before anything is paid.
func checkInvoiceSyntax(s string) error {
	if len(s) > maxInvoice {
		return fmt.Errorf("invoice: %d characters", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return fmt.Errorf("invoice: invalid character at offset %d", i)
		}
	}
	return nil
}

// splitChallenges parses one WWW-Authenticate value into its challenges
// (RFC 7235 section 4.1): comma-separated, each an auth-scheme followed
// by either a token68 or comma-separated auth-params whose values are
// tokens or quoted-strings. It returns what it parsed before any error.
func splitChallenges(s string) ([]rawChallenge, error) {
	p := &parser{s: s}
	var out []rawChallenge
	for {
		p.skipListSeparators()
		if p.eof() {
			return out, nil
		}
		scheme := p.token()
		if scheme == "" {
			return out, fmt.Errorf("offset %d: expected auth-scheme", p.i)
		}
		rc := rawChallenge{scheme: scheme, params: map[string]string{}}
		if p.sp() {
			if t68, ok := p.tryToken68(); ok {
				rc.token68 = t68
				out = append(out, rc)
				continue
			}
			// params stops at the end or before the next scheme,
			// having consumed the comma between them.
			if err := p.params(&rc); err != nil {
				return out, fmt.Errorf("%.32s: %w", scheme, err)
			}
		} else if !p.eof() && p.s[p.i] != ',' {
			return out, fmt.Errorf("offset %d: expected ','", p.i)
		}
		out = append(out, rc)
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

// ows skips optional whitespace.
func (p *parser) ows() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// sp skips whitespace and reports whether there was any.
func (p *parser) sp() bool {
	start := p.i
	p.ows()
	return p.i > start
}

// skipListSeparators skips whitespace and empty list elements.
func (p *parser) skipListSeparators() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

func isTchar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *parser) token() string {
	start := p.i
	for p.i < len(p.s) && isTchar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// bare reads an unquoted parameter value: a token, tolerating the '/' and
// '=' of unquoted base64 that some servers send.
func (p *parser) bare() string {
	start := p.i
	for p.i < len(p.s) && (isTchar(p.s[p.i]) || p.s[p.i] == '/' || p.s[p.i] == '=') {
		p.i++
	}
	return p.s[start:p.i]
}

// tryToken68 consumes a token68 if one stands alone before the end or the
// next comma; otherwise it consumes nothing.
func (p *parser) tryToken68() (string, bool) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			strings.IndexByte("-._~+/", c) >= 0 {
			p.i++
			continue
		}
		break
	}
	body := p.i
	for p.i < len(p.s) && p.s[p.i] == '=' {
		p.i++
	}
	end := p.i
	p.ows()
	if body > start && (p.eof() || p.s[p.i] == ',') {
		return p.s[start:end], true
	}
	p.i = start
	return "", false
}

// params reads auth-params until the end, or until a token that is not
// followed by '=' (the next challenge's scheme), which is left unread.
func (p *parser) params(rc *rawChallenge) error {
	n := 0
	for {
		p.skipListSeparators()
		if p.eof() {
			return nil
		}
		mark := p.i
		name := p.token()
		if name == "" {
			return fmt.Errorf("offset %d: expected parameter name", p.i)
		}
		p.ows()
		if p.eof() || p.s[p.i] != '=' {
			// A new challenge starts here.
			p.i = mark
			return nil
		}
		p.i++ // '='
		p.ows()
		var (
			val string
			err error
		)
		if !p.eof() && p.s[p.i] == '"' {
			val, err = p.quoted()
			if err != nil {
				return err
			}
		} else {
			val = p.bare()
		}
		n++
		if n > maxParams {
			return fmt.Errorf("more than %d parameters", maxParams)
		}
		key := strings.ToLower(name)
		if _, dup := rc.params[key]; !dup {
			rc.params[key] = val
		}
		p.ows()
		if p.eof() {
			return nil
		}
		if p.s[p.i] != ',' {
			return fmt.Errorf("offset %d: expected ',' after parameter %.32s", p.i, name)
		}
	}
}

// quoted reads a quoted-string, undoing backslash escapes.
func (p *parser) quoted() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("offset %d: unterminated escape", p.i)
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("offset %d: unterminated quoted-string", start)
}

// Credential is what proves payment: the macaroon and the preimage of the
// payment hash it commits to.
type Credential struct {
	Scheme   string // SchemeL402 (default) or SchemeLSAT
	Macaroon []byte // binary macaroon
	Preimage lntypes.Preimage
}

// Header is the Authorization value: "L402 <base64 macaroon>:<hex preimage>".
func (c Credential) Header() string {
	scheme := SchemeL402
	if strings.EqualFold(c.Scheme, SchemeLSAT) {
		scheme = SchemeLSAT
	}
	return scheme + " " + base64.StdEncoding.EncodeToString(c.Macaroon) + ":" + hex.EncodeToString(c.Preimage[:])
}

// String identifies the credential by short hashes only: it is safe to
// log.
func (c Credential) String() string {
	return fmt.Sprintf("credential(mac %s, hash %s)", macID(c.Macaroon), short(c.Preimage.Hash()))
}

// macID is a short fingerprint of a macaroon, safe to log.
func macID(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:4])
}

// short is a payment hash prefix, safe to log.
func short(h lntypes.Hash) string { return hex.EncodeToString(h[:4]) }
