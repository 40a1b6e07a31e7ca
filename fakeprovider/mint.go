package fakeprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lightninglabs/aperture/l402"
	"github.com/lightninglabs/aperture/mint"
	"github.com/lightningnetwork/lnd/lntypes"
	"gopkg.in/macaroon.v2"
)

// Tokens are minted and verified with aperture's mint and l402 packages:
// the identifier (version, payment hash, token id) and the caveats are
// Aperture's own, and every macaroon gets its own random root key. The
// provider supplies the three seams mint asks for: a secret store (root
// keys, which revocation and rotation delete), a service limiter (the
// services and <service>_valid_until caveats) and a challenger (the
// invoice, where the challenge knobs act).

// secrets is an in-memory mint.SecretStore that can also revoke by token.
type secrets struct {
	rnd     io.Reader
	seeded  bool // token IDs are drawn from rnd (restamp)
	mu      sync.Mutex
	byID    map[[sha256.Size]byte][l402.SecretSize]byte
	byToken map[string][sha256.Size]byte
}

var _ mint.SecretStore = (*secrets)(nil)

func newSecrets(rnd io.Reader, seeded bool) *secrets {
	return &secrets{rnd: rnd, seeded: seeded, byID: map[[sha256.Size]byte][l402.SecretSize]byte{}, byToken: map[string][sha256.Size]byte{}}
}

func (s *secrets) NewSecret(_ context.Context, idHash [sha256.Size]byte) ([l402.SecretSize]byte, error) {
	var secret [l402.SecretSize]byte
	if _, err := io.ReadFull(s.rnd, secret[:]); err != nil {
		return secret, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[idHash] = secret
	return secret, nil
}

func (s *secrets) GetSecret(_ context.Context, idHash [sha256.Size]byte) ([l402.SecretSize]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	secret, ok := s.byID[idHash]
	if !ok {
		return secret, mint.ErrSecretNotFound
	}
	return secret, nil
}

func (s *secrets) RevokeSecret(_ context.Context, idHash [sha256.Size]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, idHash)
	return nil
}

// restamp gives a macaroon aperture's mint made a token ID drawn from
// the provider's source instead of crypto/rand, so that a seeded
// simulation mints the same tokens on every replay. The identifier keeps
// its version and payment hash, the root key moves to the new
// identifier, and the caveats are added again in order; the result
// verifies as the minted one did. Without a seeded source the macaroon is
// returned as it is.
func (s *secrets) restamp(mac *macaroon.Macaroon) (*macaroon.Macaroon, error) {
	if !s.seeded {
		return mac, nil
	}
	id, err := l402.DecodeIdentifier(bytes.NewReader(mac.Id()))
	if err != nil {
		return nil, fmt.Errorf("restamp: %w", err)
	}
	if _, err := io.ReadFull(s.rnd, id.TokenID[:]); err != nil {
		return nil, fmt.Errorf("restamp: draw token id: %w", err)
	}
	var buf bytes.Buffer
	if err := l402.EncodeIdentifier(&buf, id); err != nil {
		return nil, fmt.Errorf("restamp: %w", err)
	}
	old, fresh := sha256.Sum256(mac.Id()), sha256.Sum256(buf.Bytes())
	s.mu.Lock()
	secret, ok := s.byID[old]
	if ok {
		delete(s.byID, old)
		s.byID[fresh] = secret
	}
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("restamp: %w", mint.ErrSecretNotFound)
	}
	out, err := macaroon.New(secret[:], buf.Bytes(), mac.Location(), mac.Version())
	if err != nil {
		return nil, fmt.Errorf("restamp: %w", err)
	}
	for _, c := range mac.Caveats() {
		if err := out.AddFirstPartyCaveat(c.Id); err != nil {
			return nil, fmt.Errorf("restamp: caveat: %w", err)
		}
	}
	return out, nil
}

// bind remembers which root key belongs to a token, for revocation.
func (s *secrets) bind(tokenID string, macID []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byToken[tokenID] = sha256.Sum256(macID)
}

// revoke deletes a token's root key: it never verifies again.
func (s *secrets) revoke(tokenID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.byToken[tokenID]
	if !ok {
		return fmt.Errorf("token %q: %w", tokenID, ErrNotFound)
	}
	delete(s.byID, h)
	return nil
}

// forget drops every root key: a provider that lost its secrets.
func (s *secrets) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.byID)
}

// limiter is the mint.ServiceLimiter: no capabilities or constraints, a
// timeout caveat where the service has a token TTL.
type limiter struct {
	services map[string]Service
	now      func() time.Time
}

func (l limiter) ServiceCapabilities(context.Context, ...l402.Service) ([]l402.Caveat, error) {
	return nil, nil
}

func (l limiter) ServiceConstraints(context.Context, ...l402.Service) ([]l402.Caveat, error) {
	return nil, nil
}

func (l limiter) ServiceTimeouts(_ context.Context, svcs ...l402.Service) ([]l402.Caveat, error) {
	var out []l402.Caveat
	for _, s := range svcs {
		if ttl := time.Duration(l.services[s.Name].TokenTTL); ttl > 0 {
			out = append(out, l402.NewTimeoutCaveat(s.Name, int64(ttl/time.Second), l.now))
		}
	}
	return out, nil
}

// challenger makes the invoice for one challenge, applying at most one
// challenge knob. mint calls NewChallenge without a context, so a
// challenger is made per challenge and carries the request's.
type challenger struct {
	ctx     context.Context
	p       *Provider
	service Service
	knob    *Knob
	// results, for the ledger
	invoice *Invoice
	macHash lntypes.Hash
	hold    bool
	applied string
}

func (c *challenger) Stop() {}

func (c *challenger) NewChallenge(priceSat int64) (string, lntypes.Hash, error) {
	req := InvoiceRequest{
		AmountMsat: priceSat * 1000,
		Memo:       "l402chaos " + c.service.Name,
		Expiry:     time.Duration(c.p.profile().InvoiceExpiry),
	}
	var waitExpired bool
	if k := c.knob; k != nil {
		c.applied = k.ID + ":" + string(k.Kind)
		switch k.Kind {
		case AmountlessInvoice:
			req.AmountMsat = 0
		case OverpricedInvoice:
			amt := k.AmountSat
			if amt == 0 {
				amt = 10 * priceSat
			}
			req.AmountMsat = amt * 1000
		case ExpiredInvoice:
			req.Expiry = time.Duration(k.ExpiresIn)
			waitExpired = k.ExpiresIn == 0
		case HoldInvoice:
			pre, err := c.p.holds.newPreimage()
			if err != nil {
				return "", lntypes.Hash{}, err
			}
			req.Hold = pre.Hash()
			c.hold = true
		case ReusedInvoice:
			// The ledger's states are as last read: read the unfinished
			// invoices again, or a payment since then would be missed.
			if err := c.p.ledger.refresh(c.ctx, c.p.ln); err != nil {
				c.p.log.Warn("reused-invoice: some invoice states could not be read", "err", err)
			}
			if rec, ok := c.p.ledger.paidInvoice(); ok {
				h, err := lntypes.MakeHashFromStr(rec.PaymentHash)
				if err != nil {
					return "", lntypes.Hash{}, err
				}
				c.invoice = &Invoice{PaymentHash: h, PaymentRequest: rec.PaymentRequest, AmountMsat: rec.AmountMsat,
					State: rec.State, Created: rec.Created, Expiry: time.Duration(rec.Expiry)}
				c.macHash = h
				return rec.PaymentRequest, h, nil
			}
			c.applied = "" // no paid invoice to reuse yet: a plain challenge
		}
	}
	inv, err := c.p.ln.AddInvoice(c.ctx, req)
	if err != nil {
		return "", lntypes.Hash{}, err
	}
	if c.hold {
		c.p.holds.track(inv.PaymentHash, *c.knob)
	}
	if waitExpired {
		// LND will not mint an invoice that is already expired: mint the
		// shortest one and send it once it has lapsed.
		lapse := inv.Created.Add(inv.Expiry).Add(time.Second)
		t := time.NewTimer(time.Until(lapse))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return "", lntypes.Hash{}, c.ctx.Err()
		}
	}
	c.invoice = inv
	c.macHash = inv.PaymentHash
	if c.knob != nil && c.knob.Kind == HashMismatch {
		if _, err := io.ReadFull(c.p.rnd, c.macHash[:]); err != nil {
			return "", lntypes.Hash{}, err
		}
	}
	return inv.PaymentRequest, c.macHash, nil
}

// verify checks a credential step by step, so that the ledger can say
// which check failed: root key known, HMAC chain, preimage, caveats.
func (p *Provider) verify(ctx context.Context, cred *Credential, service string) error {
	idHash := sha256.Sum256(cred.Macaroon.Id())
	secret, err := p.secrets.GetSecret(ctx, idHash)
	if err != nil {
		return fmt.Errorf("token %s: %w", tokenID(cred.ID), ErrUnknownToken)
	}
	raw, err := cred.Macaroon.VerifySignature(secret[:], nil)
	if err != nil {
		return fmt.Errorf("token %s: %w: %w", tokenID(cred.ID), ErrBadSignature, err)
	}
	if cred.Preimage.Hash() != cred.ID.PaymentHash {
		return fmt.Errorf("token %s: %w", tokenID(cred.ID), ErrWrongPreimage)
	}
	caveats := make([]l402.Caveat, 0, len(raw))
	for _, c := range raw {
		cv, err := l402.DecodeCaveat(c)
		if err != nil {
			continue // a caveat we do not know restricts nothing we check
		}
		caveats = append(caveats, cv)
	}
	err = l402.VerifyCaveats(caveats,
		l402.NewServicesSatisfier(service),
		l402.NewTimeoutSatisfier(service, p.now),
	)
	if err != nil {
		return fmt.Errorf("token %s: %w: %w", tokenID(cred.ID), ErrCaveat, err)
	}
	return nil
}

func tokenID(id *l402.Identifier) string { return hex.EncodeToString(id.TokenID[:]) }
