package regtest

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPortsBelowTheEphemeralRange: ports come from below the kernel's
// ephemeral range, each once, and can be listened on; with no room below
// the range the kernel picks them.
func TestPortsBelowTheEphemeralRange(t *testing.T) {
	s := newPortSet(32768)
	seen := map[string]bool{}
	for range 50 {
		addr, err := s.next()
		require.NoError(t, err)
		require.False(t, seen[addr], "handed out twice: %s", addr)
		seen[addr] = true
		_, p, err := net.SplitHostPort(addr)
		require.NoError(t, err)
		port, _ := strconv.Atoi(p)
		require.GreaterOrEqual(t, port, portFloor)
		require.Less(t, port, 32768)
		l, err := net.Listen("tcp", addr)
		require.NoError(t, err)
		l.Close()
	}

	s = newPortSet(portFloor + 10)
	require.Zero(t, s.hi, "no room below the range: the kernel picks")
	addr, err := s.next()
	require.NoError(t, err)
	require.NotEqual(t, "127.0.0.1:0", addr)
}

func TestEphemeralRange(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]int{
		"32768\t60999\n": 32768,
		"1024 65535":     1024,
		"":               0,
		"x 60999":        0,
		"70000 80000":    0,
		"32768":          0,
	} {
		path := filepath.Join(dir, "range")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		require.Equal(t, want, ephemeralRange(path), "%q", content)
	}
	require.Zero(t, ephemeralRange(filepath.Join(dir, "missing")))
}
