package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
)

// Exit codes, one table for every subcommand (chaos -h prints it; the
// verdict commands' own constants are in run.go):
//
//	0   success; a verdict command: every verdict valid
//	1   a verdict command: a checker found a violation (a rule failed);
//	    any other command: it failed
//	2   the machine lacks what the command needs (no Docker engine for
//	    -backend containers): the way out is printed
//	3   a verdict command: the harness could not judge everything
//	    (unknown), never a verdict against the client
//	64  bad usage: flags, arguments, input files (sysexits' EX_USAGE)
const (
	exitOK       = 0
	exitFail     = 1
	exitNoEngine = 2
	exitUsage    = exitBadUsage
)

// errUsage marks errors that are the user's invocation, not a failure.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "start a regtest Lightning network and an L402 provider, stay up until interrupted", cmdUp},
		{"provider", "serve the fake L402 provider on any LND node", cmdProvider},
		{"client", "buy one L402 purchase with the reference client (exec adapter protocol v1)", cmdClient},
		{"run", "run scenarios against a client, print the verdicts, write the reports", cmdRun},
		{"certify", "certify a client: the rule catalogue in every L402 dialect, a certificate (json, md, html, junit)", cmdCertify},
		{"check", "run the checkers again, offline, on a recorded run", cmdCheck},
		{"report", "merge the report directories of a sharded run; measure scenario durations", cmdReport},
		{"sim", "explore random fault sequences on the deterministic simulator, shrink a violation", cmdSim},
		{"soak", "run one network for hours under traffic and faults, judged as it goes; metrics and plots", cmdSoak},
		{"build", "build (or find in the cache) the lnd and btcd binaries", cmdBuild},
		{"images", "build (or find in the engine) the containers backend's images of lnd and btcd", cmdImages},
		{"version", "print the versions of chaos, lnd and btcd", cmdVersion},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var code exitCode
		switch {
		case errors.As(err, &code):
			return int(code)
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "chaos %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "chaos %s: %v\n", c.name, err)
			return exitFail
		}
	}
	fmt.Fprintf(stderr, "chaos: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: chaos <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "exit codes (every command):")
	fmt.Fprintln(w, "  0   success; every verdict valid")
	fmt.Fprintln(w, "  1   a violation found (a verdict command), or the command failed")
	fmt.Fprintln(w, "  2   the machine lacks what the command needs (no Docker engine for -backend containers)")
	fmt.Fprintln(w, "  3   the harness could not judge everything (unknown; never a verdict against the client)")
	fmt.Fprintln(w, "  64  bad usage: flags, arguments, input")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'chaos <command> -h' for its flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("chaos "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses flags, rejects positional arguments and wraps errors as
// usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// binaryFlags are the flags that choose lnd and btcd.
type binaryFlags struct {
	lndBin, btcdBin, lndVersion, cacheDir string
}

func (b *binaryFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.lndBin, "lnd-bin", "", "use this lnd instead of building one (env "+regtest.EnvLNDBin+")")
	fs.StringVar(&b.btcdBin, "btcd-bin", "", "use this btcd instead of building one (env "+regtest.EnvBtcdBin+")")
	fs.StringVar(&b.lndVersion, "lnd-version", "", "lnd release to build (default "+regtest.DefaultLNDVersion+", env "+regtest.EnvLNDVersion+")")
	fs.StringVar(&b.cacheDir, "cache-dir", "", "where binaries and snapshots are cached (env "+regtest.EnvCacheDir+")")
}

func (b *binaryFlags) options(progress io.Writer) []regtest.BuildOption {
	opts := []regtest.BuildOption{regtest.WithProgress(progress)}
	if b.lndVersion != "" {
		opts = append(opts, regtest.WithLNDVersion(b.lndVersion))
	}
	if b.lndBin != "" {
		opts = append(opts, regtest.WithLNDBinary(b.lndBin))
	}
	if b.btcdBin != "" {
		opts = append(opts, regtest.WithBtcdBinary(b.btcdBin))
	}
	if b.cacheDir != "" {
		opts = append(opts, regtest.WithCacheDir(b.cacheDir))
	}
	return opts
}

// ensure finds or builds the binaries the flags ask for; a bad choice
// (an unknown version, a missing binary) is a usage error.
func (b *binaryFlags) ensure(ctx context.Context, progress io.Writer) (regtest.Binaries, error) {
	bins, err := regtest.EnsureBinaries(ctx, b.options(progress)...)
	if errors.Is(err, regtest.ErrInvalidConfig) {
		return bins, fmt.Errorf("%w: %v", errUsage, err)
	}
	return bins, err
}

func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("build", stderr)
	var bf binaryFlags
	bf.register(fs)
	jsonOut := fs.Bool("json", false, "print the binaries as JSON")
	withAperture := fs.Bool("aperture", false, "also build (or find in the cache) Aperture, for -provider aperture")
	if err := parse(fs, args); err != nil {
		return err
	}
	bins, err := bf.ensure(ctx, stderr)
	if err != nil {
		return err
	}
	var ap struct{ Bin, Version string }
	if *withAperture {
		opts := []regtest.BuildOption{regtest.WithProgress(stderr)}
		if bf.cacheDir != "" {
			opts = append(opts, regtest.WithCacheDir(bf.cacheDir))
		}
		if ap.Bin, ap.Version, err = regtest.EnsureAperture(ctx, opts...); err != nil {
			return err
		}
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(struct {
			regtest.Binaries
			Aperture        string `json:"aperture,omitempty"`
			ApertureVersion string `json:"aperture_version,omitempty"`
		}{bins, ap.Bin, ap.Version})
	}
	fmt.Fprintf(stdout, "lnd   %s\n      %s\nbtcd  %s\n      %s\n", bins.LND, firstLine(bins.LNDVersion), bins.Btcd, firstLine(bins.BtcdVersion))
	if ap.Bin != "" {
		fmt.Fprintf(stdout, "aperture  %s\n      %s\n", ap.Bin, ap.Version)
	}
	return nil
}

func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	fmt.Fprintf(stdout, "chaos %s\nlnd %s (default; tags %s)\n%s %s/%s\n",
		version, regtest.DefaultLNDVersion, strings.Join(regtest.LNDTags, ","), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("up", stderr)
	var bf binaryFlags
	bf.register(fs)
	var pf providerFlags
	pf.register(fs)
	var bk backendFlag
	bk.register(fs)
	var (
		noProvider = fs.Bool("no-provider", false, "start only the network, without the L402 provider on bob")
		provKind   = fs.String("provider", providerFake, "the L402 server: fake (the controllable provider) or aperture (real Aperture, built from its module, selling the provider's services; process backend only)")
		ledgerOut  = fs.String("ledger-out", "", "write the provider's ledger as JSON to this file on exit")
		jsonOut    = fs.Bool("json", false, "print the connection details as one JSON object on stdout")
		envFile    = fs.String("env-file", "", "write the connection details as KEY=value lines here (default: l402chaos.env in the run dir)")
		topology   = fs.String("topology", string(regtest.Direct), "channel graph: direct (alice -> bob) or routed (alice -> carol -> bob)")
		capacity   = fs.Int64("capacity", int64(regtest.DefaultCapacity), "capacity of each channel, in satoshis")
		push       = fs.Int64("push", 0, "satoshis each channel's opener pushes to the other side")
		fresh      = fs.Bool("fresh", false, "build the network from scratch instead of from a cached snapshot")
		keep       = fs.Bool("keep", false, "keep the run directory (data and logs) after exit")
		baseDir    = fs.String("base-dir", "", "where to create the run directory (default: the system temp dir)")
		verbose    = fs.Bool("v", false, "log progress in detail")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	if !*noProvider {
		if _, _, err := pf.load(); err != nil {
			return err // a bad provider config fails before minutes of start-up
		}
	}
	if err := checkProviderKind(*provKind, bk.name, &pf); err != nil {
		return err
	}
	buildOpts := bf.options(stderr)
	log := newLogger(stderr, *verbose)
	rt, release, err := bk.runtime(ctx, log, stderr, stderr)
	if err != nil {
		return err
	}
	defer release()
	opts := []regtest.Option{
		regtest.WithRuntime(rt),
		regtest.WithTopology(regtest.Topology(*topology)),
		regtest.WithCapacity(btcutil.Amount(*capacity)),
		regtest.WithPush(btcutil.Amount(*push)),
		regtest.WithSnapshot(!*fresh),
		regtest.WithKeepDir(*keep),
		regtest.WithLogger(log),
		regtest.WithBuildOptions(buildOpts...),
	}
	if *baseDir != "" {
		opts = append(opts, regtest.WithBaseDir(*baseDir))
	}
	if bf.cacheDir != "" {
		opts = append(opts, regtest.WithSnapshotDir(filepath.Join(bf.cacheDir, "snapshots")))
	}
	start := time.Now()
	n, err := regtest.Start(ctx, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while starting: %w", err)
		}
		if errors.Is(err, regtest.ErrInvalidConfig) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	defer n.Close()

	info := n.Info()
	env := info.Env()
	var p *fakeprovider.Provider
	var pp *live.ProviderProgram
	var pi *ProviderInfo
	switch {
	case *noProvider:
	case *provKind == providerAperture:
		front, err := startApertureFront(ctx, n, &pf, log)
		if err != nil {
			return fmt.Errorf("provider: %w", err)
		}
		defer front.Close()
		p = front.Backend
		v := apertureInfo(front)
		pi = &v
	case rt.Name() == backendProcess:
		bob := n.Node(regtest.Bob)
		if p, err = startProvider(ctx, bob.LN(), bob.Invoices(), &pf, log); err != nil {
			return fmt.Errorf("provider: %w", err)
		}
		defer p.Close()
		v := providerInfo(p)
		pi = &v
	default:
		// Beside the nodes, a container of the run's network.
		if pp, err = startProviderProgram(ctx, n, &pf, log); err != nil {
			return fmt.Errorf("provider: %w", err)
		}
		defer pp.Close()
		pi = &ProviderInfo{URL: "http://" + pp.HTTP.Host, GRPC: pp.GRPC.Host, ControlURL: "http://" + pp.ControlAPI.Host, ControlToken: pp.Token,
			Services: pp.Config.Services, Profile: pp.Config.Profile}
	}
	if pi != nil {
		env += pi.Env()
	}
	path := *envFile
	if path == "" {
		path = filepath.Join(n.Dir(), "l402chaos.env")
	}
	if err := writeFileAtomic(path, []byte(env)); err != nil {
		return fmt.Errorf("write env file: %w", err)
	}
	log.Info("network up", "took", time.Since(start).Round(time.Millisecond))
	if *jsonOut {
		out := struct {
			regtest.Info
			Provider *ProviderInfo `json:"provider,omitempty"`
			EnvFile  string        `json:"env_file"`
		}{info, pi, path}
		if err := json.NewEncoder(stdout).Encode(out); err != nil {
			return err
		}
	} else {
		printInfo(stdout, info, pi, path)
	}

	<-ctx.Done()
	log.Info("interrupted; tearing the network down")
	var errs []error
	if p != nil {
		errs = append(errs, finishProvider(p, *ledgerOut))
	}
	if pp != nil {
		errs = append(errs, finishProviderProgram(pp, *ledgerOut))
	}
	errs = append(errs, n.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("teardown: %w", err)
	}
	if *keep {
		log.Info("run directory kept", "dir", n.Dir())
	}
	return nil
}

// writeFileAtomic writes a file only its owner reads (0600): the env
// file names the nodes' credentials and the provider's control token.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printInfo(w io.Writer, info regtest.Info, pi *ProviderInfo, envPath string) {
	fmt.Fprintf(w, "l402chaos: regtest network up on %s (lnd %s, btcd %s)\n\n", info.Backend, firstLine(info.LNDVersion), firstLine(info.BtcdVersion))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "btcd\trpc %s\tuser %s pass %s\tcert %s\n", info.Btcd.RPC, info.Btcd.User, info.Btcd.Pass, info.Btcd.TLSCertPath)
	for _, n := range info.Nodes {
		fmt.Fprintf(tw, "%s\tgrpc %s\trest %s\tpubkey %s\n", n.Name, n.GRPC, n.REST, n.PubKey)
		fmt.Fprintf(tw, "\ttls %s\tmacaroon %s\t\n", n.TLSCertPath, n.MacaroonPath)
	}
	for _, c := range info.Channels {
		fmt.Fprintf(tw, "channel\t%s -> %s\t%d sat (push %d)\t%s\n", c.From, c.To, c.Capacity, c.Push, c.Point)
	}
	tw.Flush()
	if pi != nil {
		fmt.Fprintln(w)
		printProvider(w, *pi)
	}
	fmt.Fprintf(w, "\nrun dir   %s\nenv file  %s  (source it, or pass it to your client)\n\nPress Ctrl-C to stop and tear everything down.\n", info.RunDir, envPath)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
