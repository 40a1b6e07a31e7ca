package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/fakeprovider/fakeprovidertest"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/stretchr/testify/require"
)

// runAdapter runs the built chaos binary as the harness runs an exec
// adapter: the purchase in the environment, one JSON line out.
func runAdapter(t *testing.T, bin string, env map[string]string) (client.Report, int, string) {
	t.Helper()
	cmd := exec.Command(bin, "client")
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
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res client.Report
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), "last line of stdout must be JSON: %q (stderr %s)", stdout.String(), stderr.String())
	return res, code, stderr.String()
}

func buildChaos(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chaos")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

func TestClientExecAdapter(t *testing.T) {
	bin := buildChaos(t)
	n := regtesttest.Start(t)
	p := fakeprovidertest.Start(t, n.Node(regtest.Bob), fakeprovider.DefaultConfig())
	ctl := fakeprovidertest.Control(t, p)
	alice := n.Node(regtest.Alice)
	state := t.TempDir()
	body := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(body, []byte(`{"qty":1}`), 0o644))
	env := map[string]string{
		"L402_URL": p.URL() + "/ops/order", "L402_METHOD": "POST", "L402_BODY_FILE": body,
		"L402_IDEMPOTENCY_KEY": "order-1", "L402_STATE_DIR": state, "L402_MAX_COST_SAT": "1000",
		"L402_TIMEOUT_SEC": "60", "LND_RPCSERVER": alice.RPCAddr(), "LND_TLSCERTPATH": alice.TLSCertPath(),
		"LND_MACAROONPATH": alice.AdminMacaroonPath(), "LND_NETWORK": "regtest",
	}
	ctx := context.Background()

	t.Run("delivered", func(t *testing.T) {
		res, code, stderr := runAdapter(t, bin, env)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, client.ReportDelivered, res.Outcome)
		require.Equal(t, http.StatusOK, res.Status)
		require.Equal(t, int64(250_000), res.PaidMsat)
		require.Equal(t, 1, res.Payments)
		snap, err := p.Ledger(ctx)
		require.NoError(t, err)
		require.Len(t, snap.Deliveries, 1)
		require.Equal(t, res.PaymentHash, snap.Deliveries[0].PaymentHash)
		require.Equal(t, snap.Deliveries[0].BodySHA256, res.BodySHA256)
		require.Len(t, snap.SideEffects, 1)
	})
	t.Run("same-key-again-pays-nothing", func(t *testing.T) {
		res, code, stderr := runAdapter(t, bin, env)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, client.ReportDelivered, res.Outcome)
		require.Zero(t, res.Payments)
		snap, err := p.Ledger(ctx)
		require.NoError(t, err)
		require.Len(t, snap.SideEffects, 1, "the replay is answered from the provider's stored response")
		require.Len(t, snap.Invoices, 1)
	})
	t.Run("refused-amountless", func(t *testing.T) {
		_, err := ctl.Arm(ctx, fakeprovider.Knob{Kind: fakeprovider.AmountlessInvoice, Times: 1})
		require.NoError(t, err)
		e := copyEnv(env)
		e["L402_IDEMPOTENCY_KEY"] = "order-2"
		res, code, _ := runAdapter(t, bin, e)
		require.Equal(t, 1, code)
		require.Equal(t, client.ReportFailed, res.Outcome)
		require.Equal(t, "refused", res.Kind)
		require.Zero(t, res.Payments)
	})
	t.Run("bad-environment", func(t *testing.T) {
		for k, v := range map[string]string{"L402_URL": "not a url", "L402_METHOD": "DELETE", "L402_MAX_COST_SAT": "-1",
			"L402_TIMEOUT_SEC": "soon", "LND_NETWORK": "mainnet", "L402_BODY_FILE": "/nonexistent", "L402_STATE_DIR": ""} {
			e := copyEnv(env)
			e[k] = v
			res, code, _ := runAdapter(t, bin, e)
			require.Equal(t, 1, code, k)
			require.Equal(t, client.ReportFailed, res.Outcome, k)
			require.Contains(t, res.Error, k, "the error names the variable")
		}
	})
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
