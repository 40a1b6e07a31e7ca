package property_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/property"
)

func TestParseSteps(t *testing.T) {
	steps, err := property.ParseSteps([]byte(`[{"op":"buy","key":"o1","service":"ops"},{"op":"fault","fault":"knob error-after"},{"op":"heal"},{"op":"wait","wait":1000000000}]`))
	require.NoError(t, err)
	require.Len(t, steps, 4)
	require.Equal(t, "buy o1 ops", steps[0].String())
	for _, bad := range []string{
		``, `{}`, `[{"op":"buy"}]`, `[{"op":"buy","key":"k","service":"nope"}]`, `[{"op":"crash","key":"k","service":"ops"}]`,
		`[{"op":"fault","fault":"no such fault"}]`, `[{"op":"mine","blocks":0}]`, `[{"op":"wait","wait":-1}]`,
		`[{"op":"jump"}]`, `[{"op":"heal","extra":1}]`, `[] []`, `[{"op":"buy","key":"k","service":"data","method":"PUT"}]`,
	} {
		_, err := property.ParseSteps([]byte(bad))
		require.ErrorIs(t, err, property.ErrBadStep, "%q", bad)
	}
}

func TestFaultTable(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range property.FaultNames() {
		require.False(t, seen[n], "duplicate fault name %q", n)
		seen[n] = true
		f, ok := property.FaultByName(n)
		require.True(t, ok)
		require.Equal(t, n, f.Name())
	}
}

// FuzzParseSteps: any input either parses into valid steps that
// round-trip through JSON, or fails with ErrBadStep.
func FuzzParseSteps(f *testing.F) {
	f.Add([]byte(`[{"op":"buy","key":"o1","service":"ops"},{"op":"crash","key":"d1","service":"data","phase":"payment-in-flight"}]`))
	f.Add([]byte(`[{"op":"mine","blocks":6},{"op":"wait","wait":100}]`))
	f.Add([]byte(`[{"op":"fault","fault":"down lnd-lnd"},{"op":"heal"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		steps, err := property.ParseSteps(b)
		if err != nil {
			if !errors.Is(err, property.ErrBadStep) {
				t.Fatalf("error not ErrBadStep: %v", err)
			}
			return
		}
		out, err := json.Marshal(steps)
		if err != nil {
			t.Fatal(err)
		}
		again, err := property.ParseSteps(out)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, out)
		}
		if len(again) != len(steps) {
			t.Fatalf("round trip: %d steps, want %d", len(again), len(steps))
		}
	})
}

// Classes sorts the classes of attempts that ran at once, whose order of
// ending is timing's, and keeps the order of the others.
func TestClassesOfAPair(t *testing.T) {
	res := func(o history.Outcome, pnd bool) *history.Result {
		return &history.Result{Outcome: o, PaidNotDelivered: pnd}
	}
	h := history.History{
		{Index: 0, Process: 1, Type: history.Invoke, F: history.Purchase, Key: "k"},
		{Index: 1, Process: 1, Type: history.Info, F: history.Purchase, Key: "k", Value: res(history.Unknown, true)},
		{Index: 2, Process: 2, Type: history.Invoke, F: history.Purchase, Key: "k"},
		{Index: 3, Process: 3, Type: history.Invoke, F: history.Purchase, Key: "k"},
		{Index: 4, Process: 3, Type: history.Info, F: history.Purchase, Key: "k", Value: res(history.Unknown, false)},
		{Index: 5, Process: 2, Type: history.Info, F: history.Purchase, Key: "k", Value: res(history.Unknown, true)},
		{Index: 6, Process: 4, Type: history.Invoke, F: history.Purchase, Key: "k"},
		{Index: 7, Process: 4, Type: history.OK, F: history.Purchase, Key: "k", Value: res(history.Delivered, false)},
	}
	require.Equal(t, map[string][]string{"k": {
		property.ClassPaidNotDelivered, property.ClassPaidNotDelivered, property.ClassUnknown, property.ClassDelivered,
	}}, property.Classes(h))
}
