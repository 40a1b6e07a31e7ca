package check

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// forever stands for "not yet": the end of an open span.
const forever = time.Duration(math.MaxInt64)

// index is the history and the truth arranged by purchase: every checker
// builds one and reads it.
type index struct {
	h history.History
	t *history.Truth
	// keys are the purchases: plan order, then keys only the history
	// knows, then keys only the ledger knows.
	keys []string
	plan map[string]history.PlannedPurchase
	// ops are each purchase's runs, in invocation order.
	ops map[string][]history.Op
	// challenges are the 402 challenges per invoice hash (lowercase), in
	// ledger order.
	challenges map[string][]history.Request
	// challenged are the invoice hashes each purchase was challenged
	// with (lowercase).
	challenged map[string]map[string]bool
	// payments are each purchase's payments, by creation time; unowned are
	// the payments no challenge explains.
	payments map[string][]history.Payment
	unowned  []history.Payment
	// owner is the challenge each payment answers, by payment hash.
	owner map[string]history.Request
	// requests and deliveries per purchase, in time order.
	requests   map[string][]history.Request
	deliveries map[string][]history.Delivery
	services   map[string]history.Service
}

// sharedIndex lets the checkers of one Run share the index of its history
// and truth (read-only once built) instead of each building its own: the
// simulator runs the checkers after every step. A checker called outside
// Run, or on another history, builds its own.
type sharedIndex struct {
	mu   sync.Mutex
	runs int // Runs in progress; sharing only while exactly one is
	h    history.History
	t    *history.Truth
	x    *index
}

var shared sharedIndex

func (s *sharedIndex) begin(h history.History, t *history.Truth) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs++
	s.h, s.t, s.x = h, t, nil
}

func (s *sharedIndex) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs--
	s.h, s.t, s.x = nil, nil, nil
}

func sameHistory(a, b history.History) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func newIndex(h history.History, t *history.Truth) *index {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.runs != 1 || shared.t != t || !sameHistory(shared.h, h) {
		return buildIndex(h, t)
	}
	if shared.x == nil {
		shared.x = buildIndex(h, t)
	}
	return shared.x
}

func buildIndex(h history.History, t *history.Truth) *index {
	x := &index{
		h: h, t: t,
		plan:       map[string]history.PlannedPurchase{},
		ops:        map[string][]history.Op{},
		challenges: map[string][]history.Request{},
		challenged: map[string]map[string]bool{},
		payments:   map[string][]history.Payment{},
		owner:      map[string]history.Request{},
		requests:   map[string][]history.Request{},
		deliveries: map[string][]history.Delivery{},
		services:   map[string]history.Service{},
	}
	seen := map[string]bool{}
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			x.keys = append(x.keys, k)
		}
	}
	for _, p := range t.Plan.Purchases {
		x.plan[p.Key] = p
		add(p.Key)
	}
	for _, s := range t.Plan.Services {
		x.services[s.Name] = s
	}
	for _, op := range h.Ops() {
		if op.Invoke.F != history.Purchase || op.Invoke.Key == "" {
			continue
		}
		x.ops[op.Invoke.Key] = append(x.ops[op.Invoke.Key], op)
		add(op.Invoke.Key)
	}

	reqs := append([]history.Request(nil), t.Requests...)
	sort.SliceStable(reqs, func(a, b int) bool {
		if !reqs[a].Time.Equal(reqs[b].Time) {
			return reqs[a].Time.Before(reqs[b].Time)
		}
		return reqs[a].Seq < reqs[b].Seq
	})
	for _, r := range reqs {
		if r.Purchase != "" {
			x.requests[r.Purchase] = append(x.requests[r.Purchase], r)
			add(r.Purchase)
		}
		if r.InvoiceHash == "" {
			continue
		}
		hash := norm(r.InvoiceHash)
		x.challenges[hash] = append(x.challenges[hash], r)
		if r.Purchase != "" {
			if x.challenged[r.Purchase] == nil {
				x.challenged[r.Purchase] = map[string]bool{}
			}
			x.challenged[r.Purchase][hash] = true
		}
	}
	dels := append([]history.Delivery(nil), t.Deliveries...)
	sort.SliceStable(dels, func(a, b int) bool {
		if !dels[a].Time.Equal(dels[b].Time) {
			return dels[a].Time.Before(dels[b].Time)
		}
		return dels[a].Seq < dels[b].Seq
	})
	for _, d := range dels {
		if d.Purchase != "" {
			x.deliveries[d.Purchase] = append(x.deliveries[d.Purchase], d)
			add(d.Purchase)
		}
	}
	for _, s := range t.SideEffects {
		add(s.Purchase)
	}

	pays := append([]history.Payment(nil), t.Payments...)
	sortPayments(pays)
	for _, p := range pays {
		ch, ok := x.ownerOf(p)
		if !ok || ch.Purchase == "" {
			x.unowned = append(x.unowned, p)
			continue
		}
		x.owner[norm(p.Hash)] = ch
		x.payments[ch.Purchase] = append(x.payments[ch.Purchase], p)
	}
	return x
}

// ownerOf finds the challenge a payment answers: of the challenges with
// its hash, the last one issued at or before the payment was created (a
// reused invoice is challenged again after it was paid, to another
// purchase that cannot pay it twice), else the first one.
func (x *index) ownerOf(p history.Payment) (history.Request, bool) {
	chs := x.challenges[norm(p.Hash)]
	if len(chs) == 0 {
		return history.Request{}, false
	}
	best := chs[0]
	for _, c := range chs[1:] {
		if !c.Time.After(p.Created) {
			best = c
		}
	}
	return best, true
}

// purchaseOf names the purchase a hash belongs to: the owner of its
// payment, else the first purchase challenged with it.
func (x *index) purchaseOf(hash string) string {
	if ch, ok := x.owner[norm(hash)]; ok {
		return ch.Purchase
	}
	for _, c := range x.challenges[norm(hash)] {
		if c.Purchase != "" {
			return c.Purchase
		}
	}
	return ""
}

// at converts a ledger time into history time.
func (x *index) at(t time.Time) time.Duration { return x.t.HistoryTime(t) }

// paymentSpan is a payment's life in history time: created to resolved,
// or to forever while it is unresolved.
func (x *index) paymentSpan(p history.Payment) span {
	end := forever
	if r, ok := resolvedAt(p); ok {
		end = x.at(r)
	}
	return span{x.at(p.Created), end}
}

// opSpan is an operation's life: invoked to completed, or forever while
// it is open.
func opSpan(op history.Op) span {
	if op.Complete == nil {
		return span{op.Invoke.Time, forever}
	}
	return span{op.Invoke.Time, op.Complete.Time}
}

// span is a closed interval of history time.
type span struct{ from, to time.Duration }

func (s span) overlaps(o span) bool { return s.from <= o.to && o.from <= s.to }

// events are the invocations and completions of key's operations that
// overlap any of spans; if none does, those of every operation of key, so
// a witness always points somewhere.
func (x *index) events(key string, spans ...span) []int64 {
	set := map[int64]bool{}
	for _, op := range x.ops[key] {
		os := opSpan(op)
		for _, s := range spans {
			if os.overlaps(s) {
				addOp(set, op)
				break
			}
		}
	}
	if len(set) == 0 {
		for _, op := range x.ops[key] {
			addOp(set, op)
		}
	}
	return history.Sorted(set)
}

func addOp(set map[int64]bool, op history.Op) {
	set[op.Invoke.Index] = true
	if op.Complete != nil {
		set[op.Complete.Index] = true
	}
}

func opEvents(ops ...history.Op) []int64 {
	set := map[int64]bool{}
	for _, op := range ops {
		addOp(set, op)
	}
	return history.Sorted(set)
}

// lastOp is the purchase's last run: one still open if any (it never
// reported), else the one that completed last.
func (x *index) lastOp(key string) (history.Op, bool) {
	ops := x.ops[key]
	if len(ops) == 0 {
		return history.Op{}, false
	}
	var last history.Op
	for i, op := range ops {
		if op.Complete == nil {
			return op, true
		}
		if i == 0 || op.Complete.Index > last.Complete.Index {
			last = op
		}
	}
	return last, true
}

// resolvedAt is when a payment stopped moving. A payment with no
// resolution time is resolved by its last attempt's, and a failed one that
// never made an attempt failed as it was created: no HTLC ever left.
func resolvedAt(p history.Payment) (time.Time, bool) {
	switch p.Status {
	case history.PaymentInFlight, history.PaymentInitiated:
		return time.Time{}, false
	}
	if !p.Resolved.IsZero() {
		return p.Resolved, true
	}
	var last time.Time
	for _, a := range p.Attempts {
		if a.Resolved.IsZero() {
			return time.Time{}, false
		}
		if a.Resolved.After(last) {
			last = a.Resolved
		}
	}
	if !last.IsZero() {
		return last, true
	}
	if p.Status == history.PaymentFailed && len(p.Attempts) == 0 {
		return p.Created, true
	}
	return time.Time{}, false
}

func sortPayments(ps []history.Payment) {
	sort.SliceStable(ps, func(a, b int) bool {
		if !ps[a].Created.Equal(ps[b].Created) {
			return ps[a].Created.Before(ps[b].Created)
		}
		return ps[a].Hash < ps[b].Hash
	})
}

func succeeded(p history.Payment) bool { return p.Status == history.PaymentSucceeded }

// norm is the form hashes are compared in.
func norm(hash string) string { return strings.ToLower(strings.TrimSpace(hash)) }

func sameHash(a, b string) bool { return a != "" && norm(a) == norm(b) }

// unusable says why t cannot be judged at all: it is missing, or the
// harness failed while collecting it.
func unusable(t *history.Truth) (string, bool) {
	switch {
	case t == nil:
		return "no ground truth collected", true
	case len(t.Errors) == 1:
		return "ground truth incomplete: " + t.Errors[0], true
	case len(t.Errors) > 1:
		return fmt.Sprintf("ground truth incomplete: %s (and %d more errors)", t.Errors[0], len(t.Errors)-1), true
	}
	return "", false
}

// paymentsMissing says why the payer's payments look uncollected: none
// is listed, yet the payee settled invoices or the provider delivered.
func paymentsMissing(_ history.History, t *history.Truth) (string, bool) {
	if len(t.Payments) > 0 {
		return "", false
	}
	for _, inv := range t.Invoices {
		if inv.State == history.InvoiceSettled || inv.State == history.InvoiceAccepted {
			return "no payer payments collected, but invoice " + history.Short(inv.Hash) + " is " + inv.State, true
		}
	}
	if len(t.Deliveries) > 0 {
		return "no payer payments collected, but the provider delivered", true
	}
	return "", false
}

// ledgerMissing says why the provider's ledger looks uncollected: no
// request is listed, yet the provider delivered, or invoices were made or
// payments sent during the run (the provider makes invoices only to
// answer requests). A client's claims are no evidence here: a client that
// lies must not turn a verdict into Unknown.
func ledgerMissing(_ history.History, t *history.Truth) (string, bool) {
	if len(t.Requests) > 0 {
		return "", false
	}
	if len(t.Deliveries) > 0 || len(t.SideEffects) > 0 {
		return "provider ledger has deliveries but no requests", true
	}
	for _, p := range t.Payments {
		if inRun(t, p.Created) {
			return "no provider requests collected, but payment " + history.Short(p.Hash) + " was sent during the run", true
		}
	}
	for _, inv := range t.Invoices {
		if inRun(t, inv.Created) {
			return "no provider requests collected, but invoice " + history.Short(inv.Hash) + " was made during the run", true
		}
	}
	return "", false
}

// inRun reports whether a ledger time falls after the history began.
func inRun(t *history.Truth, at time.Time) bool { return t.Started.IsZero() || !at.Before(t.Started) }

// inRunSeconds is inRun for times lnd keeps in whole seconds (an
// invoice's settle date): the second the run began counts.
func inRunSeconds(t *history.Truth, at time.Time) bool {
	return t.Started.IsZero() || !at.Before(t.Started.Truncate(time.Second))
}

// Unjudgeable says why a run's truth cannot be judged, as the checkers of
// this package gate themselves: none collected, errors while collecting
// it, or the payer's payments or the provider's ledger look uncollected.
// Checkers of other packages use it alike.
func Unjudgeable(h history.History, t *history.Truth) (string, bool) {
	return precheck(h, t, paymentsMissing, ledgerMissing)
}

// precheck runs the usual gates: a usable truth, and the facts a checker
// needs.
func precheck(h history.History, t *history.Truth, needs ...func(history.History, *history.Truth) (string, bool)) (string, bool) {
	if why, bad := unusable(t); bad {
		return why, true
	}
	for _, n := range needs {
		if why, bad := n(h, t); bad {
			return why, true
		}
	}
	return "", false
}

// violation is one breach of an invariant, with its witness.
type violation struct {
	purchase string
	hashes   []string
	events   []int64
	msg      string
}

// verdict is the checker's result: the first violation, saying how many
// more there are, or Valid with a summary.
func verdict(name string, vs []violation, summary string) Result {
	if len(vs) == 0 {
		return Result{Checker: name, Validity: Valid, Message: summary}
	}
	v := vs[0]
	msg := v.msg
	if n := len(vs) - 1; n == 1 {
		msg += "; 1 more violation"
	} else if n > 1 {
		msg += fmt.Sprintf("; %d more violations", n)
	}
	return Result{Checker: name, Validity: Invalid, Message: msg, Purchase: v.purchase, Hashes: v.hashes, Events: v.events}
}

func unknown(name, why string) Result {
	return Result{Checker: name, Validity: Unknown, Message: why}
}

func shorts(hashes []string) string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = history.Short(h)
	}
	return strings.Join(out, ", ")
}

func hashesOf(ps []history.Payment) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Hash
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func msat(v int64) string { return fmt.Sprintf("%d msat", v) }
