package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/regtest"
	"github.com/lightningnetwork/lnd/lnrpc"
	"github.com/lightningnetwork/lnd/macaroons"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"gopkg.in/macaroon.v2"
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
		{[]string{"build", "--lnd-version", "0.20"}, `lnd version "0.20"`},
		{[]string{"version", "--json"}, "flag provided but not defined"},
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
		EnvFile string `json:"env_file"`
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
	alice := info.Nodes[0]
	require.Equal(t, "alice", alice.Name)
	require.Equal(t, alice.GRPC, env["LND_RPCSERVER"])
	require.Equal(t, alice.TLSCertPath, env["LND_TLSCERTPATH"])
	require.Equal(t, alice.MacaroonPath, env["LND_MACAROONPATH"])
	require.Equal(t, "regtest", env["LND_NETWORK"])
	require.Equal(t, info.Nodes[1].PubKey, env["BOB_LND_PUBKEY"])

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
	creds, err := credentials.NewClientTLSFromFile(certPath, "")
	require.NoError(t, err)
	data, err := os.ReadFile(macPath)
	require.NoError(t, err)
	mac := &macaroon.Macaroon{}
	require.NoError(t, mac.UnmarshalBinary(data))
	macCred, err := macaroons.NewMacaroonCredential(mac)
	require.NoError(t, err)
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(macCred))
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
