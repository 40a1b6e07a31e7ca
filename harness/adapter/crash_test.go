package adapter

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness"
)

// crashScript dies at L402_CRASH_AT as the protocol says: the marker on
// stderr, then SIGKILL. Without the variable it delivers; with
// NO_MARKER set it dies without its last words.
const crashScript = `
if [ -n "$L402_CRASH_AT" ]; then
	[ -z "$NO_MARKER" ] && echo "` + CrashMarker + `$L402_CRASH_AT" >&2
	kill -9 $$
fi
echo '{"outcome":"delivered","status":200}'
`

func TestExecCrashPoint(t *testing.T) {
	ctx := context.Background()
	withCrash := func(t *testing.T, crash bool, extra ...string) *Exec {
		path := filepath.Join(t.TempDir(), "client.sh")
		require.NoError(t, os.WriteFile(path, []byte(crashScript), 0o600))
		cfg := fakeLND
		cfg.StateRoot, cfg.CrashPoints, cfg.ExtraEnv = t.TempDir(), crash, extra
		e, err := NewExec([]string{"/bin/sh", path}, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, e.Close()) })
		return e
	}

	t.Run("dies where asked", func(t *testing.T) {
		e := withCrash(t, true)
		require.True(t, e.CrashPoints())
		p := buy("k1")
		p.CrashAt = "dispatched"
		res, err := e.Purchase(ctx, p)
		require.ErrorIs(t, err, ErrCrashed)
		require.True(t, res.Killed)
		require.Equal(t, "dispatched", res.CrashPoint)
		var af harness.AdapterFault
		require.True(t, errors.As(err, &af))
		require.False(t, af.AdapterFault(), "a crash asked for is no protocol fault")

		// The restart runs without the variable.
		res, err = e.Purchase(ctx, buy("k1"))
		require.NoError(t, err)
		require.Empty(t, res.CrashPoint)
	})
	t.Run("a SIGKILL without the marker is not the crash point", func(t *testing.T) {
		e := withCrash(t, true, "NO_MARKER=1")
		p := buy("k1")
		p.CrashAt = "dispatched"
		res, err := e.Purchase(ctx, p)
		require.ErrorIs(t, err, ErrNoReport)
		require.Empty(t, res.CrashPoint)
	})
	t.Run("refused for a client without crash points", func(t *testing.T) {
		e := withCrash(t, false)
		require.False(t, e.CrashPoints())
		p := buy("k1")
		p.CrashAt = "intent"
		_, err := e.Purchase(ctx, p)
		require.ErrorIs(t, err, harness.ErrNeedsCrashPoints)
	})
}
