package certify

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
)

// Dialect names.
const (
	DialectL402        = "l402"
	DialectLegacy      = "l402-legacy"
	DialectLSAT        = "lsat"
	DialectAperture    = "aperture"
	DialectCase        = "case"
	DialectExtraParams = "extra-params"
	Dialect401         = "401"
	DialectGRPC        = "grpc"
)

// Dialect is one way a correct L402 server speaks: how it writes its
// challenges and how it refuses a credential. Certification runs the
// whole catalogue in the current dialect (l402) and the dialect
// scenarios (a purchase and a token reused; a token revoked and bought
// again) in every other.
type Dialect struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Header is how the provider writes its challenges.
	Header fakeprovider.HeaderStyle `json:"header"`
	// InvalidCredential is the status for a credential that does not
	// verify: 402 with a fresh challenge, or 401.
	InvalidCredential int `json:"invalid_credential"`
	// Transport is how the client buys in this dialect: "" (HTTP) or
	// "grpc" (the provider's gRPC face).
	Transport string `json:"transport,omitempty"`
}

// Dialects lists the dialects, the current one first.
func Dialects() []Dialect {
	return []Dialect{
		{Name: DialectL402, Title: `L402 version="0", token=, invoice=`, Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenL402}, InvalidCredential: 402},
		{Name: DialectLegacy, Title: "L402 macaroon=, invoice=", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenL402Legacy}, InvalidCredential: 402},
		{Name: DialectLSAT, Title: "LSAT macaroon=, invoice=", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenLSAT}, InvalidCredential: 402},
		{Name: DialectAperture, Title: "two challenges, LSAT then L402 (as Aperture sends)", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenAperture}, InvalidCredential: 402},
		{Name: DialectCase, Title: "l402 in lower case, parameter names in capitals", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenL402, LowerScheme: true, UpperParams: true}, InvalidCredential: 402},
		{Name: DialectExtraParams, Title: "unknown parameters before and after the known ones", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenL402, ExtraParams: true}, InvalidCredential: 402},
		{Name: Dialect401, Title: "a credential that does not verify is answered 401", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenL402}, InvalidCredential: 401},
		// Aperture is the gRPC L402 server (Loop's and Pool's): its
		// challenges are the ones gRPC clients meet.
		{Name: DialectGRPC, Title: "gRPC as Aperture speaks it: status Internal \"payment required\", the LSAT and L402 challenges in the WWW-Authenticate trailer", Header: fakeprovider.HeaderStyle{Generation: fakeprovider.GenAperture}, InvalidCredential: 402, Transport: harness.TransportGRPC},
	}
}

// DialectNames lists the dialects' names, in Dialects' order.
func DialectNames() []string {
	var out []string
	for _, d := range Dialects() {
		out = append(out, d.Name)
	}
	return out
}

// DialectByName returns the named dialect.
func DialectByName(name string) (Dialect, error) {
	for _, d := range Dialects() {
		if d.Name == name {
			return d, nil
		}
	}
	return Dialect{}, fmt.Errorf("%w: unknown dialect %q (want one of %s)", ErrUsage, name, strings.Join(DialectNames(), ", "))
}

// applyTraffic makes a scenario's purchases in the dialect's transport.
func (d Dialect) applyTraffic(ts []harness.Traffic) []harness.Traffic {
	if d.Transport == "" {
		return ts
	}
	out := make([]harness.Traffic, len(ts))
	for i, t := range ts {
		t.Transport = d.Transport
		if t.Method == http.MethodGet {
			t.Method = "" // a gRPC call is one method: the service's own
		}
		out[i] = t
	}
	return out
}

// apply puts the dialect on a scenario's network.
func (d Dialect) apply(n harness.Network) harness.Network {
	n.Header = &harness.Header{
		Generation: string(d.Header.Generation), LowerScheme: d.Header.LowerScheme, UpperParams: d.Header.UpperParams, ExtraParams: d.Header.ExtraParams,
	}
	n.InvalidCredential = d.InvalidCredential
	n.Transport = d.Transport
	return n
}
