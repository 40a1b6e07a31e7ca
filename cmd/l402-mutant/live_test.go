package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/stretchr/testify/require"
)

// runMutant runs the built command as the harness runs an exec adapter:
// the purchase in the environment, one JSON line out.
func runMutant(t *testing.T, ctx context.Context, bin, bug string, env map[string]string) (client.Report, int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, "-bug", bug, "-v")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	t.Logf("l402-mutant -bug %s stderr:\n%s", bug, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep client.Report
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &rep), "last line of stdout must be JSON: %q", stdout.String())
	return rep, code
}

// pay-any-amount against real LND and the provider with its
// overpriced-invoice knob armed: the reference client refuses the
// invoice, the mutant pays ten times the price, over the cap.
func TestPayAnyAmountLive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildMutant(t)
	n := regtesttest.Start(t)
	p := fakeprovidertest.Start(t, n.Node(regtest.Bob), fakeprovider.DefaultConfig())
	_, err := p.Arm(fakeprovider.Knob{Kind: fakeprovider.OverpricedInvoice}) // until reset: every challenge
	require.NoError(t, err)
	alice := n.Node(regtest.Alice)
	const capSat, overpricedMsat = 300, 1_000_000 // data costs 100 sat; the knob asks ten times that
	env := map[string]string{
		"L402_URL": p.URL() + "/data/quote", "L402_IDEMPOTENCY_KEY": "quote-1",
		"L402_STATE_DIR": t.TempDir(), "L402_MAX_COST_SAT": "300", "L402_TIMEOUT_SEC": "30",
		"LND_RPCSERVER": alice.RPCAddr(), "LND_TLSCERTPATH": alice.TLSCertPath(),
		"LND_MACAROONPATH": alice.AdminMacaroonPath(), "LND_NETWORK": "regtest",
	}

	t.Run("reference-refuses", func(t *testing.T) {
		// The reference client through the same code path: chaos client.
		rep := buyOnce(ctx, "", func(k string) string { return env[k] }, regtesttest.Logger(t))
		require.Equal(t, client.ReportFailed, rep.Outcome, rep.Error)
		require.Equal(t, client.Refused.String(), rep.Kind)
		require.Zero(t, rep.Payments)
	})
	t.Run("mutant-pays", func(t *testing.T) {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		e["L402_IDEMPOTENCY_KEY"], e["L402_STATE_DIR"] = "quote-2", t.TempDir()
		rep, code := runMutant(t, ctx, bin, mutant.PayAnyAmount, e)
		require.Equal(t, 0, code, rep.Error)
		require.Equal(t, client.ReportDelivered, rep.Outcome)
		require.Equal(t, int64(overpricedMsat), rep.PaidMsat)
		require.Greater(t, rep.PaidMsat, int64(capSat*1000), "paid over L402_MAX_COST_SAT")
	})

	// Ground truth: the provider's ledger has exactly one settled invoice,
	// the overpriced one the mutant paid.
	snap, err := p.Ledger(ctx)
	require.NoError(t, err)
	var settled []fakeprovider.InvoiceRecord
	for _, inv := range snap.Invoices {
		require.Equal(t, int64(overpricedMsat), inv.AmountMsat, "every challenge was overpriced")
		if inv.State == fakeprovider.InvoiceSettled {
			settled = append(settled, inv)
		}
	}
	require.Len(t, settled, 1)
	require.Equal(t, int64(overpricedMsat), settled[0].PaidMsat)
}
