package clienttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lntypes"
	"gopkg.in/macaroon.v2"
)

// Format is a generation of the WWW-Authenticate challenge.
type Format uint8

const (
	// FormatL402 is the current spec: L402 version="0", token=, invoice=.
	FormatL402 Format = iota
	// FormatL402Legacy is L402 macaroon=, invoice=.
	FormatL402Legacy
	// FormatLSAT is LSAT macaroon=, invoice=.
	FormatLSAT
	// FormatAperture is what aperture sends: an LSAT header, then an L402
	// legacy header, with the same macaroon.
	FormatAperture
)

// Minted is one challenge's material.
type Minted struct {
	Macaroon *macaroon.Macaroon
	Raw      []byte
	Invoice  string
	Hash     lntypes.Hash
	Preimage lntypes.Preimage
}

// Issuer mints real L402 macaroons (aperture's version 0 identifier,
// signed with a root key) over fake invoices from a Payer, and checks
// the credentials clients send back.
type Issuer struct {
	payer   *Payer
	clock   interface{ Now() time.Time }
	rootKey []byte

	mu      sync.Mutex
	n       uint64
	format  Format
	expiry  time.Duration
	caveats []string
	revoked map[lntypes.Hash]bool
}

// NewIssuer mints for payer's invoice table, reading time from clock.
func NewIssuer(payer *Payer, clock interface{ Now() time.Time }) *Issuer {
	key := sha256.Sum256([]byte("clienttest root key"))
	return &Issuer{payer: payer, clock: clock, rootKey: key[:], expiry: time.Hour, revoked: map[lntypes.Hash]bool{}}
}

// SetFormat chooses the challenge generation Challenge writes.
func (i *Issuer) SetFormat(f Format) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.format = f
}

// SetInvoiceExpiry sets how long minted invoices live. Default 1h.
func (i *Issuer) SetInvoiceExpiry(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.expiry = d
}

// SetCaveats sets the first-party caveats ("cond=value") of every
// macaroon minted from now on. Verify understands "*_valid_until=<unix>"
// only.
func (i *Issuer) SetCaveats(cs ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.caveats = append([]string(nil), cs...)
}

// Revoke makes Verify reject credentials for hash from now on.
func (i *Issuer) Revoke(hash lntypes.Hash) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked[hash] = true
}

// Mint makes an invoice for amountMsat and a macaroon committing to it.
func (i *Issuer) Mint(amountMsat int64) (Minted, error) {
	i.mu.Lock()
	expiry := i.expiry
	i.mu.Unlock()
	bolt11, hash, pre := i.payer.AddInvoice(amountMsat, i.clock.Now().Add(expiry))
	return i.MintFor(bolt11, hash, pre)
}

// MintFor makes a macaroon committing to hash over bolt11, which may be
// any invoice in the Payer's table (or none, to test refusals).
func (i *Issuer) MintFor(bolt11 string, hash lntypes.Hash, pre lntypes.Preimage) (Minted, error) {
	i.mu.Lock()
	i.n++
	n, caveats := i.n, append([]string(nil), i.caveats...)
	i.mu.Unlock()
	var tid l402.TokenID
	binary.BigEndian.PutUint64(tid[:], n)
	var id bytes.Buffer
	if err := l402.EncodeIdentifier(&id, &l402.Identifier{Version: 0, PaymentHash: hash, TokenID: tid}); err != nil {
		return Minted{}, err
	}
	mac, err := macaroon.New(i.rootKey, id.Bytes(), "clienttest", macaroon.LatestVersion)
	if err != nil {
		return Minted{}, err
	}
	for _, c := range caveats {
		if err := mac.AddFirstPartyCaveat([]byte(c)); err != nil {
			return Minted{}, err
		}
	}
	raw, err := mac.MarshalBinary()
	if err != nil {
		return Minted{}, err
	}
	return Minted{Macaroon: mac, Raw: raw, Invoice: bolt11, Hash: hash, Preimage: pre}, nil
}

// Headers are the WWW-Authenticate values for m in format f.
func Headers(m Minted, f Format) []string {
	mac := base64.StdEncoding.EncodeToString(m.Raw)
	legacy := fmt.Sprintf("macaroon=%q, invoice=%q", mac, m.Invoice)
	switch f {
	case FormatL402Legacy:
		return []string{"L402 " + legacy}
	case FormatLSAT:
		return []string{"LSAT " + legacy}
	case FormatAperture:
		return []string{"LSAT " + legacy, "L402 " + legacy}
	default:
		return []string{fmt.Sprintf("L402 version=\"0\", token=%q, invoice=%q", mac, m.Invoice)}
	}
}

// Challenge mints for amountMsat and writes a 402 with the challenge.
func (i *Issuer) Challenge(w http.ResponseWriter, amountMsat int64) (Minted, error) {
	m, err := i.Mint(amountMsat)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return Minted{}, err
	}
	i.mu.Lock()
	f := i.format
	i.mu.Unlock()
	for _, h := range Headers(m, f) {
		w.Header().Add("WWW-Authenticate", h)
	}
	w.WriteHeader(http.StatusPaymentRequired)
	return m, nil
}

// ErrNoCredential: the request carries no L402 or LSAT Authorization.
var ErrNoCredential = errors.New("no l402 credential")

// Verify checks a request's credential: the macaroon's signature and
// caveats, and that the preimage hashes to the payment hash it commits
// to. It returns that hash.
func (i *Issuer) Verify(r *http.Request) (lntypes.Hash, error) {
	auth := r.Header.Get("Authorization")
	scheme, rest, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "L402") && !strings.EqualFold(scheme, "LSAT") {
		return lntypes.Hash{}, ErrNoCredential
	}
	mac64, preHex, ok := strings.Cut(rest, ":")
	if !ok {
		return lntypes.Hash{}, errors.New("credential without ':'")
	}
	raw, err := base64.StdEncoding.DecodeString(mac64)
	if err != nil {
		return lntypes.Hash{}, fmt.Errorf("macaroon base64: %w", err)
	}
	var mac macaroon.Macaroon
	if err := mac.UnmarshalBinary(raw); err != nil {
		return lntypes.Hash{}, fmt.Errorf("macaroon: %w", err)
	}
	pre, err := lntypes.MakePreimageFromStr(preHex)
	if err != nil {
		return lntypes.Hash{}, fmt.Errorf("preimage: %w", err)
	}
	now := i.clock.Now()
	err = mac.Verify(i.rootKey, func(c string) error {
		cond, val, _ := strings.Cut(c, "=")
		if !strings.HasSuffix(cond, l402.CondTimeoutSuffix) {
			return fmt.Errorf("unknown caveat %q", c)
		}
		secs, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return err
		}
		if !now.Before(time.Unix(secs, 0)) {
			return errors.New("macaroon expired")
		}
		return nil
	}, nil)
	if err != nil {
		return lntypes.Hash{}, fmt.Errorf("verify macaroon: %w", err)
	}
	id, err := l402.DecodeIdentifier(bytes.NewReader(mac.Id()))
	if err != nil {
		return lntypes.Hash{}, fmt.Errorf("identifier: %w", err)
	}
	if !pre.Matches(id.PaymentHash) {
		return lntypes.Hash{}, errors.New("preimage does not match")
	}
	i.mu.Lock()
	revoked := i.revoked[id.PaymentHash]
	i.mu.Unlock()
	if revoked {
		return lntypes.Hash{}, errors.New("revoked")
	}
	return id.PaymentHash, nil
}

var _ client.Payer = (*Payer)(nil)
var _ client.PaymentWaiter = (*Payer)(nil)
