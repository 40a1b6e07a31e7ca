package fakeprovider_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/internal/wait"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightninglabs/aperture/l402"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lntypes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/macaroon.v2"
)

// One regtest network serves every subtest: each gets its own provider on
// bob, and alice pays.
var (
	netOnce sync.Once
	shared  *regtest.Network
	netErr  error
)

func network(t *testing.T) *regtest.Network {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a regtest network")
	}
	netOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), regtesttest.StartTimeout)
		defer cancel()
		shared, netErr = regtest.Start(ctx, regtest.WithSnapshot(true))
	})
	require.NoError(t, netErr, "start network")
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close()
	}
	os.Exit(code)
}

// challenge is a parsed WWW-Authenticate value.
type challenge struct {
	scheme   string
	macaroon *macaroon.Macaroon
	invoice  string
	hash     lntypes.Hash
}

var paramRe = regexp.MustCompile(`(?i)\b(token|macaroon|invoice)="([^"]*)"`)

func parseChallenge(t *testing.T, v string) challenge {
	t.Helper()
	scheme, _, _ := strings.Cut(v, " ")
	c := challenge{scheme: strings.ToUpper(scheme)}
	for _, m := range paramRe.FindAllStringSubmatch(v, -1) {
		switch strings.ToLower(m[1]) {
		case "token", "macaroon":
			raw, err := base64.StdEncoding.DecodeString(m[2])
			require.NoError(t, err)
			c.macaroon = &macaroon.Macaroon{}
			require.NoError(t, c.macaroon.UnmarshalBinary(raw))
			id, err := l402.DecodeIdentifier(bytes.NewReader(c.macaroon.Id()))
			require.NoError(t, err)
			c.hash = id.PaymentHash
		case "invoice":
			c.invoice = m[2]
		}
	}
	require.NotNil(t, c.macaroon, "challenge %q has no macaroon", v)
	require.NotEmpty(t, c.invoice, "challenge %q has no invoice", v)
	return c
}

type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func send(t *testing.T, method, url, key, auth string, body []byte) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	// A fresh connection each time: Go's transport silently resends a
	// request that carries an Idempotency-Key when a reused connection
	// fails, which would hide drop-after from this test.
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// pay pays an invoice from alice and returns the preimage.
func pay(t *testing.T, n *regtest.Network, invoice string) (lntypes.Preimage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	p, err := n.Node("alice").Pay(ctx, invoice)
	if err != nil {
		return lntypes.Preimage{}, err
	}
	return lntypes.MakePreimageFromStr(p.PaymentPreimage)
}

func decode(t *testing.T, n *regtest.Network, invoice string) *lnrpc.PayReq {
	t.Helper()
	pr, err := n.Node("alice").LN().DecodePayReq(context.Background(), &lnrpc.PayReqString{PayReq: invoice})
	require.NoError(t, err)
	return pr
}

func authValue(t *testing.T, scheme string, mac *macaroon.Macaroon, pre lntypes.Preimage) string {
	t.Helper()
	v, err := fakeprovider.AuthorizationValue(mac, pre)
	require.NoError(t, err)
	return scheme + strings.TrimPrefix(v, "L402")
}

// buy runs a whole purchase: challenge, payment, credentialed retry.
func buy(t *testing.T, n *regtest.Network, method, url, key string, body []byte) (result, challenge, lntypes.Preimage) {
	t.Helper()
	r := send(t, method, url, key, "", body)
	require.NoError(t, r.err)
	require.Equal(t, http.StatusPaymentRequired, r.status, "body %s", r.body)
	c := parseChallenge(t, r.header.Values("WWW-Authenticate")[0])
	pre, err := pay(t, n, c.invoice)
	require.NoError(t, err)
	require.Equal(t, c.hash, pre.Hash())
	r = send(t, method, url, key, authValue(t, "L402", c.macaroon, pre), body)
	require.NoError(t, r.err)
	return r, c, pre
}

func ledger(t *testing.T, p *fakeprovider.Provider) fakeprovider.Snapshot {
	t.Helper()
	s, err := p.Ledger(context.Background())
	require.NoError(t, err)
	return s
}

func TestPurchaseEveryHeaderGeneration(t *testing.T) {
	n := network(t)
	styles := []fakeprovider.HeaderStyle{
		{Generation: fakeprovider.GenL402},
		{Generation: fakeprovider.GenL402Legacy},
		{Generation: fakeprovider.GenLSAT},
		{Generation: fakeprovider.GenAperture},
		{Generation: fakeprovider.GenL402, LowerScheme: true, UpperParams: true, ExtraParams: true},
	}
	for _, style := range styles {
		name := string(style.Generation)
		if style.ExtraParams {
			name += "-variants"
		}
		t.Run(name, func(t *testing.T) {
			cfg := fakeprovider.DefaultConfig()
			cfg.Profile.Header = style
			p := fakeprovidertest.Start(t, n.Node("bob"), cfg)
			r := send(t, http.MethodGet, p.URL()+"/data/quote", "", "", nil)
			require.Equal(t, http.StatusPaymentRequired, r.status)
			values := r.header.Values("WWW-Authenticate")
			want := map[fakeprovider.Generation][]string{
				fakeprovider.GenL402: {"L402"}, fakeprovider.GenL402Legacy: {"L402"},
				fakeprovider.GenLSAT: {"LSAT"}, fakeprovider.GenAperture: {"LSAT", "L402"},
			}[style.Generation]
			require.Len(t, values, len(want))
			var cs []challenge
			for i, v := range values {
				c := parseChallenge(t, v)
				require.Equal(t, want[i], c.scheme, v)
				cs = append(cs, c)
				switch {
				case style.Generation == fakeprovider.GenL402 && !style.UpperParams:
					require.Contains(t, v, `version="0", token="`)
				case style.UpperParams:
					require.Contains(t, v, `TOKEN="`)
				default:
					require.Contains(t, v, `macaroon="`)
				}
				if style.LowerScheme {
					require.True(t, strings.HasPrefix(v, "l402 "), v)
				}
			}
			c := cs[len(cs)-1]
			pr := decode(t, n, c.invoice)
			require.Equal(t, int64(100), pr.NumSatoshis)
			require.Equal(t, c.hash.String(), pr.PaymentHash)

			pre, err := pay(t, n, c.invoice)
			require.NoError(t, err)
			// Every client scheme is accepted, with either base64 alphabet.
			for _, scheme := range []string{"L402", "LSAT", "l402"} {
				r = send(t, http.MethodGet, p.URL()+"/data/quote", "", authValue(t, scheme, c.macaroon, pre), nil)
				require.Equal(t, http.StatusOK, r.status, "%s: %s", scheme, r.body)
			}
			raw, _ := c.macaroon.MarshalBinary()
			r = send(t, http.MethodGet, p.URL()+"/data/quote", "", "L402 "+base64.RawURLEncoding.EncodeToString(raw)+":"+pre.String(), nil)
			require.Equal(t, http.StatusOK, r.status, "%s", r.body)

			s := ledger(t, p)
			require.Len(t, s.Invoices, 1)
			require.Equal(t, fakeprovider.InvoiceSettled, s.Invoices[0].State)
			require.Equal(t, int64(100_000), s.Invoices[0].PaidMsat)
			require.Len(t, s.Deliveries, 4)
			require.Equal(t, pre.Hash().String(), s.Deliveries[0].PaymentHash)
		})
	}
}

func TestTokenReuseAndPerRequestPricing(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())

	// Per token: one payment opens every path of the service.
	r, c, pre := buy(t, n, http.MethodGet, p.URL()+"/data/a", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	auth := authValue(t, "L402", c.macaroon, pre)
	for _, path := range []string{"/data/b", "/data/c/d"} {
		r = send(t, http.MethodGet, p.URL()+path, "", auth, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	}
	// ... but not another service.
	r = send(t, http.MethodGet, p.URL()+"/ops/x", "", auth, nil)
	require.Equal(t, http.StatusPaymentRequired, r.status)

	// Per request: a token buys one purchase; replays of that purchase are
	// answered, another purchase is challenged.
	r, c, pre = buy(t, n, http.MethodPost, p.URL()+"/ops/run", "k1", []byte(`{"n":1}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	auth = authValue(t, "L402", c.macaroon, pre)
	r2 := send(t, http.MethodPost, p.URL()+"/ops/run", "k1", auth, []byte(`{"n":1}`))
	require.Equal(t, http.StatusOK, r2.status)
	require.Equal(t, r.body, r2.body)
	r = send(t, http.MethodPost, p.URL()+"/ops/run", "k2", auth, []byte(`{"n":2}`))
	require.Equal(t, http.StatusPaymentRequired, r.status)

	s := ledger(t, p)
	require.Len(t, s.SideEffects, 1)
	last := s.Requests[len(s.Requests)-1]
	require.False(t, last.Credential.Valid)
	require.Contains(t, last.Credential.Reason, "token already spent")
	require.Len(t, s.Invoices, 4) // two bought, two challenges on refusal
}

// The reused-invoice knob finds an invoice paid since the last ledger
// export: nothing here reads the ledger before the knob fires.
func TestReusedInvoiceSeesFreshPayments(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	r, c, _ := buy(t, n, http.MethodGet, p.URL()+"/data/a", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	_, err := p.Arm(fakeprovider.Knob{Kind: fakeprovider.ReusedInvoice, Times: 1})
	require.NoError(t, err)
	r = send(t, http.MethodGet, p.URL()+"/data/b", "", "", nil)
	require.Equal(t, http.StatusPaymentRequired, r.status)
	again := parseChallenge(t, r.header.Values("WWW-Authenticate")[0])
	require.Equal(t, c.invoice, again.invoice, "the fresh challenge carries the invoice already paid")
	require.NotEqual(t, c.macaroon.Id(), again.macaroon.Id(), "under a new token")
}

func TestIdempotencyKey(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	r, c, pre := buy(t, n, http.MethodPost, p.URL()+"/data/order", "order-1", []byte(`{"qty":3}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	auth := authValue(t, "L402", c.macaroon, pre)
	for range 3 {
		again := send(t, http.MethodPost, p.URL()+"/data/order", "order-1", auth, []byte(`{"qty":3}`))
		require.Equal(t, http.StatusOK, again.status)
		require.Equal(t, r.body, again.body)
	}
	other := send(t, http.MethodPost, p.URL()+"/data/order", "order-1", auth, []byte(`{"qty":4}`))
	require.Equal(t, http.StatusUnprocessableEntity, other.status, "%s", other.body)

	s := ledger(t, p)
	require.Len(t, s.SideEffects, 1, "the side effect runs once per key")
	require.Equal(t, "order-1", s.SideEffects[0].Key)
	replayed := 0
	for _, d := range s.Deliveries {
		if d.Replayed {
			replayed++
		}
	}
	require.Equal(t, 3, replayed)
}

// Forget drops a judged purchase's records and stored answer, keeps the
// others', and keeps a refused credential of the forgotten purchase: a
// fact about its token.
func TestForget(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	_, ca, pa := buy(t, n, http.MethodPost, p.URL()+"/data/a", "key-a", []byte(`{"a":1}`))
	_, cb, _ := buy(t, n, http.MethodPost, p.URL()+"/data/b", "key-b", []byte(`{"b":1}`))
	forged := authValue(t, "L402", ca.macaroon, lntypes.Preimage{1})
	refused := send(t, http.MethodPost, p.URL()+"/data/a", "key-a", forged, []byte(`{"a":1}`))
	require.NotEqual(t, http.StatusOK, refused.status)

	// Through the control API, as a harness does when the provider runs
	// in a container.
	hashes, err := fakeprovidertest.Control(t, p).Forget(context.Background(), []string{"/data/a"})
	require.NoError(t, err)
	require.Contains(t, hashes, ca.hash.String())
	s := ledger(t, p)
	for _, r := range s.Requests {
		if r.Path == "/data/a" {
			require.NotNil(t, r.Credential, "only the refused credential of /data/a stays")
			require.False(t, r.Credential.Valid)
		}
	}
	for _, se := range s.SideEffects {
		require.Equal(t, "/data/b", se.Path)
	}
	for _, d := range s.Deliveries {
		require.Equal(t, "/data/b", d.Path)
	}
	var invoices []string
	for _, i := range s.Invoices {
		invoices = append(invoices, i.PaymentHash)
	}
	require.Contains(t, invoices, cb.hash.String(), "the other purchase's invoice stays")
	require.NotContains(t, invoices, ca.hash.String(), "the forgotten purchase's invoice is gone (b's is the newest settled)")

	// The stored answer of key-a is gone: the same key now runs anew.
	again := send(t, http.MethodPost, p.URL()+"/data/a", "key-a", authValue(t, "L402", ca.macaroon, pa), []byte(`{"a":1}`))
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	after := ledger(t, p)
	require.Len(t, after.SideEffects, 2, "a forgotten key is a new key to the provider")
}

// TestNotesOverControl follows the provider's notes through the control
// API, as the harness does when the provider runs in a container: in
// order, numbered, a long poll answered by the next note, and a cursor
// that resumes without repeating.
func TestNotesOverControl(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	ctl := fakeprovidertest.Control(t, p)
	ctx := context.Background()

	page, err := ctl.Notes(ctx, 0, 0)
	require.NoError(t, err)
	require.Empty(t, page.Notes)
	require.Zero(t, page.Next)

	got := make(chan fakeprovider.NotesPage, 1)
	go func() {
		page, err := ctl.Notes(ctx, 0, time.Minute)
		assert.NoError(t, err)
		got <- page
	}()
	send(t, http.MethodGet, p.URL()+"/data/a", "", "", nil) // a challenge
	var first fakeprovider.NotesPage
	select {
	case first = <-got:
	case <-time.After(time.Minute):
		t.Fatal("the long poll did not answer the challenge's note")
	}
	require.NotEmpty(t, first.Notes)
	require.Equal(t, int64(1), first.Notes[0].Seq)
	require.Equal(t, fakeprovider.NoteChallenge, first.Notes[0].Kind)

	_, c, _ := buy(t, n, http.MethodGet, p.URL()+"/data/b", "", nil)
	// The client may have its answer a moment before the provider notes
	// the delivery: wait for the note (a long poll), not for a while.
	var all fakeprovider.NotesPage
	delivered := func(ns []fakeprovider.Note) bool {
		for _, note := range ns {
			if note.PaymentHash == c.hash.String() && note.Kind == fakeprovider.NoteDelivery {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(time.Minute); ; {
		var err error
		all, err = ctl.Notes(ctx, 0, 0)
		require.NoError(t, err)
		if delivered(all.Notes) {
			break
		}
		require.True(t, time.Now().Before(deadline), "no delivery note for the purchase")
		_, err = ctl.Notes(ctx, all.Next, 5*time.Second)
		require.NoError(t, err)
	}
	rest, err := ctl.Notes(ctx, first.Next, 0)
	require.NoError(t, err)
	require.Equal(t, all.Notes[len(first.Notes):], rest.Notes, "a cursor resumes where it left off")
	for i, note := range all.Notes {
		require.Equal(t, int64(i+1), note.Seq)
	}
	var kinds []fakeprovider.NoteKind
	for _, note := range rest.Notes {
		if note.PaymentHash == c.hash.String() {
			kinds = append(kinds, note.Kind)
		}
	}
	require.Contains(t, kinds, fakeprovider.NoteChallenge)
	require.Contains(t, kinds, fakeprovider.NoteDelivery)
	empty, err := ctl.Notes(ctx, all.Next, 20*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, empty.Notes, "a poll with nothing new ends empty at its timeout")
	require.Equal(t, all.Next, empty.Next)
}

func TestHoldInvoice(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	ctl := fakeprovidertest.Control(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, then := range []string{"settle", "cancel"} {
		t.Run("manual-"+then, func(t *testing.T) {
			_, err := ctl.Arm(ctx, fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, Then: fakeprovider.ThenManual, Times: 1})
			require.NoError(t, err)
			r := send(t, http.MethodGet, p.URL()+"/data/held", "", "", nil)
			require.Equal(t, http.StatusPaymentRequired, r.status)
			c := parseChallenge(t, r.header.Values("WWW-Authenticate")[0])
			inv, err := ctl.Invoice(ctx, c.hash)
			require.NoError(t, err)
			require.True(t, inv.Hold)
			require.Equal(t, fakeprovider.InvoiceOpen, inv.State)

			type paid struct {
				pre lntypes.Preimage
				err error
			}
			done := make(chan paid, 1)
			go func() {
				pre, err := pay(t, n, c.invoice)
				done <- paid{pre, err}
			}()
			inv, err = ctl.WaitInvoice(ctx, c.hash, fakeprovider.InvoiceAccepted)
			require.NoError(t, err)
			require.Equal(t, fakeprovider.InvoiceAccepted, inv.State)
			select {
			case <-done:
				t.Fatal("payment finished while its HTLC was held")
			default:
			}
			if then == "settle" {
				inv, err = ctl.SettleInvoice(ctx, c.hash)
				require.NoError(t, err)
				require.Equal(t, fakeprovider.InvoiceSettled, inv.State)
				res := <-done
				require.NoError(t, res.err)
				r = send(t, http.MethodGet, p.URL()+"/data/held", "", authValue(t, "L402", c.macaroon, res.pre), nil)
				require.Equal(t, http.StatusOK, r.status)
			} else {
				inv, err = ctl.CancelInvoice(ctx, c.hash)
				require.NoError(t, err)
				require.Equal(t, fakeprovider.InvoiceCanceled, inv.State)
				res := <-done
				var pe *regtest.PaymentError
				require.ErrorAs(t, res.err, &pe)
			}
		})
	}
	t.Run("held-then-settled-automatically", func(t *testing.T) {
		_, err := ctl.Arm(ctx, fakeprovider.Knob{Kind: fakeprovider.HoldInvoice, For: fakeprovider.Duration(time.Second), Times: 1})
		require.NoError(t, err)
		r, c, _ := buy(t, n, http.MethodGet, p.URL()+"/data/auto", "", nil)
		require.Equal(t, http.StatusOK, r.status)
		inv, err := ctl.Invoice(ctx, c.hash)
		require.NoError(t, err)
		require.True(t, inv.Hold)
		require.Equal(t, fakeprovider.InvoiceSettled, inv.State)
	})
	t.Run("settle-unknown-invoice", func(t *testing.T) {
		_, err := ctl.SettleInvoice(ctx, lntypes.Hash{1})
		require.ErrorIs(t, err, fakeprovider.ErrNotFound)
	})
}

func TestKnobs(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	ctl := fakeprovidertest.Control(t, p)
	ctx := context.Background()
	arm := func(t *testing.T, k fakeprovider.Knob) fakeprovider.Knob {
		t.Helper()
		armed, err := ctl.Arm(ctx, k)
		require.NoError(t, err)
		t.Cleanup(func() { _ = ctl.Disarm(ctx, armed.ID) })
		return armed
	}
	// A token for credentialed requests on the per-token service.
	r, c, pre := buy(t, n, http.MethodGet, p.URL()+"/data/setup", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	auth := authValue(t, "L402", c.macaroon, pre)
	sideEffects := func() int { return len(ledger(t, p).SideEffects) }

	t.Run("error-before", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.ErrorBefore, Match: fakeprovider.Match{Path: "/data/eb"}, Times: 1, Status: 503})
		before := sideEffects()
		r := send(t, http.MethodPost, p.URL()+"/data/eb", "eb", auth, []byte("x"))
		require.Equal(t, 503, r.status)
		require.Equal(t, before, sideEffects())
		r = send(t, http.MethodPost, p.URL()+"/data/eb", "eb", auth, []byte("x"))
		require.Equal(t, 200, r.status, "fires once")
	})
	t.Run("error-after", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.ErrorAfter, Match: fakeprovider.Match{Key: "ea"}, Times: 1})
		before := sideEffects()
		r := send(t, http.MethodPost, p.URL()+"/data/ea", "ea", auth, []byte("x"))
		require.Equal(t, 500, r.status)
		require.Equal(t, before+1, sideEffects(), "the side effect ran; the answer was lost")
		r = send(t, http.MethodPost, p.URL()+"/data/ea", "ea", auth, []byte("x"))
		require.Equal(t, 200, r.status)
		require.Equal(t, before+1, sideEffects(), "the replay does not run it again")
	})
	t.Run("drop-after", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.DropAfter, Match: fakeprovider.Match{Key: "da"}, Times: 1})
		before := sideEffects()
		r := send(t, http.MethodPost, p.URL()+"/data/da", "da", auth, []byte("x"))
		require.Error(t, r.err)
		require.Equal(t, before+1, sideEffects())
	})
	t.Run("delay", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.Delay, Match: fakeprovider.Match{Path: "/data/slow"}, Delay: fakeprovider.Duration(700 * time.Millisecond), Times: 1})
		start := time.Now()
		r := send(t, http.MethodGet, p.URL()+"/data/slow", "", auth, nil)
		require.Equal(t, 200, r.status)
		require.GreaterOrEqual(t, time.Since(start), 700*time.Millisecond)
	})
	t.Run("delay with a barrier", func(t *testing.T) {
		// Held ten minutes unless both requests arrive: send's own 60 s
		// deadline fails the test if the barrier never opens.
		arm(t, fakeprovider.Knob{Kind: fakeprovider.Delay, Match: fakeprovider.Match{Path: "/data/gate"}, Delay: fakeprovider.Duration(10 * time.Minute), Gather: 2, Times: 2})
		results := make(chan result, 2)
		for range 2 {
			go func() { results <- send(t, http.MethodGet, p.URL()+"/data/gate", "", auth, nil) }()
		}
		for range 2 {
			r := <-results
			require.NoError(t, r.err)
			require.Equal(t, 200, r.status)
		}
		_, err := ctl.Arm(ctx, fakeprovider.Knob{Kind: fakeprovider.ErrorBefore, Gather: 2})
		require.ErrorContains(t, err, "gather")
		_, err = ctl.Arm(ctx, fakeprovider.Knob{Kind: fakeprovider.Delay, Delay: fakeprovider.Duration(time.Second), Gather: 1})
		require.ErrorContains(t, err, "gather")
	})
	t.Run("retry-after", func(t *testing.T) {
		for _, st := range []int{429, 503} {
			arm(t, fakeprovider.Knob{Kind: fakeprovider.RetryAfter, Match: fakeprovider.Match{Path: "/data/ra"}, Status: st, RetryAfter: fakeprovider.Duration(3 * time.Second), Times: 1})
			r := send(t, http.MethodGet, p.URL()+"/data/ra", "", auth, nil)
			require.Equal(t, st, r.status)
			require.Equal(t, "3", r.header.Get("Retry-After"))
		}
	})
	t.Run("settlement-failure", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.SettlementFailure, Match: fakeprovider.Match{Path: "/data/sf"}, Times: 1})
		r := send(t, http.MethodGet, p.URL()+"/data/sf", "", "", nil)
		require.Equal(t, 402, r.status, "uncredentialed requests are not affected")
		r = send(t, http.MethodGet, p.URL()+"/data/sf", "", auth, nil)
		require.Equal(t, 502, r.status)
		require.Equal(t, "2", r.header.Get("Retry-After"))
		r = send(t, http.MethodGet, p.URL()+"/data/sf", "", auth, nil)
		require.Equal(t, 200, r.status)
	})
	challengeWith := func(t *testing.T, k fakeprovider.Knob) challenge {
		t.Helper()
		k.Times = 1
		arm(t, k)
		r := send(t, http.MethodGet, p.URL()+"/data/ch", "", "", nil)
		require.Equal(t, 402, r.status, "%s", r.body)
		return parseChallenge(t, r.header.Values("WWW-Authenticate")[0])
	}
	t.Run("expired-invoice", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice})
		pr := decode(t, n, c.invoice)
		require.Less(t, pr.Timestamp+pr.Expiry, time.Now().Unix()+1, "already expired when sent")
		_, err := pay(t, n, c.invoice)
		require.Error(t, err)
	})
	t.Run("invoice-expiring-soon", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.ExpiredInvoice, ExpiresIn: fakeprovider.Duration(5 * time.Second)})
		require.Equal(t, int64(5), decode(t, n, c.invoice).Expiry)
	})
	t.Run("amountless-invoice", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.AmountlessInvoice})
		require.Zero(t, decode(t, n, c.invoice).NumMsat)
	})
	t.Run("overpriced-invoice", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice})
		require.Equal(t, int64(1000), decode(t, n, c.invoice).NumSatoshis)
	})
	t.Run("hash-mismatch", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.HashMismatch})
		pr := decode(t, n, c.invoice)
		require.NotEqual(t, c.hash.String(), pr.PaymentHash)
		pre, err := pay(t, n, c.invoice)
		require.NoError(t, err)
		r := send(t, http.MethodGet, p.URL()+"/data/ch", "", authValue(t, "L402", c.macaroon, pre), nil)
		require.Equal(t, 402, r.status, "a paid invoice the token does not commit to buys nothing")
		last := ledger(t, p).Requests
		require.Contains(t, last[len(last)-1].Credential.Reason, "preimage does not match")
	})
	t.Run("reused-invoice", func(t *testing.T) {
		c := challengeWith(t, fakeprovider.Knob{Kind: fakeprovider.ReusedInvoice})
		inv, err := ctl.Invoice(ctx, c.hash)
		require.NoError(t, err)
		require.Equal(t, fakeprovider.InvoiceSettled, inv.State, "the challenge carries an invoice already paid")
		_, err = pay(t, n, c.invoice)
		require.Error(t, err, "LND refuses to pay a hash twice")
	})
	t.Run("reject-paid-lag", func(t *testing.T) {
		arm(t, fakeprovider.Knob{Kind: fakeprovider.RejectPaid, Match: fakeprovider.Match{Path: "/data/lag"}, For: fakeprovider.Duration(1500 * time.Millisecond)})
		r := send(t, http.MethodGet, p.URL()+"/data/lag", "", auth, nil)
		require.Equal(t, 402, r.status)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, wait.Until(wctx, 100*time.Millisecond, func(context.Context) error {
			if r := send(t, http.MethodGet, p.URL()+"/data/lag", "", auth, nil); r.status != 200 {
				return errors.New(http.StatusText(r.status))
			}
			return nil
		}))
	})
	t.Run("reject-paid-rotate", func(t *testing.T) {
		_, c2, pre2 := buy(t, n, http.MethodGet, p.URL()+"/data/rot", "", nil)
		auth2 := authValue(t, "L402", c2.macaroon, pre2)
		arm(t, fakeprovider.Knob{Kind: fakeprovider.RejectPaid, Match: fakeprovider.Match{Path: "/data/rot"}, Rotate: true, Times: 1})
		for range 2 {
			r := send(t, http.MethodGet, p.URL()+"/data/rot", "", auth2, nil)
			require.Equal(t, 402, r.status, "a rotated root key never verifies again")
		}
		r := send(t, http.MethodGet, p.URL()+"/data/rot", "", auth, nil)
		require.Equal(t, 200, r.status, "other tokens are unaffected")
	})
	t.Run("restart", func(t *testing.T) {
		url := p.URL()
		done := make(chan error, 1)
		go func() { done <- ctl.Restart(ctx, time.Second, false) }()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, wait.Until(wctx, 20*time.Millisecond, func(context.Context) error {
			if r := send(t, http.MethodGet, url+"/data/x", "", auth, nil); r.err == nil {
				return errors.New("still up")
			}
			return nil
		}), "the API goes down")
		require.NoError(t, <-done)
		require.Equal(t, url, p.URL(), "same port after restart")
		require.Equal(t, 200, send(t, http.MethodGet, url+"/data/x", "", auth, nil).status, "tokens survive a restart")
		require.NoError(t, ctl.Restart(ctx, 0, true))
		require.Equal(t, 402, send(t, http.MethodGet, url+"/data/x", "", auth, nil).status, "a provider that lost its keys")
	})
	knobs, err := ctl.Knobs(ctx)
	require.NoError(t, err)
	require.Empty(t, knobs, "each subtest disarmed its knob")
}

func TestForgedAndInvalidCredentials(t *testing.T) {
	n := network(t)
	now := time.Now()
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	cfg := fakeprovider.DefaultConfig()
	cfg.Services[0].TokenTTL = fakeprovider.Duration(time.Minute)
	p := fakeprovidertest.Start(t, n.Node("bob"), cfg, fakeprovider.WithClock(clock))
	r, c, pre := buy(t, n, http.MethodGet, p.URL()+"/data/a", "", nil)
	require.Equal(t, 200, r.status)
	raw, _ := c.macaroon.MarshalBinary()
	b64 := base64.StdEncoding.EncodeToString(raw)

	// Re-signed with another root key: same identifier, new HMAC chain.
	forged, err := macaroon.New(bytes.Repeat([]byte{7}, 32), c.macaroon.Id(), "lsat", macaroon.LatestVersion)
	require.NoError(t, err)
	// A caveat added by the holder that widens nothing still verifies;
	// one that claims another service does not.
	widened := c.macaroon.Clone()
	require.NoError(t, l402.AddFirstPartyCaveats(widened, l402.Caveat{Condition: "services", Value: "ops:0"}))

	cases := []struct {
		name   string
		auth   string
		status int
		reason string
	}{
		{"resigned", authValue(t, "L402", forged, pre), 402, "signature"},
		{"wrong-preimage", authValue(t, "L402", c.macaroon, lntypes.Preimage{9}), 402, "preimage does not match"},
		{"widened-services", authValue(t, "L402", widened, pre), 402, "caveat"},
		{"bad-base64", "L402 !!!:" + pre.String(), 400, "macaroon"},
		{"bad-hex", "L402 " + b64 + ":zz" + strings.Repeat("0", 62), 400, "preimage"},
		{"short-preimage", "L402 " + b64 + ":abcd", 400, "preimage"},
		{"no-colon", "L402 " + b64, 400, "want"},
		{"not-a-macaroon", "L402 " + base64.StdEncoding.EncodeToString([]byte("hello")) + ":" + pre.String(), 400, "macaroon"},
		{"oversized", "L402 " + strings.Repeat("A", fakeprovider.MaxAuthorization) + ":" + pre.String(), 400, "bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(ledger(t, p).Requests)
			r := send(t, http.MethodGet, p.URL()+"/data/a", "", tc.auth, nil)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			s := ledger(t, p)
			require.Len(t, s.Requests, before+1, "the refused request is in the ledger")
			last := s.Requests[len(s.Requests)-1]
			require.NotNil(t, last.Credential)
			require.False(t, last.Credential.Valid)
			require.Contains(t, last.Credential.Reason, tc.reason)
			require.NotContains(t, string(mustJSON(t, s)), pre.String(), "the ledger never holds a preimage")
		})
	}
	t.Run("profile-401", func(t *testing.T) {
		pr := p.Profile()
		pr.InvalidCredential = 401
		require.NoError(t, p.SetProfile(pr))
		r := send(t, http.MethodGet, p.URL()+"/data/a", "", authValue(t, "L402", forged, pre), nil)
		require.Equal(t, 401, r.status)
		require.Empty(t, r.header.Values("WWW-Authenticate"))
	})
	t.Run("expired-caveat", func(t *testing.T) {
		require.Equal(t, 200, send(t, http.MethodGet, p.URL()+"/data/a", "", authValue(t, "L402", c.macaroon, pre), nil).status)
		clockMu.Lock()
		now = now.Add(2 * time.Minute)
		clockMu.Unlock()
		r := send(t, http.MethodGet, p.URL()+"/data/a", "", authValue(t, "L402", c.macaroon, pre), nil)
		require.Equal(t, 401, r.status)
		require.Contains(t, string(r.body), "caveat")
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestControlAPIBadInput(t *testing.T) {
	n := network(t)
	p := fakeprovidertest.Start(t, n.Node("bob"), fakeprovider.DefaultConfig())
	ctl := fakeprovidertest.Control(t, p)
	ctx := context.Background()
	require.NoError(t, ctl.Health(ctx))
	send(t, http.MethodGet, p.URL()+"/data/a", "", "", nil) // something in the ledger

	rawWith := func(method, path, body string, header map[string]string) (int, string) {
		req, err := http.NewRequest(method, p.ControlURL()+path, strings.NewReader(body))
		require.NoError(t, err)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		return resp.StatusCode, e.Error.Code
	}
	auth := map[string]string{"Authorization": "Bearer " + p.ControlToken(), "Content-Type": "application/json"}
	raw := func(method, path, body string) (int, string) { return rawWith(method, path, body, auth) }

	// The guard: no token, a wrong one, or a change without a JSON
	// content type (a cross-origin form post) is refused before the
	// API, and changes nothing.
	for _, tc := range []struct {
		method, path, body string
		header             map[string]string
		status             int
		code               string
	}{
		{"GET", "/ledger", "", nil, 401, fakeprovider.CodeUnauthorized},
		{"POST", "/reset", "", map[string]string{"Content-Type": "application/json"}, 401, fakeprovider.CodeUnauthorized},
		{"POST", "/knobs", `{"kind":"error-before"}`, map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 32), "Content-Type": "application/json"}, 401, fakeprovider.CodeUnauthorized},
		{"POST", "/knobs", `{"kind":"error-before"}`, map[string]string{"Authorization": p.ControlToken(), "Content-Type": "application/json"}, 401, fakeprovider.CodeUnauthorized},
		{"POST", "/knobs", `{"kind":"error-before"}`, map[string]string{"Authorization": "Bearer " + p.ControlToken()}, 415, fakeprovider.CodeMediaType},
		{"POST", "/knobs", `{"kind":"error-before"}`, map[string]string{"Authorization": "Bearer " + p.ControlToken(), "Content-Type": "text/plain"}, 415, fakeprovider.CodeMediaType},
		{"POST", "/knobs", `kind=error-before`, map[string]string{"Authorization": "Bearer " + p.ControlToken(), "Content-Type": "application/x-www-form-urlencoded"}, 415, fakeprovider.CodeMediaType},
		{"DELETE", "/knobs/k1", "", map[string]string{"Authorization": "Bearer " + p.ControlToken()}, 415, fakeprovider.CodeMediaType},
	} {
		status, code := rawWith(tc.method, tc.path, tc.body, tc.header)
		require.Equal(t, tc.status, status, "%s %s %v", tc.method, tc.path, tc.header)
		require.Equal(t, tc.code, code, "%s %s %v", tc.method, tc.path, tc.header)
	}
	knobs, err := ctl.Knobs(ctx)
	require.NoError(t, err)
	require.Empty(t, knobs, "a refused call arms nothing")
	status, _ := rawWith("GET", "/health", "", nil)
	require.Equal(t, 200, status, "/health answers without the token")
	_, err = fakeprovider.NewControl(p.ControlURL(), nil)
	require.NoError(t, err)
	noToken, _ := fakeprovider.NewControl(p.ControlURL(), nil)
	_, err = noToken.Ledger(ctx)
	require.ErrorIs(t, err, fakeprovider.ErrUnauthorized)

	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/knobs", "{not json", 400, "bad_request"},
		{"POST", "/knobs", `{"kind":"error-before","surprise":1}`, 400, "bad_request"},
		{"POST", "/knobs", `{"kind":"meteor"}`, 400, "invalid_config"},
		{"POST", "/knobs", `{"kind":"error-before","status":200}`, 400, "invalid_config"},
		{"POST", "/knobs", `{"kind":"delay"}`, 400, "invalid_config"},
		{"POST", "/knobs", `{"kind":"error-before","match":{"path":"[a"}}`, 400, "invalid_config"},
		{"POST", "/knobs", `{"kind":"retry-after","retry_after":"10ms"}`, 400, "invalid_config"},
		{"POST", "/knobs", `{"kind":"error-before"} {"kind":"delay"}`, 400, "bad_request"},
		{"DELETE", "/knobs/k999", "", 404, "not_found"},
		{"PUT", "/profile", `{"header":{"generation":"l403"},"invalid_credential":402,"invoice_expiry":"1m"}`, 400, "invalid_config"},
		{"GET", "/invoices/xyz", "", 400, "bad_request"},
		{"GET", "/invoices/" + strings.Repeat("ab", 32), "", 404, "not_found"},
		{"GET", "/invoices/" + strings.Repeat("ab", 32) + "/wait?state=PAID", "", 400, "bad_request"},
		{"POST", "/tokens/nope/revoke", "", 404, "not_found"},
		{"POST", "/restart", `{"down":"-1s"}`, 400, "bad_request"},
		{"GET", "/notes?after=-1", "", 400, "bad_request"},
		{"GET", "/notes?after=x", "", 400, "bad_request"},
		{"GET", "/notes?timeout=forever", "", 400, "bad_request"},
		{"GET", "/notes?max=0", "", 400, "bad_request"},
		{"POST", "/forget", `{"paths":"/data/a"}`, 400, "bad_request"},
	} {
		status, code := raw(tc.method, tc.path, tc.body)
		require.Equal(t, tc.status, status, "%s %s %s", tc.method, tc.path, tc.body)
		require.Equal(t, tc.code, code, "%s %s %s", tc.method, tc.path, tc.body)
	}
	_, err = ctl.Arm(ctx, fakeprovider.Knob{Kind: "meteor"})
	var apiErr *fakeprovider.APIError
	require.ErrorAs(t, err, &apiErr)
	require.ErrorIs(t, err, fakeprovider.ErrInvalidConfig)
	s, err := ctl.Ledger(ctx)
	require.NoError(t, err)
	require.Len(t, s.Requests, 1, "bad control input loses nothing and adds nothing")
	require.Len(t, s.Invoices, 1)
	// Bad input on the L402 API.
	require.Equal(t, 404, send(t, http.MethodGet, p.URL()+"/nope/x", "", "", nil).status)
	require.Equal(t, 405, send(t, http.MethodDelete, p.URL()+"/data/x", "", "", nil).status)
	require.Equal(t, 400, send(t, http.MethodPost, p.URL()+"/data/x", strings.Repeat("k", 300), "", nil).status)
	require.Equal(t, 413, send(t, http.MethodPost, p.URL()+"/data/x", "", "", make([]byte, fakeprovider.MaxBody+1)).status)
}
