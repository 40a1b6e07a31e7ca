package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
)

// exitUsage is a bad invocation (sysexits' EX_USAGE): distinct from the
// protocol's 0 delivered, 1 failed, 2 unknown.
const exitUsage = 64

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("l402-mutant", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bug := fs.String("bug", "", "the mutant to run (see -list)")
	list := fs.Bool("list", false, "list the mutants and the checker that must catch each")
	verbose := fs.Bool("v", false, "log each step on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: l402-mutant -bug NAME   (the exec adapter protocol v1, like chaos client, with one bug)")
		fmt.Fprintln(stderr, "       l402-mutant -list")
		fmt.Fprintln(stderr, "prints one JSON object as the last line of stdout; exit 0 delivered, 1 failed, 2 unknown, 64 bad usage")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "l402-mutant: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *list {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, m := range append(mutant.All(), mutant.Dialect()...) {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Name, m.CaughtBy, m.Bug)
		}
		if err := tw.Flush(); err != nil {
			return 1
		}
		return 0
	}
	if _, ok := mutant.ByName(*bug); !ok {
		fmt.Fprintf(stderr, "l402-mutant: unknown bug %q (see -list)\n", *bug)
		fs.Usage()
		return exitUsage
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	log = log.With("mutant", *bug)
	res := buyOnce(ctx, *bug, getenv, log)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		// No report: the harness records the attempt as may have
		// happened, whatever the code.
		return 2
	}
	return res.ExitCode()
}

// buyOnce is chaos client's buyOnce with the named mutant's sabotage
// ("" is the reference client): read the environment, connect to LND,
// buy, report.
func buyOnce(ctx context.Context, bug string, getenv func(string) string, log *slog.Logger) client.Report {
	env, err := client.ReadAdapterEnv(getenv)
	if err != nil {
		return client.ReportFor(nil, err)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	conn, err := regtest.Dial(env.LNDRPCServer, env.LNDTLSCertPath, env.LNDMacaroonPath)
	if err != nil {
		return client.ReportFor(nil, fmt.Errorf("%w: lnd: %w", client.ErrAdapterConfig, err))
	}
	defer conn.Close()
	payer, err := client.NewLNDPayer(lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn))
	if err != nil {
		return client.ReportFor(nil, fmt.Errorf("%w: %w", client.ErrAdapterConfig, err))
	}
	return client.ReportFor(mutant.Buy(ctx, bug, mutant.Rig{Env: env, Payer: payer, Log: log}))
}
