// Command acme-adapter is an exec adapter (docs/adapter-protocol.md in
// l402chaos) around a Go L402 client: it reads the purchase from the
// environment, buys it, and prints one JSON report as the last line of
// stdout. Here the client is l402chaos's reference library; a third party
// puts its own client behind the same ten lines.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/lnrpc/routerrpc"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--describe" {
		fmt.Println(`{"l402chaos_adapter":1,"name":"acme-l402","version":"0.1.0","capabilities":["http","post"]}`)
		return
	}
	r := buy(context.Background())
	_ = json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(r.ExitCode())
}

func buy(ctx context.Context) client.Report {
	env, err := client.ReadAdapterEnv(os.Getenv)
	if err != nil {
		return client.ReportFor(nil, err)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	store, err := client.OpenStore(env.StateDir, client.WithOpenTimeout(env.Timeout))
	if err != nil {
		return client.ReportFor(nil, client.JournalUnavailable(err))
	}
	defer store.Close()
	conn, err := regtest.Dial(env.LNDRPCServer, env.LNDTLSCertPath, env.LNDMacaroonPath)
	if err != nil {
		return client.ReportFor(nil, fmt.Errorf("config: lnd: %w", err))
	}
	defer conn.Close()
	payer, err := client.NewLNDPayer(lnrpc.NewLightningClient(conn), routerrpc.NewRouterClient(conn))
	if err != nil {
		return client.ReportFor(nil, fmt.Errorf("config: %w", err))
	}
	c, err := client.New(payer, store, client.WithMaxCost(env.MaxCostSat*1000))
	if err != nil {
		return client.ReportFor(nil, fmt.Errorf("config: %w", err))
	}
	return client.ReportFor(c.AdapterAttempt(ctx, env))
}
