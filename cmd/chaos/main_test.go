package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		// As main does: an interrupt ends the command's context.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Setenv(envTestMain, "1") // for the processes the tests start; tests themselves never read it
	os.Exit(m.Run())
}
