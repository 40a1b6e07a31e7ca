package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// RetiredFile holds the truth of purchases a long run judged for good and
// forgot (harness.Session.Retire), one JSON Truth per line, appended as
// they retire: the backend's later truths lack them, and ReadRecord
// merges them back, so that a soak's sampled truth stays the size of
// what is live while its record stays whole.
const RetiredFile = "truth.retired.jsonl"

// Of is the part of t that belongs to the purchases keep names: their
// plan entries, requests, side effects and deliveries, and the payments
// and invoices of the hashes those requests carry. It holds no errors: a
// driver retires purchases only on a truth read without any.
func (t *Truth) Of(keep func(purchase string) bool) *Truth {
	out := &Truth{
		Started: t.Started, Collected: t.Collected, Payer: t.Payer, Payee: t.Payee,
		Plan: Plan{BudgetMsat: t.Plan.BudgetMsat, Services: t.Plan.Services},
	}
	hashes := map[string]bool{}
	for _, r := range t.Requests {
		if r.Purchase == "" || !keep(r.Purchase) {
			continue
		}
		out.Requests = append(out.Requests, r)
		for _, h := range []string{r.InvoiceHash, r.MacaroonHash, r.CredentialHash} {
			if h != "" {
				hashes[strings.ToLower(h)] = true
			}
		}
	}
	for _, s := range t.SideEffects {
		if s.Purchase != "" && keep(s.Purchase) {
			out.SideEffects = append(out.SideEffects, s)
		}
	}
	for _, d := range t.Deliveries {
		if d.Purchase != "" && keep(d.Purchase) {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	for _, p := range t.Payments {
		if hashes[strings.ToLower(p.Hash)] {
			out.Payments = append(out.Payments, p)
		}
	}
	for _, i := range t.Invoices {
		if hashes[strings.ToLower(i.Hash)] {
			out.Invoices = append(out.Invoices, i)
		}
	}
	for _, p := range t.Plan.Purchases {
		if keep(p.Key) {
			out.Plan.Purchases = append(out.Plan.Purchases, p)
		}
	}
	return out
}

// AppendRetired appends the truth of retired purchases to dir's
// RetiredFile and syncs it.
func AppendRetired(dir string, t *Truth) error {
	b, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("%s: %w", RetiredFile, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, RetiredFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("append %s: %w", RetiredFile, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", RetiredFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("append %s: %w", RetiredFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append %s: %w", RetiredFile, err)
	}
	return nil
}

// readRetired reads dir's RetiredFile, if any. A last line cut short (a
// harness killed mid-append) is dropped; a bad line before it is an
// error naming the line.
func readRetired(dir string) ([]*Truth, error) {
	f, err := os.Open(filepath.Join(dir, RetiredFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RetiredFile, err)
	}
	defer f.Close()
	var (
		out     []*Truth
		bad     error
		line    int
		scanner = bufio.NewScanner(f)
	)
	scanner.Buffer(make([]byte, 64<<10), 256<<20)
	for scanner.Scan() {
		line++
		if bad != nil {
			return nil, bad // a bad line with more after it
		}
		if len(scanner.Bytes()) == 0 {
			continue
		}
		var t Truth
		if err := json.Unmarshal(scanner.Bytes(), &t); err != nil {
			bad = fmt.Errorf("%s line %d: %w", RetiredFile, line, err)
			continue
		}
		out = append(out, &t)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", RetiredFile, err)
	}
	return out, nil
}

// absorb merges the truths of retired purchases into t, the newest
// sample or the final truth: their records were forgotten after they
// were written, so t lacks them, but a crash between an append and the
// next sample leaves both; duplicates (by sequence number and time, by
// hash, by key) are taken once, t's plan and payments and invoices
// winning (they are newer), the retired requests winning (a request the
// provider kept after its purchase was forgotten is owned by no purchase
// in t).
func (t *Truth) absorb(retired []*Truth) {
	if len(retired) == 0 {
		return
	}
	type seqAt struct {
		seq int64
		at  int64
	}
	keys := map[string]bool{}
	for _, p := range t.Plan.Purchases {
		keys[p.Key] = true
	}
	reqs := map[seqAt]int{}
	for i, r := range t.Requests {
		reqs[seqAt{r.Seq, r.Time.UnixNano()}] = i
	}
	ses, dels := map[seqAt]bool{}, map[seqAt]bool{}
	for _, s := range t.SideEffects {
		ses[seqAt{s.Seq, s.Time.UnixNano()}] = true
	}
	for _, d := range t.Deliveries {
		dels[seqAt{d.Seq, d.Time.UnixNano()}] = true
	}
	pays, invs := map[string]bool{}, map[string]bool{}
	for _, p := range t.Payments {
		pays[strings.ToLower(p.Hash)] = true
	}
	for _, i := range t.Invoices {
		invs[strings.ToLower(i.Hash)] = true
	}
	var plan []PlannedPurchase
	for _, r := range retired {
		for _, p := range r.Plan.Purchases {
			if !keys[p.Key] {
				keys[p.Key] = true
				plan = append(plan, p)
			}
		}
		for _, q := range r.Requests {
			k := seqAt{q.Seq, q.Time.UnixNano()}
			if i, ok := reqs[k]; ok {
				t.Requests[i] = q
				continue
			}
			reqs[k] = len(t.Requests)
			t.Requests = append(t.Requests, q)
		}
		for _, s := range r.SideEffects {
			if k := (seqAt{s.Seq, s.Time.UnixNano()}); !ses[k] {
				ses[k] = true
				t.SideEffects = append(t.SideEffects, s)
			}
		}
		for _, d := range r.Deliveries {
			if k := (seqAt{d.Seq, d.Time.UnixNano()}); !dels[k] {
				dels[k] = true
				t.Deliveries = append(t.Deliveries, d)
			}
		}
		for _, p := range r.Payments {
			if h := strings.ToLower(p.Hash); !pays[h] {
				pays[h] = true
				t.Payments = append(t.Payments, p)
			}
		}
		for _, i := range r.Invoices {
			if h := strings.ToLower(i.Hash); !invs[h] {
				invs[h] = true
				t.Invoices = append(t.Invoices, i)
			}
		}
	}
	t.Plan.Purchases = append(plan, t.Plan.Purchases...)
	slices.SortStableFunc(t.Requests, func(a, b Request) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(t.SideEffects, func(a, b SideEffect) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(t.Deliveries, func(a, b Delivery) int { return a.Time.Compare(b.Time) })
	slices.SortStableFunc(t.Payments, func(a, b Payment) int { return a.Created.Compare(b.Created) })
	slices.SortStableFunc(t.Invoices, func(a, b Invoice) int { return a.Created.Compare(b.Created) })
}
