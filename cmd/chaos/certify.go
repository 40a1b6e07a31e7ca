package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/harness/shard"
	"github.com/l402chaos/l402chaos/scenarios"
)

// certifyAbortAfter: when the client's first cases all said nothing
// usable (every attempt an adapter error), the rest would say the same:
// certification stops there.
const certifyAbortAfter = 2

// certifySettings are chaos certify's flags, checked.
type certifySettings struct {
	command    []string // nil: the reference client
	name       string
	descriptor string
	out        string
	seed       int64
	randSeed   bool
	cases      *regexp.Regexp
	dialects   []string
	verbose    bool
	list       bool
	backend    backendFlag
	provider   string
	parallel   int
	shard      shard.Shard
	clientEnv  []string
}

func parseCertifyFlags(args []string, stderr io.Writer) (certifySettings, error) {
	fs := newFlags("certify", stderr)
	var (
		clientCmd  = fs.String("client-cmd", "", "the client to certify: a command speaking the exec adapter protocol\n(docs/adapter-protocol.md), split into words as a shell does, never run by a shell\n(default: the reference client)")
		name       = fs.String("client-name", "", "the client's name on the certificate (default: its descriptor's, else the command)")
		descriptor = fs.String("descriptor", "", "a JSON file describing the client (default: ask the command with --describe)")
		out        = fs.String("out", "", "where to write the certificate (default ./chaos-certificates/<timestamp>)")
		seed       = fs.Int64("seed", 0, "the seed of every case (0: pick one at random and print it)")
		cases      = fs.String("case", "", "run only the cases whose name matches this regular expression (a partial certificate)")
		dialects   = fs.String("dialect", "", "run only these dialects, comma-separated (default: all: "+strings.Join(certify.DialectNames(), ", ")+")")
		verbose    = fs.Bool("v", false, "log the harness's progress on stderr")
		list       = fs.Bool("rules", false, "print the rule catalogue and exit")
		parallel   = fs.Int("parallel", defaultParallel(), "run this many cases at once, each on its own network (default: from the machine's cores and memory)")
		sh         shardFlag
		cenv       envFlag
		provider   = fs.String("provider", providerFake, "the L402 server: fake (the controllable provider) or aperture (real Aperture in front of it; the cases it can run)")
		backend    backendFlag
	)
	backend.register(fs)
	cenv.register(fs)
	sh.register(fs, "cases; a share writes share.json, not a certificate, and chaos report merge joins the shares into it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos certify [-client-cmd 'command args'] [-client-name N] [-descriptor FILE] [-out DIR] [-seed N] [-case regexp] [-dialect d1,d2] [-backend process|containers] [-provider fake|aperture] [-parallel P] [-shard K/N] [-rules] [-v]")
		fmt.Fprintln(stderr, "Runs the certification suite (the scenario catalogue in every L402 dialect a correct server speaks)")
		fmt.Fprintln(stderr, "against a client and writes its certificate: certificate.json, .md, .html and JUnit (docs/rules.md).")
		fmt.Fprintln(stderr, "Exit 0 every MUST and SAFETY rule passed, 1 one failed, 3 one could not be judged, 64 bad usage.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return certifySettings{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	s := certifySettings{name: *name, descriptor: *descriptor, out: *out, seed: *seed, verbose: *verbose, list: *list, backend: backend, provider: *provider,
		parallel: *parallel, shard: sh.Shard, clientEnv: cenv}
	if err := backend.check(); err != nil {
		return s, err
	}
	if err := checkParallel("parallel", s.parallel); err != nil {
		return s, err
	}
	if !s.shard.IsWhole() && !set["seed"] {
		return s, fmt.Errorf("%w: -shard %s needs -seed: every share must run with the same seed", errUsage, s.shard)
	}
	if err := checkProviderKind(*provider, backend.name, &providerFlags{}); err != nil {
		return s, err
	}
	if set["client-cmd"] {
		cmd, err := splitCommand(*clientCmd)
		if err != nil {
			return s, fmt.Errorf("%w: -client-cmd %q: %w", errUsage, *clientCmd, err)
		}
		s.command = cmd
	}
	if set["out"] && s.out == "" {
		return s, fmt.Errorf("%w: -out: empty directory", errUsage)
	}
	if set["client-name"] && strings.TrimSpace(s.name) == "" {
		return s, fmt.Errorf("%w: -client-name: empty", errUsage)
	}
	if set["descriptor"] && s.descriptor == "" {
		return s, fmt.Errorf("%w: -descriptor: empty path", errUsage)
	}
	if set["case"] {
		re, err := regexp.Compile(*cases)
		if err != nil {
			return s, fmt.Errorf("%w: -case %q: %w", errUsage, *cases, err)
		}
		s.cases = re
	}
	if set["dialect"] {
		for d := range strings.SplitSeq(*dialects, ",") {
			d = strings.TrimSpace(d)
			if _, err := certify.DialectByName(d); err != nil {
				return s, fmt.Errorf("%w: -dialect: %w", errUsage, err)
			}
			s.dialects = append(s.dialects, d)
		}
	}
	if set["seed"] && s.seed <= 0 {
		return s, fmt.Errorf("%w: -seed %d: want a positive seed (or leave it out for a random one)", errUsage, s.seed)
	}
	if s.seed == 0 {
		s.seed, s.randSeed = rand.Int64N(1<<31)+1, true
	}
	if s.out == "" {
		s.out = filepath.Join("chaos-certificates", time.Now().Format("20060102-150405"))
	}
	return s, nil
}

func cmdCertify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := certifyClient(ctx, args, stdout, stderr)
	switch {
	case errors.Is(err, certify.ErrDescriptor):
		fmt.Fprintf(stderr, "chaos certify: %v\n", err)
		return exitCode(exitBadUsage)
	case errors.Is(err, certify.ErrUsage):
		fmt.Fprintf(stderr, "chaos certify: %v\n", err)
		return exitCode(exitBadUsage)
	}
	return verdictCommand("certify", err, stderr)
}

func certifyClient(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseCertifyFlags(args, stderr)
	if err != nil {
		return err
	}
	if s.list {
		return writeRules(stdout)
	}
	level := slog.LevelWarn
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	started := time.Now()

	// The client: the reference client's binary, or the command given.
	command, display := s.command, ""
	if command == nil {
		var cleanup func()
		if command, cleanup, err = referenceClient(ctx, stdout); err != nil {
			return err
		}
		defer cleanup()
	} else {
		display = joinCommand(command)
	}
	info, err := describeClient(ctx, s, command, display, stdout)
	if errors.Is(err, certify.ErrAdapter) {
		// Nothing can be judged of a client whose command does not run:
		// every rule is unknown, never failed.
		fmt.Fprintf(stderr, "chaos certify: %v\n", err)
		cert := certify.NewCertificate(certify.Meta{Client: info, ToolVersion: version(), Seed: s.seed, Backend: s.backend.name, Provider: s.provider, Started: started}, nil)
		cert.AdapterErrors = []string{err.Error()}
		if werr := cert.WriteDir(s.out); werr != nil {
			return werr
		}
		fmt.Fprintf(stdout, "%s\ncertificate: %s\n", cert.Headline(), filepath.Join(s.out, certify.FileHTML))
		return exitCode(exitUnknown)
	}
	if err != nil {
		return err
	}

	plan, err := certify.Plan(certify.PlanConfig{
		Descriptor: certify.Descriptor{Adapter: certify.DescriptorVersion, Name: info.Name, Capabilities: info.Capabilities},
		Isolation:  s.backend.name == backendContainers, Cases: s.cases, Dialects: s.dialects, Provider: providerPlan(s.provider),
	})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	rt, release, err := s.backend.runtime(ctx, log, stderr, stderr)
	if err != nil {
		return err
	}
	defer release()
	newClient := execClientFunc(command, s.clientEnv, slices.Contains(info.Capabilities, certify.CrashPoints), log)
	start := live.StartOn(rt)
	if s.provider == providerAperture {
		start = live.StartAperture
	}
	runner, err := harness.NewRunner(start, newClient,
		harness.WithLogger(log), harness.WithReportDir(filepath.Join(s.out, "cases")), harness.WithClientName(info.Name))
	if err != nil {
		return err
	}
	replay := func(c string, seed int64) string { return certifyReplay(s, c, seed) }
	cr := certify.NewRunner(runner, replay)

	how := ""
	if s.randSeed {
		how = " (random; pass -seed to repeat it)"
	}
	selection := make([]string, len(plan))
	for i, p := range plan {
		selection[i] = p.Name()
	}
	share := ""
	if !s.shard.IsWhole() {
		// A case that does not apply costs nothing: it weighs 0.
		if plan, err = shard.Select(plan, s.shard, func(p certify.Planned) string { return p.Name() }, func(p certify.Planned) time.Duration {
			if p.Skip != "" {
				return 0
			}
			return scenarios.Expected(p.Name())
		}); err != nil {
			return fmt.Errorf("%w: -shard: %w", errUsage, err)
		}
		share = fmt.Sprintf(" (share %s of %d)", s.shard, len(selection))
	}
	fmt.Fprintf(stdout, "l402chaos certify: %s, %d cases%s, seed %d%s, backend %s, provider %s, %d at a time\n",
		info.Name, len(plan), share, s.seed, how, s.backend.name, s.provider, min(s.parallel, max(len(plan), 1)))
	results := runCases(ctx, cr, plan, s, stdout)
	interrupted := ctx.Err() != nil
	meta := certify.Meta{
		Client: info, ToolVersion: version(), Seed: s.seed, Backend: s.backend.name, Provider: s.provider, Started: started,
		Partial: s.cases != nil || len(s.dialects) > 0 || interrupted,
	}
	if !s.shard.IsWhole() {
		sh := certify.NewShare(meta, s.shard.Index, s.shard.Count, selection, results)
		if err := sh.WriteShare(s.out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nshare %s: %d of %d cases in %s; join the %d shares' directories with chaos report merge\n",
			s.shard, len(results), len(selection), filepath.Join(s.out, certify.FileShare), s.shard.Count)
		if interrupted {
			fmt.Fprintf(stderr, "chaos certify: interrupted after %d of %d cases\n", len(results), len(plan))
			return exitCode(exitUnknown)
		}
		return nil
	}
	cert := certify.NewCertificate(meta, results)
	if err := cert.WriteDir(s.out); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	if err := writeRuleResults(stdout, cert); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s\n", cert.Headline())
	fmt.Fprintf(stdout, "certificate: %s (%s, %s, %s; case records in %s)\n", filepath.Join(s.out, certify.FileHTML),
		certify.FileJSON, certify.FileMarkdown, certify.FileJUnit, filepath.Join(s.out, "cases"))
	if interrupted {
		fmt.Fprintf(stderr, "chaos certify: interrupted after %d of %d cases\n", len(results), len(plan))
		if cert.Verdict != certify.Fail {
			return exitCode(exitUnknown)
		}
	}
	return certificateExit(cert)
}

// certificateExit is the exit of a command whose verdict is a
// certificate's: 0 certified, 1 a MUST or SAFETY rule failed, 3 unknown.
func certificateExit(cert *certify.Certificate) error {
	switch cert.Verdict {
	case certify.Pass:
		return nil
	case certify.Fail:
		return exitCode(exitInvalid)
	}
	return exitCode(exitUnknown)
}

// runCases runs the planned cases, s.parallel at a time, each on its own
// network, printing each case's line as it ends, and returns their
// results in the plan's order (an interruption leaves out those it kept
// from starting). When the client's first cases all answered nothing
// usable, the cases not yet started are skipped.
func runCases(ctx context.Context, cr *certify.Runner, plan []certify.Planned, s certifySettings, stdout io.Writer) []certify.CaseResult {
	var (
		results  = make([]*certify.CaseResult, len(plan))
		mu       sync.Mutex
		first    sync.WaitGroup // the first certifyAbortAfter cases
		done     int
		unusable int
	)
	order := longestFirst(len(plan), s.parallel, func(i int) string { return plan[i].Name() })
	head := order[:min(certifyAbortAfter, len(order))]
	first.Add(len(head))
	// The first cases run before the others start: when they all answer
	// nothing usable, the rest are skipped rather than run in vain.
	before := func(n, _ int) bool {
		if n == len(head) {
			first.Wait()
		}
		return true
	}
	inParallel(ctx, s.parallel, order, before, func(i int) {
		if slices.Contains(head, i) {
			defer first.Done()
		}
		p := plan[i]
		mu.Lock()
		if unusable >= certifyAbortAfter {
			p.Skip = "not run: the client's first cases answered nothing usable (adapter errors)"
		}
		mu.Unlock()
		t0 := time.Now()
		res := cr.Run(ctx, p, s.seed)
		line := fmt.Sprintf("%-8s %5.1fs", res.Verdict(), time.Since(t0).Seconds())
		switch {
		case res.Skip != "":
			line = "n/a: " + res.Skip
		case res.AdapterError != "":
			line += "  adapter error: " + res.AdapterError
		case res.Run.Err != nil:
			line += "  harness: " + res.Run.Err.Error()
		}
		mu.Lock()
		defer mu.Unlock()
		results[i] = &res
		done++
		fmt.Fprintf(stdout, "[%2d/%d] %-44s %s\n", done, len(plan), res.Name, line)
		if res.Unusable() {
			unusable++
		} else if res.Run != nil {
			unusable = 0
		}
	})
	var out []certify.CaseResult
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// describeClient learns what the client speaks and names it.
func describeClient(ctx context.Context, s certifySettings, command []string, display string, stdout io.Writer) (certify.ClientInfo, error) {
	info := certify.ClientInfo{Name: s.name, Command: display}
	if info.Name == "" {
		info.Name = display
	}
	if s.command != nil {
		if _, err := exec.LookPath(command[0]); err != nil {
			return info, fmt.Errorf("%w: -client-cmd: %w", certify.ErrAdapter, err)
		}
	}
	d, err := certify.Describe(ctx, command, s.descriptor)
	if err != nil {
		return info, err
	}
	if d.Note != "" {
		fmt.Fprintf(stdout, "l402chaos: %s\n", d.Note)
	}
	info.Capabilities, info.Described, info.Version = d.Descriptor.Capabilities, d.FromClient, d.Descriptor.Version
	if s.name == "" && d.Descriptor.Name != "" {
		info.Name = d.Descriptor.Name
	}
	if info.Name == "" {
		info.Name = "client"
	}
	return info, nil
}

// certifyReplay is the line that reruns one case with its seed.
func certifyReplay(s certifySettings, c string, seed int64) string {
	line := fmt.Sprintf("go run ./cmd/chaos certify -case='^%s$' -seed=%d", regexp.QuoteMeta(c), seed) + replayFlags(s.command, s.clientEnv)
	if s.descriptor != "" {
		line += " -descriptor=" + joinCommand([]string{s.descriptor})
	}
	if s.backend.name != backendProcess {
		line += " -backend=" + s.backend.name
	}
	if s.provider == providerAperture {
		line += " -provider=" + providerAperture
	}
	return line
}

// providerPlan is the provider as the plan names it.
func providerPlan(kind string) string {
	if kind == providerAperture {
		return certify.ProviderAperture
	}
	return ""
}

// writeRuleResults prints the rule table.
func writeRuleResults(w io.Writer, c *certify.Certificate) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLEVEL\tRESULT\tREQUIREMENT")
	for _, r := range c.Rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Level, strings.ToUpper(string(r.Result)), ellipsis(r.Title, 90))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, r := range c.Rules {
		if r.Result != certify.Fail && r.Result != certify.Unknown {
			continue
		}
		fmt.Fprintf(w, "%s %s: %s\n", r.ID, r.Result, r.Why)
		if r.Witness != nil && r.Witness.Replay != "" {
			fmt.Fprintf(w, "  replay: %s\n", r.Witness.Replay)
		}
	}
	return nil
}

// writeRules prints the rule catalogue.
func writeRules(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tLEVEL\tJUDGED BY\tREQUIREMENT")
	for _, r := range certify.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Level, strings.Join(r.Checkers, ","), r.Title)
	}
	return tw.Flush()
}

func ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
