// Command chaos runs the l402chaos harness from the command line.
//
//	chaos up        start a regtest Lightning network and stay up until Ctrl-C
//	chaos build     build (or find in the cache) the lnd and btcd binaries
//	chaos version   print versions
//
// Exit codes: 0 success, 1 failure, 2 bad usage.
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
