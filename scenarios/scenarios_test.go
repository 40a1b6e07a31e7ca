package scenarios_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/certify/certifytest"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest/containers"
	"github.com/l402chaos/l402chaos/regtest/regtesttest"
)

var (
	seedFlag    = flag.Int64("seed", 0, "seed for every scenario (0: derived from the time, and printed)")
	backendFlag = flag.String("backend", backendDefault(), "where the networks run: process or containers (env L402CHAOS_BACKEND)")
)

func backendDefault() string {
	if b := os.Getenv("L402CHAOS_BACKEND"); b != "" {
		return b
	}
	return "process"
}

// start is the live backend's start on the chosen backend. Asked for
// containers without a Docker engine, the test fails: it never skips.
func start(t *testing.T) harness.StartFunc {
	t.Helper()
	switch *backendFlag {
	case "process":
		return live.Start
	case "containers":
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		eng, err := containers.Connect(ctx)
		require.NoError(t, err, "-backend=containers")
		t.Cleanup(func() { eng.Close() })
		return live.StartOn(containers.New(eng, containers.WithLogger(regtesttest.Logger(t))))
	}
	t.Fatalf("-backend=%q: want process or containers", *backendFlag)
	return nil
}

// applies skips a scenario that does not apply on the chosen backend:
// one that isolates a node needs containers. It runs there (CI runs the
// containers subset), so the skip is never the only run it gets.
func applies(t *testing.T, sc harness.Scenario) {
	t.Helper()
	if sc.NeedsIsolation && *backendFlag != "containers" {
		t.Skipf("%s isolates a node: it needs -backend=containers", sc.Name)
	}
}

func seed(t *testing.T) int64 {
	s := *seedFlag
	if env, err := strconv.ParseInt(os.Getenv(certifytest.EnvSeed), 10, 64); s == 0 && err == nil && env > 0 {
		s = env
	}
	if s == 0 {
		s = time.Now().UnixNano()%1_000_000 + 1
	}
	return s
}

// binDir holds the client binaries built once per test binary.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "l402chaos-scenarios-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// execClient runs command through the exec adapter protocol.
func execClient(command []string) harness.ClientFunc {
	return func(ctx context.Context, e harness.Endpoints, dir string) (harness.Client, error) {
		return adapter.NewExec(command, adapter.ExecConfig{
			StateRoot: dir, RPCServer: e.PayerRPC, TLSCertPath: e.PayerTLSCert, MacaroonPath: e.PayerMacaroon,
		})
	}
}

func referenceCommand(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd, err := adapter.ReferenceCommand(ctx, filepath.Join(binDir, "reference"))
	require.NoError(t, err)
	return cmd
}

func runner(t *testing.T, client harness.ClientFunc, name string) *harness.Runner {
	t.Helper()
	log := regtesttest.Logger(t)
	if !testing.Verbose() {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := harness.NewRunner(start(t), client,
		harness.WithLogger(log), harness.WithReportDir(t.TempDir()), harness.WithClientName(name))
	require.NoError(t, err)
	return r
}

// report explains a run on failure: verdicts, coverage, replay line, and
// the history around the witnesses.
func report(_ *testing.T, run *check.RunResult) string { return run.Explain() }

// TestScenarios certifies the reference client through the exec adapter:
// every scripted scenario in the current dialect (subtests named as the
// scenarios), the dialect scenarios in every other dialect
// (token-reuse@lsat ...), each valid with its coverage reached; then
// every rule of the catalogue (rules/<ID>) must pass. Run whole, it
// writes the reference client's certificate.
func TestScenarios(t *testing.T) {
	cmd := referenceCommand(t)
	opts := []certifytest.Option{
		certifytest.WithStart(start(t), *backendFlag == "containers"), certifytest.WithSeed(seed(t)),
		certifytest.WithDescriptor(certify.Descriptor{Adapter: certify.DescriptorVersion, Name: "l402chaos reference client (exec)",
			Capabilities: []certify.Capability{certify.HTTP, certify.Post, certify.GRPC, certify.CrashPoints}}),
		certifytest.WithStrictCases(),
	}
	if testing.Verbose() {
		opts = append(opts, certifytest.WithLogger(regtesttest.Logger(t)))
	}
	if dir := os.Getenv("L402CHAOS_CERTIFICATE_DIR"); dir != "" {
		opts = append(opts, certifytest.WithOut(dir))
	}
	cert := certifytest.Run(t, certifytest.Exec(cmd...), opts...)
	if cert != nil {
		require.Equal(t, certify.Pass, cert.Verdict, cert.Headline())
	}
}
