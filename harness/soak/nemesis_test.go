package soak

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSchedule(t *testing.T) {
	ops, err := ParseSchedule([]byte(`[
		{"at": "30s", "fault": "down client-provider", "for": "10s"},
		{"at": "1m", "fault": "crash at payment-in-flight", "for": "5s"}
	]`))
	require.NoError(t, err)
	require.Equal(t, []Op{
		{At: 30 * time.Second, Fault: "down client-provider", For: 10 * time.Second},
		{At: time.Minute, Fault: "crash at payment-in-flight", For: 5 * time.Second},
	}, ops)

	// What a soak writes, it reads back.
	b, err := json.Marshal(ops)
	require.NoError(t, err)
	again, err := ParseSchedule(b)
	require.NoError(t, err)
	require.Equal(t, ops, again)
}

func TestParseScheduleRejects(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"not json":      {`{`, "bad nemesis schedule"},
		"not an array":  {`{"at":"1s"}`, "cannot unmarshal"},
		"unknown field": {`[{"at":"1s","fault":"down client-provider","for":"1s","x":1}]`, `unknown field "x"`},
		"unknown fault": {`[{"at":"1s","fault":"meteor","for":"1s"}]`, `op 1: fault: unknown fault "meteor"`},
		"negative at":   {`[{"at":"-1s","fault":"down client-provider","for":"1s"}]`, "op 1: at: -1s"},
		"bad at":        {`[{"at":"soon","fault":"down client-provider","for":"1s"}]`, `op 1: at: "soon"`},
		"zero for":      {`[{"at":"1s","fault":"down client-provider","for":"0s"}]`, "op 1: for: 0s"},
		"negative for":  {`[{"at":"1s","fault":"down client-provider","for":"-3s"}]`, "op 1: for: -3s"},
		"out of order":  {`[{"at":"5s","fault":"down client-provider","for":"1s"},{"at":"1s","fault":"down client-lnd","for":"1s"}]`, "op 2: at: 1s is before"},
		"trailing data": {`[] []`, "trailing data"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSchedule([]byte(tc.in))
			require.ErrorIs(t, err, ErrBadSchedule)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRandomSchedule(t *testing.T) {
	a, b := Random(7, 10*time.Minute), Random(7, 10*time.Minute)
	require.Equal(t, a, b, "a seed draws one schedule")
	require.NotEqual(t, a, Random(8, 10*time.Minute))
	require.NotEmpty(t, a)
	raw, err := json.Marshal(a)
	require.NoError(t, err)
	parsed, err := ParseSchedule(raw)
	require.NoError(t, err, "a drawn schedule is a valid schedule file")
	require.Equal(t, a, parsed)
	for i, op := range a {
		require.NotContains(t, op.Fault, "drain", "a drain is never undone: not drawn")
		require.Less(t, op.At, 10*time.Minute)
		require.Positive(t, op.For)
		if i > 0 {
			require.GreaterOrEqual(t, op.At, a[i-1].At+a[i-1].For, "one fault at a time, healed before the next")
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	f.Add([]byte(`[{"at":"30s","fault":"down client-provider","for":"10s"}]`))
	f.Add([]byte(`[{"at":"0s","fault":"crash at delivered","for":"1ns"},{"at":"1h","fault":"restart bob","for":"2m"}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"at":"9999999h","fault":"","for":"-1s"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := ParseSchedule(b)
		if err != nil {
			if !errors.Is(err, ErrBadSchedule) {
				t.Fatalf("error outside the taxonomy: %v", err)
			}
			return
		}
		known := map[string]bool{}
		for _, n := range Faults() {
			known[n] = true
		}
		for i, op := range ops {
			if op.At < 0 || op.For <= 0 || !known[op.Fault] || (i > 0 && op.At < ops[i-1].At) {
				t.Fatalf("accepted a bad op %d: %+v", i, op)
			}
		}
		// What parses, round-trips.
		out, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSchedule(out)
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, out)
		}
		if len(again) != len(ops) {
			t.Fatalf("round trip changed the ops")
		}
	})
}
