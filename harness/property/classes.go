package property

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/l402chaos/l402chaos/harness/history"
)

// Outcome classes of one attempt, as the differential check compares
// them.
const (
	ClassDelivered        = "delivered"
	ClassFailed           = "failed"
	ClassPaidNotDelivered = "paid-not-delivered"
	ClassUnknown          = "unknown"
	ClassNoReport         = "no-report" // killed, crashed, or nothing usable
)

// Classes maps each purchase key to its attempts' outcome classes, in
// the order they were invoked. Attempts that ran at once (a pair) end in
// an order timing decides: their classes are sorted among themselves.
func Classes(h history.History) map[string][]string {
	byKey := map[string][]history.Op{}
	for _, op := range h.Ops() {
		if op.Invoke.F == history.Purchase && op.Complete != nil {
			byKey[op.Invoke.Key] = append(byKey[op.Invoke.Key], op)
		}
	}
	out := map[string][]string{}
	for k, ops := range byKey {
		var classes []string
		for i := 0; i < len(ops); {
			// A group: every op invoked before the group's first
			// completion.
			j, end := i+1, ops[i].Complete.Index
			for j < len(ops) && ops[j].Invoke.Index < end {
				end = min(end, ops[j].Complete.Index)
				j++
			}
			group := make([]string, 0, j-i)
			for _, op := range ops[i:j] {
				group = append(group, classOf(*op.Complete))
			}
			slices.Sort(group)
			classes = append(classes, group...)
			i = j
		}
		out[k] = classes
	}
	return out
}

func classOf(e history.Event) string {
	switch {
	case e.Type == history.OK:
		return ClassDelivered
	case e.Type == history.Fail:
		return ClassFailed
	case e.Value == nil || e.Value.Outcome == "" || e.Value.Killed:
		return ClassNoReport
	case e.Value.PaidNotDelivered:
		return ClassPaidNotDelivered
	}
	return ClassUnknown
}

// Disagreement is one purchase whose classes differ between two tiers.
type Disagreement struct {
	Key   string
	A, B  []string
	Names [2]string
}

func (d Disagreement) String() string {
	return fmt.Sprintf("%s: %s [%s], %s [%s]", d.Key, d.Names[0], strings.Join(d.A, " "), d.Names[1], strings.Join(d.B, " "))
}

// Diff compares two tiers' classes, key by key.
func Diff(nameA string, a map[string][]string, nameB string, b map[string][]string) []Disagreement {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []Disagreement
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Equal(a[k], b[k]) {
			out = append(out, Disagreement{Key: k, A: a[k], B: b[k], Names: [2]string{nameA, nameB}})
		}
	}
	return out
}
