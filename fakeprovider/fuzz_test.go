package fakeprovider_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/lightningnetwork/lnd/lntypes"
)

// memLightning mints invoices in memory, keeping their preimages. It
// serves the fuzz targets only, which exercise parsing and verification
// at a rate no real node could; every other test runs on real LND.
type memLightning struct {
	mu   sync.Mutex
	pres map[lntypes.Hash]lntypes.Preimage
}

func (m *memLightning) AddInvoice(_ context.Context, req fakeprovider.InvoiceRequest) (*fakeprovider.Invoice, error) {
	var pre lntypes.Preimage
	_, _ = rand.Read(pre[:])
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pres == nil {
		m.pres = map[lntypes.Hash]lntypes.Preimage{}
	}
	m.pres[pre.Hash()] = pre
	return &fakeprovider.Invoice{PaymentHash: pre.Hash(), PaymentRequest: "lnbcrt-mem-" + pre.Hash().String(),
		AmountMsat: req.AmountMsat, State: fakeprovider.InvoiceOpen, Created: time.Now(), Expiry: req.Expiry}, nil
}

func (m *memLightning) LookupInvoice(_ context.Context, h lntypes.Hash) (*fakeprovider.Invoice, error) {
	return &fakeprovider.Invoice{PaymentHash: h, State: fakeprovider.InvoiceOpen}, nil
}
func (m *memLightning) SettleInvoice(context.Context, lntypes.Preimage) error { return nil }
func (m *memLightning) CancelInvoice(context.Context, lntypes.Hash) error     { return nil }

func (m *memLightning) preimage(h lntypes.Hash) (lntypes.Preimage, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pres[h]
	return p, ok
}

var authSeeds = []string{
	"",
	"L402",
	"L402 ",
	"L402 :",
	"Bearer abc",
	"LSAT YWJj:" + strings.Repeat("0", 64),
	"L402 " + strings.Repeat("A", 100) + ":" + strings.Repeat("f", 64),
	"L402 AgEEbHNhdAJCAAA=:" + strings.Repeat("1", 64),
	"l402 a-b_c:" + strings.Repeat("9", 63),
	"L402 ====:" + strings.Repeat("a", 64),
	"L402 \x00\xff:zz",
}

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range authSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		cred, err := fakeprovider.ParseAuthorization([]string{v})
		if err != nil {
			return
		}
		if cred.Macaroon == nil || cred.ID == nil {
			t.Fatalf("parsed %q without a macaroon", v)
		}
		again, err := fakeprovider.AuthorizationValue(cred.Macaroon, cred.Preimage)
		if err != nil {
			t.Fatalf("re-encode %q: %v", v, err)
		}
		back, err := fakeprovider.ParseAuthorization([]string{again})
		if err != nil {
			t.Fatalf("round trip of %q: %v", v, err)
		}
		if back.Preimage != cred.Preimage || *back.ID != *cred.ID {
			t.Fatalf("round trip of %q changed the credential", v)
		}
	})
}

// FuzzVerify sends arbitrary Authorization values, seeded with real
// credentials and mutations of them, through the whole HTTP handler: it
// must never panic, answer only 200/400/401/402, record every request,
// and deliver only for a credential whose preimage is the one minted.
func FuzzVerify(f *testing.F) {
	ln := &memLightning{}
	p, err := fakeprovider.New(ln, fakeprovider.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = p.Close() })
	for _, gen := range fakeprovider.Generations() {
		pr := p.Profile()
		pr.Header.Generation = gen
		if err := p.SetProfile(pr); err != nil {
			f.Fatal(err)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/data/x", nil))
		for _, v := range w.Result().Header.Values("WWW-Authenticate") {
			tok := v[strings.Index(v, `="`)+2:]
			if strings.HasPrefix(v, "L402 version") {
				tok = v[strings.Index(v, `token="`)+7:]
			}
			tok = tok[:strings.Index(tok, `"`)]
			f.Add("L402 " + tok + ":" + strings.Repeat("0", 64))
			cred, err := fakeprovider.ParseAuthorization([]string{"L402 " + tok + ":" + strings.Repeat("0", 64)})
			if err != nil {
				f.Fatal(err)
			}
			pre, _ := ln.preimage(cred.ID.PaymentHash)
			f.Add("L402 " + tok + ":" + pre.String())
			f.Add("LSAT " + tok[:len(tok)-4] + ":" + pre.String())
		}
	}
	for _, s := range authSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		before := p.Requests()
		req := httptest.NewRequest(http.MethodGet, "/data/x", nil)
		req.Header.Set("Authorization", v)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 401, 402:
		default:
			t.Fatalf("status %d for %q", w.Code, v)
		}
		if p.Requests() != before+1 {
			t.Fatalf("request for %q not in the ledger", v)
		}
		if w.Code == 200 {
			cred, err := fakeprovider.ParseAuthorization([]string{v})
			if err != nil {
				t.Fatalf("delivered for an unparsable credential %q", v)
			}
			if pre, ok := ln.preimage(cred.ID.PaymentHash); !ok || pre != cred.Preimage {
				t.Fatalf("delivered for a credential without the minted preimage: %q", v)
			}
		}
	})
}
