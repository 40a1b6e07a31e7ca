// Package testlog gives tests a slog logger that writes through t.Log, so
// that logs show under the test that made them and only when it fails
// or runs with -v. It is a leaf: the test helpers of the network and of
// the provider both use it without linking each other.
package testlog

import (
	"log/slog"
	"testing"
)

// New returns a logger that writes through t.Log at level Info.
func New(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
