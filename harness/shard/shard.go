// Package shard splits a run's work across machines: `-shard K/N` takes
// the K-th of N deterministic shares of the scenarios, the certification
// cases or the simulator's seeds. Every machine computes the same
// partition from the same inputs (the item names and their expected
// durations), with no coordinator, so N independent jobs (a GitHub
// Actions matrix, a Kubernetes Indexed Job) cover the work exactly once,
// and `chaos report merge` puts it back together.
//
// K counts from 0, as Kubernetes' JOB_COMPLETION_INDEX does, so that a
// Job's pods pass -shard=$(JOB_COMPLETION_INDEX)/N as they are.
//
// Shares are balanced by expected duration with the longest-processing-
// time rule: items from the longest down (ties by name) each go to the
// least loaded shard (ties to the lowest index). That is within 4/3 of
// the best possible makespan, and it depends on nothing but its inputs.
package shard

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrShard: a -shard value that names no share.
var ErrShard = errors.New("bad shard")

// MaxCount bounds N: more shards than that is a typo, not a plan.
const MaxCount = 1000

// Shard is one share of N. The zero Shard is the whole work, unsharded.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// Whole is the zero Shard: all the work.
var Whole = Shard{}

// Parse reads "K/N" (0 <= K < N <= MaxCount). The empty string is Whole.
func Parse(s string) (Shard, error) {
	if s == "" {
		return Whole, nil
	}
	k, n, ok := strings.Cut(s, "/")
	if !ok || !digits(k) || !digits(n) {
		if ok {
			return Whole, fmt.Errorf("%w: %q: want K/N with two whole numbers", ErrShard, s)
		}
		return Whole, fmt.Errorf("%w: %q: want K/N, the K-th of N shares counted from 0 (0/4 ... 3/4)", ErrShard, s)
	}
	ki, errK := strconv.Atoi(k)
	ni, errN := strconv.Atoi(n)
	switch {
	case errK != nil || errN != nil:
		return Whole, fmt.Errorf("%w: %q: want K/N with two whole numbers", ErrShard, s)
	case ni < 1:
		return Whole, fmt.Errorf("%w: %q: the number of shares must be at least 1", ErrShard, s)
	case ni > MaxCount:
		return Whole, fmt.Errorf("%w: %q: at most %d shares", ErrShard, s, MaxCount)
	case ki < 0 || ki >= ni:
		return Whole, fmt.Errorf("%w: %q: K counts from 0 and must be below N (0 to %d)", ErrShard, s, ni-1)
	}
	return Shard{Index: ki, Count: ni}, nil
}

// digits reports whether s is 1 to 4 decimal digits, nothing else.
func digits(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IsWhole reports whether s is the whole work.
func (s Shard) IsWhole() bool { return s.Count == 0 }

// String is "K/N", or "" for the whole work: Parse(s.String()) == s.
func (s Shard) String() string {
	if s.IsWhole() {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Valid reports whether s is Whole or a share Parse accepts.
func (s Shard) Valid() bool {
	return s.IsWhole() || (s.Count >= 1 && s.Count <= MaxCount && s.Index >= 0 && s.Index < s.Count)
}

// Item is one unit of work: a unique name and its expected duration.
type Item struct {
	Name     string
	Expected time.Duration
}

// Partition assigns every item to one of n shares by the longest-
// processing-time rule and returns each share's item names, in the
// order the items were given. Names must be unique.
func Partition(items []Item, n int) ([][]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: %d shares", ErrShard, n)
	}
	seen := make(map[string]bool, len(items))
	order := make(map[string]int, len(items))
	for i, it := range items {
		if seen[it.Name] {
			return nil, fmt.Errorf("%w: %q is listed twice", ErrShard, it.Name)
		}
		seen[it.Name], order[it.Name] = true, i
	}
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b Item) int {
		if c := cmp.Compare(b.Expected, a.Expected); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	load := make([]time.Duration, n)
	shares := make([][]string, n)
	for _, it := range sorted {
		least := 0
		for i := 1; i < n; i++ {
			if load[i] < load[least] {
				least = i
			}
		}
		load[least] += max(it.Expected, 0)
		shares[least] = append(shares[least], it.Name)
	}
	for _, sh := range shares {
		slices.SortFunc(sh, func(a, b string) int { return cmp.Compare(order[a], order[b]) })
	}
	return shares, nil
}

// Select keeps the items of share s, in their given order: all of them
// for the whole work. key names an item; expected is its duration.
func Select[T any](items []T, s Shard, key func(T) string, expected func(T) time.Duration) ([]T, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: %d/%d", ErrShard, s.Index, s.Count)
	}
	if s.IsWhole() {
		return items, nil
	}
	list := make([]Item, len(items))
	for i, it := range items {
		list[i] = Item{Name: key(it), Expected: expected(it)}
	}
	shares, err := Partition(list, s.Count)
	if err != nil {
		return nil, err
	}
	mine := make(map[string]bool, len(shares[s.Index]))
	for _, name := range shares[s.Index] {
		mine[name] = true
	}
	var out []T
	for _, it := range items {
		if mine[key(it)] {
			out = append(out, it)
		}
	}
	return out, nil
}

// Range is share s of the indices [0, total): a contiguous block, the
// first total%N shares one longer. Used for seeds, whose costs are equal.
func Range(total int, s Shard) (lo, hi int) {
	if s.IsWhole() {
		return 0, total
	}
	q, r := total/s.Count, total%s.Count
	lo = s.Index*q + min(s.Index, r)
	hi = lo + q
	if s.Index < r {
		hi++
	}
	return lo, hi
}
