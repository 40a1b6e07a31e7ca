package fakeprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"gopkg.in/macaroon.v2"
)

// Generation names a dialect of the WWW-Authenticate challenge. Clients in
// the wild disagree on which they read, so a profile picks one.
type Generation string

// The generations a provider can speak.
const (
	// GenL402 is the current specification:
	//   L402 version="0", token="<base64>", invoice="<bolt11>"
	GenL402 Generation = "l402"
	// GenL402Legacy is the first L402 form:
	//   L402 macaroon="<base64>", invoice="<bolt11>"
	GenL402Legacy Generation = "l402-legacy"
	// GenLSAT is the form before the rename:
	//   LSAT macaroon="<base64>", invoice="<bolt11>"
	GenLSAT Generation = "lsat"
	// GenAperture sends two headers, the LSAT form then the legacy L402
	// form, as Aperture does.
	GenAperture Generation = "aperture"
)

// Generations lists every generation, in a stable order.
func Generations() []Generation {
	return []Generation{GenL402, GenL402Legacy, GenLSAT, GenAperture}
}

// HeaderStyle is how a provider writes its challenges.
type HeaderStyle struct {
	Generation Generation `json:"generation"`
	// LowerScheme writes "l402"/"lsat": schemes are case-insensitive.
	LowerScheme bool `json:"lower_scheme,omitempty"`
	// UpperParams writes parameter names in capitals (TOKEN=, INVOICE=).
	UpperParams bool `json:"upper_params,omitempty"`
	// ExtraParams adds parameters no client should depend on, before and
	// after the known ones.
	ExtraParams bool `json:"extra_params,omitempty"`
}

// Validate reports an unknown generation.
func (s HeaderStyle) Validate() error {
	switch s.Generation {
	case GenL402, GenL402Legacy, GenLSAT, GenAperture:
		return nil
	}
	return fmt.Errorf("%w: unknown header generation %q (want one of %v)", ErrInvalidConfig, s.Generation, Generations())
}

// Challenges renders the WWW-Authenticate values, in the order they must
// be sent, for a macaroon and its invoice.
func (s HeaderStyle) Challenges(mac *macaroon.Macaroon, invoice string) ([]string, error) {
	raw, err := mac.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode macaroon: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	switch s.Generation {
	case GenL402:
		return []string{s.render("L402", [][2]string{{"version", "0"}, {"token", b64}, {"invoice", invoice}})}, nil
	case GenL402Legacy:
		return []string{s.render("L402", [][2]string{{"macaroon", b64}, {"invoice", invoice}})}, nil
	case GenLSAT:
		return []string{s.render("LSAT", [][2]string{{"macaroon", b64}, {"invoice", invoice}})}, nil
	case GenAperture:
		params := [][2]string{{"macaroon", b64}, {"invoice", invoice}}
		return []string{s.render("LSAT", params), s.render("L402", params)}, nil
	}
	return nil, s.Validate()
}

func (s HeaderStyle) render(scheme string, params [][2]string) string {
	if s.LowerScheme {
		scheme = strings.ToLower(scheme)
	}
	if s.ExtraParams {
		params = append([][2]string{{"realm", "l402chaos"}}, params...)
		params = append(params, [2]string{"x-l402chaos", "ignore me"})
	}
	var b strings.Builder
	b.WriteString(scheme)
	for i, p := range params {
		if i > 0 {
			b.WriteByte(',')
		}
		name := p[0]
		if s.UpperParams {
			name = strings.ToUpper(name)
		}
		fmt.Fprintf(&b, " %s=%q", name, p[1])
	}
	return b.String()
}

// Limits on what the provider reads from a client.
const (
	// MaxAuthorization bounds one Authorization value; a macaroon with a
	// few caveats is under 1 KiB.
	MaxAuthorization = 8 << 10
	// MaxAuthorizationValues bounds how many Authorization headers are read.
	MaxAuthorizationValues = 8
)

// Credential is a parsed L402 credential: the macaroon the provider minted
// and the preimage that proves payment.
type Credential struct {
	Scheme   string // "L402" or "LSAT", as the client wrote it
	Macaroon *macaroon.Macaroon
	Preimage lntypes.Preimage
	ID       *l402.Identifier // decoded from the macaroon's identifier
}

// ParseAuthorization reads the L402 credential out of Authorization header
// values ("L402 <base64 macaroon>:<hex preimage>", or "LSAT ..."). Values
// with other schemes are skipped; the first L402/LSAT value decides. It
// returns ErrNoCredential when there is none, and an error wrapping
// ErrMalformedCredential when the value cannot be decoded.
func ParseAuthorization(values []string) (*Credential, error) {
	if len(values) > MaxAuthorizationValues {
		return nil, fmt.Errorf("%w: %d Authorization headers (at most %d)", ErrMalformedCredential, len(values), MaxAuthorizationValues)
	}
	for _, v := range values {
		if len(v) > MaxAuthorization {
			return nil, fmt.Errorf("%w: Authorization of %d bytes (at most %d)", ErrMalformedCredential, len(v), MaxAuthorization)
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch {
		case strings.EqualFold(scheme, "L402"), strings.EqualFold(scheme, "LSAT"):
		default:
			continue
		}
		cred, err := parseToken(strings.TrimSpace(rest))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformedCredential, strings.ToUpper(scheme), err)
		}
		cred.Scheme = strings.ToUpper(scheme)
		return cred, nil
	}
	return nil, ErrNoCredential
}

// parseToken decodes "<base64 macaroon>:<hex preimage>".
func parseToken(s string) (*Credential, error) {
	macPart, prePart, ok := strings.Cut(s, ":")
	if !ok {
		return nil, errors.New(`want "<base64 macaroon>:<hex preimage>"`)
	}
	raw, err := decodeBase64(macPart)
	if err != nil {
		return nil, fmt.Errorf("macaroon: %w", err)
	}
	mac, id, err := decodeMacaroon(raw)
	if err != nil {
		return nil, err
	}
	pre, err := decodePreimage(prePart)
	if err != nil {
		return nil, err
	}
	return &Credential{Macaroon: mac, Preimage: pre, ID: id}, nil
}

// decodeBase64 accepts the standard and URL alphabets, padded or not:
// clients differ.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodeMacaroon(raw []byte) (*macaroon.Macaroon, *l402.Identifier, error) {
	mac := &macaroon.Macaroon{}
	if err := mac.UnmarshalBinary(raw); err != nil {
		return nil, nil, fmt.Errorf("macaroon: %w", err)
	}
	id, err := l402.DecodeIdentifier(bytes.NewReader(mac.Id()))
	if err != nil {
		return nil, nil, fmt.Errorf("macaroon identifier: %w", err)
	}
	return mac, id, nil
}

func decodePreimage(s string) (lntypes.Preimage, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*lntypes.PreimageSize {
		return lntypes.Preimage{}, fmt.Errorf("preimage: %d hex characters, want %d", len(s), 2*lntypes.PreimageSize)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return lntypes.Preimage{}, fmt.Errorf("preimage: %w", err)
	}
	return lntypes.MakePreimage(b)
}

// AuthorizationValue renders a credential the way the current
// specification asks clients to send it: "L402 <base64>:<hex>".
func AuthorizationValue(mac *macaroon.Macaroon, preimage lntypes.Preimage) (string, error) {
	raw, err := mac.MarshalBinary()
	if err != nil {
		return "", err
	}
	return "L402 " + base64.StdEncoding.EncodeToString(raw) + ":" + preimage.String(), nil
}
