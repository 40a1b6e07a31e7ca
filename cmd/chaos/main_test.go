package main

import (
	"context"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	// A process started with test flags is this test binary's own (a
	// fuzzing worker), whatever it inherited.
	worker := slices.ContainsFunc(os.Args[1:], func(a string) bool { return strings.HasPrefix(a, "-test.") })
	if os.Getenv(envTestMain) == "1" && !worker {
		// As main does: an interrupt ends the command's context.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Setenv(envTestMain, "1") // for the processes the tests start; tests themselves never read it
	os.Exit(m.Run())
}
