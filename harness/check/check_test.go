package check_test

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
)

func TestAllInOrder(t *testing.T) {
	require.Equal(t, []string{
		"at-most-once", "no-concurrent-payment", "no-lost-payment", "truthful-outcome", "price-cap",
		"idempotent-side-effects", "retry-discipline", "token-reuse", "eventual-resolution", "hygiene",
	}, check.Names())
}

func TestByName(t *testing.T) {
	cs, err := check.ByName("hygiene", "at-most-once")
	require.NoError(t, err)
	require.Equal(t, []check.Checker{check.Hygiene{}, check.AtMostOnce{}}, cs)

	_, err = check.ByName("at-most-once", "exactly-once")
	require.ErrorIs(t, err, check.ErrUnknownChecker)
	require.EqualError(t, err, `unknown checker "exactly-once": valid names are at-most-once, no-concurrent-payment, `+
		`no-lost-payment, truthful-outcome, price-cap, idempotent-side-effects, retry-discipline, token-reuse, `+
		`eventual-resolution, hygiene`)
}

func TestCleanRunIsValid(t *testing.T) {
	s := clean()
	for _, r := range check.Run(s.h.h, s.t.t, check.All()) {
		require.Equal(t, check.Valid, r.Validity, "result: %s", r)
	}
}

func TestNoTruthIsUnknown(t *testing.T) {
	s, _ := paidTwice()
	broken := *s.t.t
	broken.Errors = []string{"ledger: provider unreachable", "list payments: deadline exceeded"}
	for name, tr := range map[string]*history.Truth{"nil": nil, "errors": &broken} {
		t.Run(name, func(t *testing.T) {
			for _, r := range check.Run(s.h.h, tr, check.All()) {
				require.Equal(t, check.Unknown, r.Validity, "result: %s", r)
				require.NotEmpty(t, r.Message)
			}
		})
	}
}

type panicking struct{}

func (panicking) Name() string { return "panicking" }

func (panicking) Check(history.History, *history.Truth) check.Result {
	var t *history.Truth
	_ = t.Payments[0] // a harness bug: nil dereference
	return check.Result{Validity: check.Invalid}
}

func TestPanicIsUnknown(t *testing.T) {
	s := clean()
	rs := check.Run(s.h.h, s.t.t, []check.Checker{panicking{}, check.AtMostOnce{}})
	require.Len(t, rs, 2)
	require.Equal(t, "panicking", rs[0].Checker)
	require.Equal(t, check.Unknown, rs[0].Validity)
	require.Equal(t, check.Valid, rs[1].Validity)
}

func TestRecheck(t *testing.T) {
	s, _ := paidTwice()
	s.t.balanced()
	dir := t.TempDir()
	require.NoError(t, history.WriteRecord(dir, s.h.h, s.t.t))

	got, err := check.Recheck(dir)
	require.NoError(t, err)
	require.Equal(t, check.Run(s.h.h, s.t.t, check.All()), got)
	require.Equal(t, check.Invalid, got[0].Validity)
	require.Equal(t, []string{hx(1), hx(2)}, got[0].Hashes)
	require.Equal(t, check.Invalid, check.Merge(got))
}

func TestRecheckMissingFiles(t *testing.T) {
	_, err := check.Recheck(t.TempDir())
	require.ErrorIs(t, err, fs.ErrNotExist)
}
