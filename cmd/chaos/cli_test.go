package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/stretchr/testify/require"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: chaos <command>"},
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"up", "--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"up", "--topology", "mesh"}, `topology "mesh"`},
		{[]string{"up", "--capacity", "10"}, "channel capacity 10 sat"},
		{[]string{"up", "--capacity", "ten"}, `invalid value "ten" for flag -capacity`},
		{[]string{"up", "--push", "-5"}, "push -5 sat"},
		{[]string{"up", "--push", "20000000"}, "must be below capacity"},
		{[]string{"up", "extra"}, `unexpected argument "extra"`},
		{[]string{"up", "-provider", "nginx"}, `-provider "nginx": want fake or aperture`},
		{[]string{"up", "-provider", "aperture", "-backend", "containers"}, "runs on the process backend, not containers"},
		{[]string{"up", "-provider", "aperture", "-header", "lsat"}, "Aperture writes its own"},
		{[]string{"build", "--lnd-version", "0.20"}, `lnd version "0.20"`},
		{[]string{"version", "--json"}, "flag provided but not defined"},
		{[]string{"up", "--header", "l403"}, `unknown header generation "l403"`},
		{[]string{"up", "--invalid-credential", "403"}, "want 401 or 402"},
		{[]string{"up", "--provider-config", "/nonexistent.json"}, "no such file"},
		{[]string{"up", "--listen", "nowhere"}, `http address "nowhere"`},
		{[]string{"provider"}, "--lnd-rpc is required"},
		{[]string{"provider", "--control-listen", "0.0.0.0:0"}, "is not a loopback address"},
		{[]string{"up", "--control-listen", "10.1.2.3:0"}, "add -allow-remote-control"},
		{[]string{"provider", "--lnd-rpc", "127.0.0.1:1"}, "--tlscert is required"},
		{[]string{"provider", "--lnd-rpc", "127.0.0.1:1", "--tlscert", "/nonexistent", "--macaroon", "/nonexistent"}, "no such file"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, exitUsage, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "errors go to stderr only")
		})
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"version"}, &stdout, &stderr))
	require.Contains(t, stdout.String(), "lnd "+regtest.DefaultLNDVersion)
}

// TestDefaultLNDVersionMatchesGoMod: the node and the lnrpc clients this
// module imports must be the same lnd release.
func TestDefaultLNDVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	require.Regexp(t, `github.com/lightningnetwork/lnd `+regexpQuote(regtest.DefaultLNDVersion)+`\b`, string(data))
}

func regexpQuote(s string) string { return strings.ReplaceAll(s, ".", `\.`) }

// TestUpJSONThenInterrupt runs the real command: it prints the connection
// JSON, the details work, the env file agrees, and Ctrl-C tears it down.
func TestUpJSONThenInterrupt(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "chaos")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	base := filepath.Join(tmp, "runs")
	envPath := filepath.Join(tmp, "net.env")
	cmd := exec.Command(bin, "up", "--json", "--base-dir", base, "--env-file", envPath)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "chaos up printed nothing: %v", lines.Err())
	var info struct {
		regtest.Info
		Provider *ProviderInfo `json:"provider"`
		EnvFile  string        `json:"env_file"`
	}
	require.NoError(t, json.Unmarshal(lines.Bytes(), &info), "stdout must be one JSON object: %s", lines.Text())
	require.Equal(t, "regtest", info.Network)
	require.Equal(t, envPath, info.EnvFile)
	require.Len(t, info.Nodes, 2)
	require.NotEmpty(t, info.Btcd.RPC)
	require.Len(t, info.Channels, 1)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var addrs []string
	for _, n := range info.Nodes {
		got := getInfo(t, ctx, n.GRPC, n.TLSCertPath, n.MacaroonPath)
		require.Equal(t, n.PubKey, got.IdentityPubkey)
		require.Equal(t, n.Name, got.Alias)
		addrs = append(addrs, n.GRPC, n.P2P)
	}
	addrs = append(addrs, info.Btcd.RPC)

	env := readEnv(t, envPath)
	st, err := os.Stat(envPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the env file names credentials: its owner's only")
	alice := info.Nodes[0]
	require.Equal(t, "alice", alice.Name)
	require.Equal(t, alice.GRPC, env["LND_RPCSERVER"])
	require.Equal(t, alice.TLSCertPath, env["LND_TLSCERTPATH"])
	require.Equal(t, alice.MacaroonPath, env["LND_MACAROONPATH"])
	require.Equal(t, "regtest", env["LND_NETWORK"])
	require.Equal(t, info.Nodes[1].PubKey, env["BOB_LND_PUBKEY"])

	// The provider runs on bob and challenges.
	require.NotNil(t, info.Provider)
	require.Equal(t, info.Provider.URL, env["L402CHAOS_PROVIDER_URL"])
	require.Equal(t, info.Provider.ControlURL, env["L402CHAOS_CONTROL_URL"])
	requireChallenge(t, env["L402CHAOS_SERVICE_DATA_URL"]+"quote")
	// The control API wants the run's token, which the env file holds.
	require.Len(t, env["L402CHAOS_CONTROL_TOKEN"], 32)
	require.Equal(t, info.Provider.ControlToken, env["L402CHAOS_CONTROL_TOKEN"])
	ctl, err := fakeprovider.NewControl(info.Provider.ControlURL, nil)
	require.NoError(t, err)
	_, err = ctl.Ledger(ctx)
	require.ErrorIs(t, err, fakeprovider.ErrUnauthorized)
	_, err = ctl.WithToken(env["L402CHAOS_CONTROL_TOKEN"]).Ledger(ctx)
	require.NoError(t, err)
	addrs = append(addrs, strings.TrimPrefix(info.Provider.URL, "http://"), info.Provider.GRPC, strings.TrimPrefix(info.Provider.ControlURL, "http://"))

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "chaos up exits 0 after Ctrl-C")
	case <-ctx.Done():
		t.Fatal("chaos up did not exit after SIGINT")
	}
	require.NoDirExists(t, info.RunDir)
	for _, a := range addrs {
		c, err := net.DialTimeout("tcp", a, time.Second)
		if err == nil {
			c.Close()
		}
		require.Error(t, err, "%s still listening after teardown", a)
	}
}

func getInfo(t *testing.T, ctx context.Context, addr, certPath, macPath string) *lnrpc.GetInfoResponse {
	t.Helper()
	conn, err := regtest.Dial(addr, certPath, macPath)
	require.NoError(t, err)
	defer conn.Close()
	resp, err := lnrpc.NewLightningClient(conn).GetInfo(ctx, &lnrpc.GetInfoRequest{})
	require.NoError(t, err)
	return resp
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("env file line %q is not KEY=value", line)
		}
		env[k] = v
	}
	return env
}

func requireChallenge(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), `L402 version="0", token="`)
}

// TestProviderOnAnyLND runs "chaos provider" against a node it did not
// start, as a user pointing it at their own LND would.
func TestProviderOnAnyLND(t *testing.T) {
	n := regtesttest.Start(t)
	bob := n.Node(regtest.Bob)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	ledgerPath := filepath.Join(t.TempDir(), "ledger.json")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"provider", "--json", "--lnd-rpc", bob.RPCAddr(), "--tlscert", bob.TLSCertPath(),
			"--macaroon", bob.AdminMacaroonPath(), "--header", "aperture", "--ledger-out", ledgerPath}, pw, os.Stderr)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan(), "chaos provider printed nothing")
	var pi ProviderInfo
	require.NoError(t, json.Unmarshal(lines.Bytes(), &pi), "stdout must be one JSON object: %s", lines.Text())
	require.Equal(t, fakeprovider.GenAperture, pi.Profile.Header.Generation)
	resp, err := http.Get(pi.URL + "/data/x")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusPaymentRequired, resp.StatusCode)
	require.Len(t, resp.Header.Values("WWW-Authenticate"), 2)
	cancel()
	require.Equal(t, exitOK, <-done)
	data, err := os.ReadFile(ledgerPath)
	require.NoError(t, err)
	var snap fakeprovider.Snapshot
	require.NoError(t, json.Unmarshal(data, &snap))
	require.Len(t, snap.Requests, 1)
	require.Len(t, snap.Invoices, 1)
	require.Equal(t, fakeprovider.InvoiceOpen, snap.Invoices[0].State)
}
