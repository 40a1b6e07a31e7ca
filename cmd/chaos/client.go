package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
)

// chaos client is the reference client behind the exec adapter protocol
// v1 (docs/adapter-protocol.md): the harness runs it once per purchase
// attempt with the purchase in the environment, and reads one JSON object
// from the last line of stdout. Exit 0 delivered, 1 failed, 2 unknown.

// exitCode ends a command with a given status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func cmdClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("client", stderr)
	verbose := fs.Bool("v", false, "log each step on stderr")
	describe := fs.Bool("describe", false, "print the client's descriptor (what it speaks) and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos client   (the exec adapter protocol v1: the purchase comes in the environment)")
		fmt.Fprintln(stderr, "  L402_URL L402_METHOD L402_BODY_FILE L402_IDEMPOTENCY_KEY L402_STATE_DIR L402_MAX_COST_SAT L402_TIMEOUT_SEC")
		fmt.Fprintln(stderr, "  LND_RPCSERVER LND_TLSCERTPATH LND_MACAROONPATH LND_NETWORK=regtest")
		fmt.Fprintln(stderr, "  L402_CRASH_AT (optional: die at this crash point, docs/adapter-protocol.md)")
		fmt.Fprintln(stderr, "prints one JSON object as the last line of stdout; exit 0 delivered, 1 failed, 2 unknown")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *describe {
		return json.NewEncoder(stdout).Encode(certify.Descriptor{
			Adapter: certify.DescriptorVersion, Name: "l402chaos reference client", Version: version(),
			Capabilities: []certify.Capability{certify.HTTP, certify.Post, certify.GRPC, certify.CrashPoints},
		})
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = newLogger(stderr, true)
	}
	res := buyOnce(ctx, log)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return exitCode(exitFail)
	}
	if code := res.ExitCode(); code != 0 {
		return exitCode(code)
	}
	return nil
}

// buyOnce runs one purchase attempt. A problem before anything could be
// paid is a failure; once a payment may be under way, it is unknown.
func buyOnce(ctx context.Context, log *slog.Logger) client.Report {
	failed := func(err error) client.Report { return client.ReportFor(nil, err) }
	env, err := client.ReadAdapterEnv(os.Getenv)
	if err != nil {
		return failed(err)
	}
	if env.CrashAt != "" {
		if err := client.ArmCrashPoint(env.CrashAt); err != nil {
			return failed(err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	store, err := client.OpenStore(env.StateDir, client.WithOpenTimeout(env.Timeout))
	if err != nil {
		// Another process holds the journal: this attempt did nothing,
		// but an earlier one may have paid.
		return client.ReportFor(nil, client.JournalUnavailable(err))
	}
	defer store.Close()
	conn, err := regtest.Dial(env.LNDRPCServer, env.LNDTLSCertPath, env.LNDMacaroonPath)
	if err != nil {
		return failed(fmt.Errorf("config: lnd: %w", err))
	}
	defer conn.Close()
	payer, err := client.NewLNDPayer(lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn))
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	opts := []client.Option{client.WithMaxCost(env.MaxCostSat * 1000), client.WithLogger(log)}
	if u, _ := url.Parse(env.URL); u != nil && u.Scheme == client.GRPCScheme {
		// A gRPC purchase: the same purchase, each request one call.
		target, _, _ := client.GRPCMethod(u)
		gc, err := client.DialGRPC(target)
		if err != nil {
			return failed(fmt.Errorf("config: %w", err))
		}
		defer gc.Close()
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: client.GRPCTransport(gc), Timeout: env.Timeout}))
	}
	c, err := client.New(payer, store, opts...)
	if err != nil {
		return failed(fmt.Errorf("config: %w", err))
	}
	// Purchases a dead attempt left half done are resolved first, then
	// this one is bought.
	return client.ReportFor(c.AdapterAttempt(ctx, env))
}
