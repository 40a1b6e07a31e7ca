package fakeprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// Control is a client of the control API. Every call takes a context; an
// error from the API is an *APIError, which errors.Is matches against the
// package's sentinels (ErrNotFound, ErrConflict, ErrInvalidConfig).
type Control struct {
	base  string
	hc    *http.Client
	token string
}

// WithToken is c sending the provider's bearer token (its ControlToken)
// with every call.
func (c *Control) WithToken(token string) *Control {
	cc := *c
	cc.token = token
	return &cc
}

// NewControl returns a client for the control API at baseURL (see
// Provider.ControlURL). hc may be nil for a default client.
func NewControl(baseURL string, hc *http.Client) (*Control, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: control URL %q: want http://host:port", ErrInvalidConfig, baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Control{base: strings.TrimRight(baseURL, "/"), hc: hc}, nil
}

// APIError is an error answered by the control API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("control api: %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap maps the error code to the package's sentinel.
func (e *APIError) Unwrap() error {
	switch e.Code {
	case CodeNotFound:
		return ErrNotFound
	case CodeConflict:
		return ErrConflict
	case CodeInvalid:
		return ErrInvalidConfig
	case CodeUnauthorized:
		return ErrUnauthorized
	}
	return nil
}

func (c *Control) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil || (method != http.MethodGet && method != http.MethodHead) {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("control %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Code == "" {
			return &APIError{Status: resp.StatusCode, Code: CodeInternal, Message: strings.TrimSpace(string(data))}
		}
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("control %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Health checks that the control API answers.
func (c *Control) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/health", nil, nil)
}

// Config reads the services, profile and addresses.
func (c *Control) Config(ctx context.Context) (ConfigView, error) {
	var v ConfigView
	return v, c.do(ctx, http.MethodGet, "/config", nil, &v)
}

// SetProfile replaces the profile.
func (c *Control) SetProfile(ctx context.Context, p Profile) error {
	return c.do(ctx, http.MethodPut, "/profile", p, nil)
}

// Arm arms a knob and returns it with its id.
func (c *Control) Arm(ctx context.Context, k Knob) (Knob, error) {
	var out Knob
	return out, c.do(ctx, http.MethodPost, "/knobs", k, &out)
}

// Knobs lists the armed knobs.
func (c *Control) Knobs(ctx context.Context) ([]Knob, error) {
	var out []Knob
	return out, c.do(ctx, http.MethodGet, "/knobs", nil, &out)
}

// Disarm removes a knob.
func (c *Control) Disarm(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/knobs/"+url.PathEscape(id), nil, nil)
}

// Reset disarms every knob.
func (c *Control) Reset(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/reset", nil, nil)
}

// Ledger exports the ledger.
func (c *Control) Ledger(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	return s, c.do(ctx, http.MethodGet, "/ledger", nil, &s)
}

// Invoice reads one invoice's current state.
func (c *Control) Invoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error) {
	var r InvoiceRecord
	return r, c.do(ctx, http.MethodGet, "/invoices/"+hash.String(), nil, &r)
}

// WaitInvoice waits, on the provider, until an invoice reaches state; the
// wait is bounded by ctx's deadline (default 30s, at most 5m).
func (c *Control) WaitInvoice(ctx context.Context, hash lntypes.Hash, state InvoiceState) (InvoiceRecord, error) {
	q := url.Values{"state": {string(state)}}
	if dl, ok := ctx.Deadline(); ok {
		q.Set("timeout", min(time.Until(dl), maxWait).Round(time.Millisecond).String())
	}
	var r InvoiceRecord
	err := c.do(ctx, http.MethodGet, "/invoices/"+hash.String()+"/wait?"+q.Encode(), nil, &r)
	return r, err
}

// SettleInvoice settles an accepted hold invoice.
func (c *Control) SettleInvoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error) {
	var r InvoiceRecord
	return r, c.do(ctx, http.MethodPost, "/invoices/"+hash.String()+"/settle", nil, &r)
}

// CancelInvoice cancels a hold invoice.
func (c *Control) CancelInvoice(ctx context.Context, hash lntypes.Hash) (InvoiceRecord, error) {
	var r InvoiceRecord
	return r, c.do(ctx, http.MethodPost, "/invoices/"+hash.String()+"/cancel", nil, &r)
}

// RevokeToken revokes a token by id (hex, as in the ledger).
func (c *Control) RevokeToken(ctx context.Context, tokenID string) error {
	return c.do(ctx, http.MethodPost, "/tokens/"+url.PathEscape(tokenID)+"/revoke", nil, nil)
}

// Restart restarts the provider's L402 APIs.
func (c *Control) Restart(ctx context.Context, down time.Duration, forget bool) error {
	return c.do(ctx, http.MethodPost, "/restart", RestartRequest{Down: Duration(down), Forget: forget}, nil)
}

// Notes returns the notes numbered after cursor, waiting on the provider
// up to wait for one (0: answer at once); an empty page when none came.
func (c *Control) Notes(ctx context.Context, cursor int64, wait time.Duration) (NotesPage, error) {
	q := url.Values{"after": {strconv.FormatInt(cursor, 10)}}
	if wait > 0 {
		q.Set("timeout", min(wait, maxWait).String())
	}
	var page NotesPage
	return page, c.do(ctx, http.MethodGet, "/notes?"+q.Encode(), nil, &page)
}

// Forget drops judged purchases from the ledger (see Provider.Forget)
// and returns the hashes dropped.
func (c *Control) Forget(ctx context.Context, paths []string) ([]string, error) {
	var a ForgetAnswer
	err := c.do(ctx, http.MethodPost, "/forget", ForgetRequest{Paths: paths}, &a)
	return a.Hashes, err
}
