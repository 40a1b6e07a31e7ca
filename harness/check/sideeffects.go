package check

import (
	"fmt"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// IdempotentSideEffects: an operation runs once. At most one side effect
// per Idempotency-Key, and at most one per purchase.
type IdempotentSideEffects struct{}

func (IdempotentSideEffects) Name() string { return "idempotent-side-effects" }

func (c IdempotentSideEffects) Check(h history.History, t *history.Truth) Result {
	if why, bad := precheck(h, t, ledgerMissing); bad {
		return unknown(c.Name(), why)
	}
	x := newIndex(h, t)
	byPurchase := map[string][]history.SideEffect{}
	byKey := map[string][]history.SideEffect{}
	var keys []string
	for _, s := range t.SideEffects {
		if s.Purchase != "" {
			byPurchase[s.Purchase] = append(byPurchase[s.Purchase], s)
		}
		if s.Key != "" {
			if byKey[s.Key] == nil {
				keys = append(keys, s.Key)
			}
			byKey[s.Key] = append(byKey[s.Key], s)
		}
	}
	var vs []violation
	reported := map[int64]bool{} // side effects already in a violation
	add := func(what string, ses []history.SideEffect) {
		fresh := false
		for _, s := range ses {
			if !reported[s.Seq] {
				fresh = true
			}
			reported[s.Seq] = true
		}
		if !fresh {
			return
		}
		k := ses[0].Purchase
		var hashes []string
		seen := map[string]bool{}
		spans := make([]span, 0, len(ses))
		for _, s := range ses {
			if s.PaymentHash != "" && !seen[norm(s.PaymentHash)] {
				seen[norm(s.PaymentHash)] = true
				hashes = append(hashes, s.PaymentHash)
			}
			at := x.at(s.Time)
			spans = append(spans, span{at, at})
		}
		vs = append(vs, violation{
			purchase: k,
			hashes:   hashes,
			events:   x.events(k, spans...),
			msg:      fmt.Sprintf("%s ran %d side effects (%s)", what, len(ses), seqs(ses, x.at)),
		})
	}
	for _, k := range x.keys {
		if ses := byPurchase[k]; len(ses) > 1 {
			add("purchase "+k, ses)
		}
	}
	for _, key := range keys {
		if ses := byKey[key]; len(ses) > 1 {
			add("Idempotency-Key "+key, ses)
		}
	}
	return verdict(c.Name(), vs, fmt.Sprintf("%s, none repeated", plural(len(t.SideEffects), "side effect", "side effects")))
}

func seqs(ses []history.SideEffect, at func(time.Time) time.Duration) string {
	s := ""
	for i, se := range ses {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("seq %d at %s", se.Seq, at(se.Time).Round(time.Millisecond))
	}
	return s
}
