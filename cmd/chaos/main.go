// Command chaos runs the l402chaos harness from the command line.
//
//	chaos up        start a regtest Lightning network and stay up until Ctrl-C
//	chaos build     build (or find in the cache) the lnd and btcd binaries
//	chaos version   print versions
//
// Exit codes (every command; chaos -h prints the table): 0 success or
// every verdict valid, 1 a violation or a failure, 2 the machine lacks
// what the command needs (a Docker engine), 3 unknown, 64 bad usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
