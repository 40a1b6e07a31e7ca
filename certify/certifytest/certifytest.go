// Package certifytest certifies an L402 client inside go test: the same
// suite, rules and certificate as `chaos certify`, with a subtest per case
// and one per rule. A team with a Go client runs it from its own module:
//
//	func TestCertify(t *testing.T) {
//		certifytest.Run(t, certifytest.Exec("./bin/my-l402-adapter"),
//			certifytest.WithClientName("my client"))
//	}
//
// Each case is a parallel subtest of cases/, named like the case
// (cases/token-reuse, cases/token-reuse@lsat), each on its own network,
// as many at once as go test's -parallel flag allows; the rules follow
// as rules/<ID>, each failing when a
// MUST or SAFETY rule failed or could not be judged, skipped when it does
// not apply. The certificate's files are written to WithOut's directory
// (a temporary one by default, its path logged).
//
// The networks are real: lnd and btcd from regtest's cache (`chaos
// build`), local processes by default (WithStart for containers).
package certifytest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/live"
)

// EnvSeed sets the seed when WithSeed does not: the replay lines use it.
const EnvSeed = "L402CHAOS_SEED"

// caseTimeout bounds one case.
const caseTimeout = 8 * time.Minute

type config struct {
	start      harness.StartFunc
	isolation  bool
	descriptor certify.Descriptor
	seed       int64
	cases      *regexp.Regexp
	dialects   []string
	out        string
	strict     bool
	log        *slog.Logger
	provider   string
}

// Option configures Run.
type Option func(*config) error

// WithStart runs the networks on another backend (live.StartOn with the
// containers runtime); isolation says whether it can cut a node off as a
// whole (containers can), so that the cases that do run.
func WithStart(start harness.StartFunc, isolation bool) Option {
	return func(c *config) error {
		if start == nil {
			return fmt.Errorf("WithStart: nil start function")
		}
		c.start, c.isolation = start, isolation
		return nil
	}
}

// WithAperture runs the cases against real Aperture in front of the
// provider (live.StartAperture, local processes): the catalogue in the
// aperture dialect, the cases that need the fake provider's challenges
// not applicable.
func WithAperture() Option {
	return func(c *config) error {
		c.start, c.isolation, c.provider = live.StartAperture, false, certify.ProviderAperture
		return nil
	}
}

// WithDescriptor says what the client speaks (default: the adapter
// protocol v1, GET and POST over HTTP).
func WithDescriptor(d certify.Descriptor) Option {
	return func(c *config) error {
		if err := d.Validate(); err != nil {
			return err
		}
		c.descriptor = d
		return nil
	}
}

// WithClientName names the client on the certificate.
func WithClientName(name string) Option {
	return func(c *config) error {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("WithClientName: empty name")
		}
		c.descriptor.Name = name
		return nil
	}
}

// WithSeed sets the seed of every case (default: $L402CHAOS_SEED, else
// one from the clock, logged).
func WithSeed(seed int64) Option {
	return func(c *config) error {
		if seed <= 0 {
			return fmt.Errorf("WithSeed(%d): want a positive seed", seed)
		}
		c.seed = seed
		return nil
	}
}

// WithCases runs only the cases whose name matches pattern: a partial
// certificate (the rules no case judged are unknown).
func WithCases(pattern string) Option {
	return func(c *config) error {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return fmt.Errorf("WithCases: %w", err)
		}
		c.cases = re
		return nil
	}
}

// WithDialects runs only these dialects (certify.Dialects' names).
func WithDialects(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			if _, err := certify.DialectByName(n); err != nil {
				return err
			}
		}
		c.dialects = names
		return nil
	}
}

// WithOut writes the certificate into dir (created if need be).
func WithOut(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return fmt.Errorf("WithOut: empty directory")
		}
		c.out = dir
		return nil
	}
}

// WithStrictCases fails a case's subtest unless its verdict is valid, its
// coverage reached included: for a client expected to pass everything
// (the reference client).
func WithStrictCases() Option {
	return func(c *config) error { c.strict = true; return nil }
}

// WithLogger logs the harness's progress.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// Exec is a client run through the exec adapter protocol
// (docs/adapter-protocol.md): any language, one process per attempt.
func Exec(command ...string) harness.ClientFunc {
	return func(ctx context.Context, e harness.Endpoints, dir string) (harness.Client, error) {
		// Crash points are asked of a client only in cases its
		// descriptor's crash-points capability lets run.
		return adapter.NewExec(command, adapter.ExecConfig{
			StateRoot: dir, RPCServer: e.PayerRPC, TLSCertPath: e.PayerTLSCert, MacaroonPath: e.PayerMacaroon,
			CrashPoints: true,
		})
	}
}

// Run certifies client: every case as a subtest, then every rule, and
// returns the certificate (nil when a -run filter left cases out: no
// certificate is judged from part of the suite).
func Run(t *testing.T, client harness.ClientFunc, opts ...Option) *certify.Certificate {
	t.Helper()
	cfg := config{start: live.Start, descriptor: certify.DefaultDescriptor("client"), log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			t.Fatalf("certifytest: %v", err)
		}
	}
	if cfg.seed == 0 {
		if s, err := strconv.ParseInt(os.Getenv(EnvSeed), 10, 64); err == nil && s > 0 {
			cfg.seed = s
		} else {
			cfg.seed = time.Now().UnixNano()%1_000_000 + 1
		}
	}
	if cfg.out == "" {
		cfg.out = t.TempDir()
	}
	plan, err := certify.Plan(certify.PlanConfig{Descriptor: cfg.descriptor, Isolation: cfg.isolation, Cases: cfg.cases, Dialects: cfg.dialects, Provider: cfg.provider})
	if err != nil {
		t.Fatalf("certifytest: %v", err)
	}
	runner, err := harness.NewRunner(cfg.start, client, harness.WithLogger(cfg.log),
		harness.WithReportDir(filepath.Join(cfg.out, "cases")), harness.WithClientName(cfg.descriptor.Name))
	if err != nil {
		t.Fatalf("certifytest: %v", err)
	}
	top := t.Name()
	replay := func(c string, seed int64) string {
		return fmt.Sprintf("%s=%d go test -run '^%s$/^cases$/^%s$' .", EnvSeed, seed, regexp.QuoteMeta(top), regexp.QuoteMeta(c))
	}
	cr := certify.NewRunner(runner, replay)
	t.Logf("certifying %s: %d cases, seed %d (%s=%d to repeat)", cfg.descriptor.Name, len(plan), cfg.seed, EnvSeed, cfg.seed)

	started := time.Now()
	var (
		mu      sync.Mutex
		results = make([]*certify.CaseResult, len(plan))
	)
	// The cases run as parallel subtests, each on its own network, as
	// many at once as go test's -parallel allows (-test.parallel: by
	// default GOMAXPROCS); -parallel 1 runs them one after another. The
	// group returns when all have ended.
	t.Run("cases", func(t *testing.T) {
		for i, p := range plan {
			t.Run(p.Name(), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
				defer cancel()
				res := cr.Run(ctx, p, cfg.seed)
				mu.Lock()
				results[i] = &res
				mu.Unlock()
				if res.Skip != "" {
					t.Skip(res.Skip)
				}
				t.Logf("%s: %s; replay: %s", res.Name, res.Verdict(), res.Run.Replay)
				if res.AdapterError != "" {
					t.Logf("adapter error: %s", res.AdapterError)
				}
				if cfg.strict && res.Verdict() != check.Valid {
					t.Errorf("%s", report(res))
				}
			})
		}
	})
	var ran []certify.CaseResult
	for _, r := range results {
		if r != nil {
			ran = append(ran, *r)
		}
	}
	if len(ran) < len(plan) {
		t.Logf("%d of %d cases ran (a -run filter left the others out): no certificate", len(ran), len(plan))
		return nil
	}
	cert := certify.NewCertificate(certify.Meta{
		Client:      certify.ClientInfo{Name: cfg.descriptor.Name, Version: cfg.descriptor.Version, Capabilities: cfg.descriptor.Capabilities, Described: true},
		ToolVersion: "(go test)", Seed: cfg.seed, Backend: backendName(cfg.isolation), Started: started,
		Partial: cfg.cases != nil || len(cfg.dialects) > 0,
	}, ran)
	if err := cert.WriteDir(cfg.out); err != nil {
		t.Fatalf("certifytest: %v", err)
	}
	t.Logf("%s; certificate: %s", cert.Headline(), filepath.Join(cfg.out, certify.FileHTML))
	t.Run("rules", func(t *testing.T) {
		for _, r := range cert.Rules {
			t.Run(r.ID, func(t *testing.T) {
				switch {
				case r.Result == certify.Pass:
					t.Log(r.Why)
				case r.Result == certify.NotApplicable:
					t.Skip(r.Why)
				case r.Unjudged && cert.Partial:
					t.Skip("no case of this partial run judges it")
				case !r.Level.Gates():
					t.Logf("%s (a %s rule: reported, not failed): %s", r.Result, r.Level, r.Why)
				default:
					msg := fmt.Sprintf("%s %s (%s): %s", r.ID, r.Result, r.Level, r.Why)
					if r.Witness != nil && r.Witness.Replay != "" {
						msg += "\nreplay: " + r.Witness.Replay
					}
					t.Error(msg)
				}
			})
		}
	})
	return cert
}

func backendName(isolation bool) string {
	if isolation {
		return "containers"
	}
	return "process"
}

// report explains a case that is not valid: its adapter error, then the
// run (check.RunResult.Explain).
func report(c certify.CaseResult) string {
	if c.AdapterError == "" {
		return c.Run.Explain()
	}
	return "adapter error: " + c.AdapterError + "\n" + c.Run.Explain()
}
