package fakeprovider

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lightningnetwork/lnd/lntypes"
)

// The control API: JSON over HTTP on its own loopback listener, for the
// harness (and people) to steer the provider. Every call but /health
// carries the provider's bearer token (Authorization: Bearer, see
// ControlToken; 401 without it), and every call that changes something
// (POST, PUT, DELETE) is Content-Type: application/json (415 otherwise),
// so that a web page open in the operator's browser can neither read it
// nor arm a fault with a cross-origin form post. Errors are
// {"error": {"code": "...", "message": "..."}} with a status that says
// what kind they are:
//
//	GET    /health                         200 {"ok": true}
//	GET    /config                         the services and profile
//	PUT    /profile                        replace the profile
//	GET    /knobs                          armed knobs and how often they fired
//	POST   /knobs                          arm a knob, answers it with its id
//	DELETE /knobs/{id}                     disarm
//	POST   /reset                          disarm every knob
//	GET    /ledger                         the ledger, invoice states read from LND
//	GET    /invoices/{hash}                one invoice, read from LND
//	GET    /invoices/{hash}/wait?state=S&timeout=10s
//	POST   /invoices/{hash}/settle         settle an accepted hold invoice
//	POST   /invoices/{hash}/cancel         cancel a hold invoice
//	POST   /tokens/{id}/revoke             revoke a token's root key
//	POST   /restart {"down": "1s", "forget": false}
//	GET    /notes?after=N&timeout=25s&max=1000
//	                                       the notes numbered after N, waiting
//	                                       up to timeout for one (a NotesPage)
//	POST   /forget {"paths": ["/data/k1"]} drop judged purchases from the
//	                                       ledger, answers {"hashes": [...]}

// Error codes of the control API, one per sentinel.
const (
	CodeBadRequest  = "bad_request"
	CodeInvalid     = "invalid_config"
	CodeNotFound    = "not_found"
	CodeConflict    = "conflict"
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
	// CodeUnauthorized: no or a wrong bearer token (401).
	CodeUnauthorized = "unauthorized"
	// CodeMediaType: a call that changes something without
	// Content-Type: application/json (415).
	CodeMediaType = "unsupported_media_type"
)

// ErrUnauthorized: the control API refused a call without its token.
var ErrUnauthorized = errors.New("unauthorized: the control API wants its bearer token")

// guard refuses calls without the token, and calls that change
// something without a JSON content type, before they reach the API.
func (p *Provider) guard(next http.Handler) http.Handler {
	want := []byte("Bearer " + p.ctlToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]apiError{"error": {Code: CodeUnauthorized,
				Message: "missing or wrong bearer token (Authorization: Bearer <the provider's control token>)"}})
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		default:
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				writeJSON(w, http.StatusUnsupportedMediaType, map[string]apiError{"error": {Code: CodeMediaType,
					Message: r.Method + " wants Content-Type: application/json"}})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxControlBody bounds a control request.
const maxControlBody = 64 << 10

// maxWait bounds a wait request.
const maxWait = 5 * time.Minute

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status, code := http.StatusInternalServerError, CodeInternal
	switch {
	case errors.Is(err, errBadRequest):
		status, code = http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, ErrInvalidConfig):
		status, code = http.StatusBadRequest, CodeInvalid
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvoiceNotFound):
		status, code = http.StatusNotFound, CodeNotFound
	case errors.Is(err, ErrConflict):
		status, code = http.StatusConflict, CodeConflict
	case errors.Is(err, context.DeadlineExceeded):
		status, code = http.StatusGatewayTimeout, CodeUnavailable
	}
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: err.Error()}})
}

var errBadRequest = errors.New("bad request")

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", errBadRequest)
	}
	return nil
}

func pathHash(r *http.Request) (lntypes.Hash, error) {
	h, err := lntypes.MakeHashFromStr(r.PathValue("hash"))
	if err != nil {
		return h, fmt.Errorf("%w: payment hash: %w", errBadRequest, err)
	}
	return h, nil
}

// RestartRequest is the body of POST /restart.
type RestartRequest struct {
	Down   Duration `json:"down"`
	Forget bool     `json:"forget,omitempty"`
}

// ForgetRequest is the body of POST /forget, ForgetAnswer its answer.
type ForgetRequest struct {
	Paths []string `json:"paths"`
}

// ForgetAnswer lists the invoice and challenge hashes dropped.
type ForgetAnswer struct {
	Hashes []string `json:"hashes"`
}

// maxNotesPage bounds one GET /notes answer.
const maxNotesPage = 10000

// ConfigView is the answer of GET /config.
type ConfigView struct {
	Services []Service `json:"services"`
	Profile  Profile   `json:"profile"`
	URL      string    `json:"url"`
	GRPCAddr string    `json:"grpc_addr"`
}

func (p *Provider) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ConfigView{Services: p.Services(), Profile: p.Profile(), URL: p.URL(), GRPCAddr: p.GRPCAddr()})
	})
	mux.HandleFunc("PUT /profile", func(w http.ResponseWriter, r *http.Request) {
		var pr Profile
		if err := decode(r, &pr); err != nil {
			writeError(w, err)
			return
		}
		if err := p.SetProfile(pr); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, pr)
	})
	mux.HandleFunc("GET /knobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, p.Knobs())
	})
	mux.HandleFunc("POST /knobs", func(w http.ResponseWriter, r *http.Request) {
		var k Knob
		if err := decode(r, &k); err != nil {
			writeError(w, err)
			return
		}
		armed, err := p.Arm(k)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, armed)
	})
	mux.HandleFunc("DELETE /knobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := p.Disarm(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		p.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /ledger", func(w http.ResponseWriter, r *http.Request) {
		snap, err := p.Ledger(r.Context())
		if err != nil {
			p.log.Warn("ledger: some invoice states could not be read", "err", err)
		}
		writeJSON(w, http.StatusOK, snap)
	})
	mux.HandleFunc("GET /invoices/{hash}", func(w http.ResponseWriter, r *http.Request) {
		h, err := pathHash(r)
		if err != nil {
			writeError(w, err)
			return
		}
		p.writeInvoice(w, r, h)
	})
	mux.HandleFunc("GET /invoices/{hash}/wait", func(w http.ResponseWriter, r *http.Request) {
		h, err := pathHash(r)
		if err != nil {
			writeError(w, err)
			return
		}
		state := InvoiceState(r.URL.Query().Get("state"))
		switch state {
		case InvoiceOpen, InvoiceAccepted, InvoiceSettled, InvoiceCanceled:
		default:
			writeError(w, fmt.Errorf("%w: state %q: want OPEN, ACCEPTED, SETTLED or CANCELED", errBadRequest, state))
			return
		}
		timeout, err := queryTimeout(r.URL.Query(), 30*time.Second, time.Nanosecond)
		if err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		if err := p.WaitInvoice(ctx, h, state); err != nil {
			writeError(w, err)
			return
		}
		p.writeInvoice(w, r, h)
	})
	resolve := func(f func(context.Context, lntypes.Hash) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h, err := pathHash(r)
			if err == nil {
				err = f(r.Context(), h)
			}
			if err != nil {
				writeError(w, err)
				return
			}
			p.writeInvoice(w, r, h)
		}
	}
	mux.HandleFunc("POST /invoices/{hash}/settle", resolve(p.SettleInvoice))
	mux.HandleFunc("POST /invoices/{hash}/cancel", resolve(p.CancelInvoice))
	mux.HandleFunc("POST /tokens/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := p.RevokeToken(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		var req RestartRequest
		if err := decode(r, &req); err != nil {
			writeError(w, err)
			return
		}
		if req.Down < 0 || time.Duration(req.Down) > maxWait {
			writeError(w, fmt.Errorf("%w: down %s: want 0 to %s", errBadRequest, time.Duration(req.Down), maxWait))
			return
		}
		if err := p.Restart(r.Context(), time.Duration(req.Down), req.Forget); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"url": p.URL(), "grpc_addr": p.GRPCAddr()})
	})
	mux.HandleFunc("GET /notes", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cursor, err := queryInt(q, "after", 0, 0, math.MaxInt64)
		if err != nil {
			writeError(w, err)
			return
		}
		limit, err := queryInt(q, "max", 1000, 1, maxNotesPage)
		if err != nil {
			writeError(w, err)
			return
		}
		timeout, err := queryTimeout(q, 0, 0)
		if err != nil {
			writeError(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		writeJSON(w, http.StatusOK, p.Notes(ctx, cursor, int(limit)))
	})
	mux.HandleFunc("POST /forget", func(w http.ResponseWriter, r *http.Request) {
		var req ForgetRequest
		if err := decode(r, &req); err != nil {
			writeError(w, err)
			return
		}
		hashes := p.Forget(req.Paths)
		if hashes == nil {
			hashes = []string{}
		}
		writeJSON(w, http.StatusOK, ForgetAnswer{Hashes: hashes})
	})
	return mux
}

// queryInt reads the integer parameter name, def when absent; outside
// [lo, hi] it is a bad request.
func queryInt(q url.Values, name string, def, lo, hi int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%w: %s %q: want an integer from %d to %d", errBadRequest, name, v, lo, hi)
	}
	return n, nil
}

// queryTimeout reads the timeout parameter, def when absent; below
// least or above maxWait it is a bad request.
func queryTimeout(q url.Values, def, least time.Duration) (time.Duration, error) {
	v := q.Get("timeout")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < least || d > maxWait {
		return 0, fmt.Errorf("%w: timeout %q: want a duration up to %s", errBadRequest, v, maxWait)
	}
	return d, nil
}

// writeInvoice answers an invoice's current state, read from the node.
func (p *Provider) writeInvoice(w http.ResponseWriter, r *http.Request, h lntypes.Hash) {
	rec, err := p.Invoice(r.Context(), h)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}
