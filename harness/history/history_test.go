package history_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/history"
)

func sample() history.History {
	r := history.NewRecorder(nil)
	r.Add(history.Event{Process: 1, Type: history.Invoke, F: history.Purchase, Key: "k1", Attempt: 1})
	r.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStart, Fault: "down client-lnd"})
	r.Add(history.Event{Process: 1, Type: history.Info, F: history.Purchase, Key: "k1", Attempt: 1, Value: &history.Result{Killed: true, ExitCode: -1}})
	r.Add(history.Event{Process: history.Nemesis, Type: history.Info, F: history.FaultStop, Fault: "down client-lnd"})
	r.Add(history.Event{Process: 2, Type: history.Invoke, F: history.Purchase, Key: "k1", Attempt: 2})
	r.Add(history.Event{Process: 2, Type: history.OK, F: history.Purchase, Key: "k1", Attempt: 2, Value: &history.Result{Outcome: history.Delivered, PaymentHash: "ab12cd34ef"}})
	return r.History()
}

func TestOpsAndFaults(t *testing.T) {
	h := sample()
	require.NoError(t, h.Validate())
	ops := h.Ops()
	require.Len(t, ops, 2)
	require.Equal(t, history.Info, ops[0].Type())
	require.Equal(t, history.OK, ops[1].Type())
	ws := h.Faults()
	require.Len(t, ws, 1)
	require.False(t, ws[0].Open)
	require.True(t, ws[0].Contains(h[2].Time))
}

func TestJSONLRoundTrip(t *testing.T) {
	h := sample()
	var buf bytes.Buffer
	require.NoError(t, h.WriteJSONL(&buf))
	got, err := history.ReadJSONL(&buf)
	require.NoError(t, err)
	require.Equal(t, h, got)
}

func TestReadJSONLRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"not json":           "{nope\n",
		"unknown field":      `{"index":0,"time":0,"process":1,"type":"invoke","f":"purchase","bogus":1}` + "\n",
		"unknown type":       `{"index":0,"time":0,"process":1,"type":"maybe","f":"purchase"}` + "\n",
		"completes nothing":  `{"index":0,"time":0,"process":1,"type":"ok","f":"purchase"}` + "\n",
		"index out of order": `{"index":3,"time":0,"process":1,"type":"invoke","f":"purchase"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := history.ReadJSONL(strings.NewReader(in))
			require.Error(t, err)
		})
	}
}

func FuzzReadJSONL(f *testing.F) {
	var buf bytes.Buffer
	_ = sample().WriteJSONL(&buf)
	f.Add(buf.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := history.ReadJSONL(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever reads back is a valid history and survives a round trip.
		require.NoError(t, h.Validate())
		var out bytes.Buffer
		require.NoError(t, h.WriteJSONL(&out))
		again, err := history.ReadJSONL(&out)
		require.NoError(t, err)
		require.Equal(t, len(h), len(again))
	})
}
