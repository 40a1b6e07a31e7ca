package main

import (
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv(envTestMain, "1") // for the processes the tests start; tests themselves never read it
	os.Exit(m.Run())
}
