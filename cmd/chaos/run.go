package main

import (
	"bytes"
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
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/shlex"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/harness/shard"
	"github.com/l402chaos/l402chaos/internal/owned"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/reports"
	"github.com/l402chaos/l402chaos/scenarios"
)

// chaos run and chaos check end with the verdict, not with success or
// failure. Their exit codes:
const (
	// exitInvalid: a checker found a violation.
	exitInvalid = 1
	// exitUnknown: no violation, but the harness could not judge
	// everything (a checker answered Unknown, coverage was not reached,
	// the harness itself failed or was interrupted). Never a verdict
	// against the client.
	exitUnknown = 3
	// exitBadUsage (sysexits' EX_USAGE): bad flags, a pattern that
	// selects nothing, a directory that holds no run.
	exitBadUsage = 64
)

// Client kinds for -client.
const (
	clientExec      = "exec"
	clientInProcess = "inprocess"
)

// Shell-word splitting errors.
var (
	errEmptyCommand   = errors.New("empty command")
	errUnterminated   = errors.New("unterminated quote")
	errTrailingEscape = errors.New("trailing backslash")
	errShellSyntax    = errors.New("shell syntax")
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return verdictCommand("run", runScenarios(ctx, args, stdout, stderr), stderr)
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return verdictCommand("check", recheck(args, stdout, stderr), stderr)
}

// verdictCommand maps a verdict command's error to its exit code: usage
// errors are 64, and any other failure is the harness's own, so Unknown
// (3), never 1, which says the client broke an invariant.
func verdictCommand(name string, err error, stderr io.Writer) error {
	var code exitCode
	switch {
	case err == nil, errors.As(err, &code), errors.Is(err, flag.ErrHelp):
		return err
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "chaos %s: %v\n", name, err)
		return exitCode(exitBadUsage)
	default:
		fmt.Fprintf(stderr, "chaos %s: %v\n", name, err)
		return exitCode(exitUnknown)
	}
}

// verdictExit is the exit of a finished command with verdict v.
func verdictExit(v check.Validity) error {
	switch v {
	case check.Valid:
		return nil
	case check.Invalid:
		return exitCode(exitInvalid)
	}
	return exitCode(exitUnknown)
}

// runSettings are chaos run's flags, checked.
type runSettings struct {
	scenarios []harness.Scenario
	seed      int64
	randSeed  bool
	command   []string // nil: the reference client
	kind      string
	dir       string
	verbose   bool
	json      bool
	backend   backendFlag
	parallel  int
	shard     shard.Shard
	// verdictExit: exit with the verdict; false: 0 once the reports
	// are written (a share whose verdict the merge judges).
	verdictExit bool
	clientEnv   []string
	// seeds is how many seeds, from seed on, the scenarios run with (one
	// pass per seed): their neighbours, drawn by the scenarios' seeded
	// variations.
	seeds int
	// selection is every scenario the flags select, before -shard
	// takes its share: merge checks the shares cover it.
	selection []string
}

func parseRunFlags(args []string, stderr io.Writer) (runSettings, error) {
	fs := newFlags("run", stderr)
	var (
		pattern   = fs.String("scenario", "", "run the scenarios whose name matches this regular expression (default: all)")
		seed      = fs.Int64("seed", 0, "the run's seed; every scenario runs with this very seed (0: pick one at random and print it)")
		seeds     = fs.Int("seeds", 1, "run the scenarios once per seed, -seed to -seed+N-1: each seed draws the scenarios' varied parameters\n(fault timings, spans, Retry-After values); one reports directory per seed")
		clientCmd = fs.String("client-cmd", "", "the client under test: a command speaking the exec adapter protocol v1,\nsplit into words as a shell does (quotes, backslashes), never run by a shell\n(default: the reference client)")
		kind      = fs.String("client", clientExec, "how to run the reference client: exec (its binary, through the adapter protocol) or inprocess")
		dir       = fs.String("reports", "", "where to write the reports (default ./chaos-reports/<timestamp>)")
		verbose   = fs.Bool("v", false, "print every verdict row, and log the harness's progress on stderr")
		jsonOut   = fs.Bool("json", false, "print results.json on stdout; progress and tables go to stderr")
		vexit     = fs.Bool("verdict-exit", true, "exit with the verdict (1 invalid, 3 unknown); false: exit 0 once the reports are written,\nfor a share whose verdict chaos report merge judges (a Kubernetes Job's pod)")
		parallel  = fs.Int("parallel", defaultParallel(), "run this many scenarios at once, each on its own network (default: from the machine's cores and memory)")
		backend   backendFlag
		sh        shardFlag
		cenv      envFlag
	)
	backend.register(fs)
	cenv.register(fs)
	sh.register(fs, "selected scenarios")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos run [-scenario regexp] [-seed N] [-seeds N] [-client-cmd 'command args'] [-client exec|inprocess] [-backend process|containers] [-parallel P] [-shard K/N] [-reports dir] [-v] [-json]")
		fmt.Fprintln(stderr, "Runs the scenarios against the client, each on a fresh regtest network, -parallel at a time.")
		fmt.Fprintln(stderr, "Exit 0 all valid, 1 a checker found a violation, 3 the harness could not judge (and nothing invalid), 64 bad usage.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return runSettings{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	s := runSettings{seed: *seed, kind: *kind, dir: *dir, verbose: *verbose, json: *jsonOut, backend: backend, parallel: *parallel, shard: sh.Shard, verdictExit: *vexit, clientEnv: cenv, seeds: *seeds}
	switch {
	case s.seeds < 1:
		return s, fmt.Errorf("%w: -seeds %d: want 1 or more", errUsage, s.seeds)
	case s.seeds > 1 && !sh.Shard.IsWhole():
		return s, fmt.Errorf("%w: -seeds runs whole passes; share them with -seed, one share per seed, rather than -shard", errUsage)
	case s.seeds > 1 && *jsonOut:
		return s, fmt.Errorf("%w: -json prints one pass's results; with -seeds each pass writes its results.json", errUsage)
	}
	if err := backend.check(); err != nil {
		return s, err
	}
	if err := checkParallel("parallel", s.parallel); err != nil {
		return s, err
	}
	switch s.kind {
	case clientExec, clientInProcess:
	default:
		return s, fmt.Errorf("%w: -client %q: want %s or %s", errUsage, s.kind, clientExec, clientInProcess)
	}
	if set["client-env"] && s.kind == clientInProcess {
		return s, fmt.Errorf("%w: -client-env sets a command's variables; it cannot be combined with -client %s", errUsage, clientInProcess)
	}
	if set["client-cmd"] {
		if s.kind == clientInProcess {
			return s, fmt.Errorf("%w: -client-cmd runs a command; it cannot be combined with -client %s", errUsage, clientInProcess)
		}
		cmd, err := splitCommand(*clientCmd)
		if err != nil {
			return s, fmt.Errorf("%w: -client-cmd %q: %w", errUsage, *clientCmd, err)
		}
		if _, err := exec.LookPath(cmd[0]); err != nil {
			return s, fmt.Errorf("%w: -client-cmd: %w", errUsage, err)
		}
		s.command = cmd
	}
	if set["reports"] && s.dir == "" {
		return s, fmt.Errorf("%w: -reports: empty directory", errUsage)
	}
	if _, err := regexp.Compile(*pattern); err != nil {
		return s, fmt.Errorf("%w: -scenario %q: %w", errUsage, *pattern, err)
	}
	scs, err := scenarios.Select(*pattern)
	if err != nil || len(scs) == 0 {
		msg := fmt.Sprintf("no scenario matches %q", *pattern)
		if err != nil {
			msg = err.Error()
		}
		return s, fmt.Errorf("%w: -scenario: %s; the scenarios are: %s", errUsage, msg, strings.Join(scenarioNames(scenarios.All()), ", "))
	}
	// Scenarios that cut a node off as a whole need containers: on
	// processes they do not apply, and are left out with a word.
	var skipped []string
	if backend.name != backendContainers {
		kept := scs[:0]
		for _, sc := range scs {
			if sc.NeedsIsolation {
				skipped = append(skipped, sc.Name)
				continue
			}
			kept = append(kept, sc)
		}
		scs = kept
	}
	if len(scs) == 0 {
		return s, fmt.Errorf("%w: -scenario %q: %s isolate a node, which needs -backend %s", errUsage, *pattern, strings.Join(skipped, ", "), backendContainers)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "chaos run: not applicable on -backend %s (they need -backend %s): %s\n", backend.name, backendContainers, strings.Join(skipped, ", "))
	}
	// Scenarios that crash the client at points inside it need the
	// reference client run as a command (chaos certify runs them for a
	// client whose descriptor declares crash-points).
	if s.command != nil || s.kind == clientInProcess {
		var kept, crash []harness.Scenario
		for _, sc := range scs {
			if sc.NeedsCrashPoints {
				crash = append(crash, sc)
				continue
			}
			kept = append(kept, sc)
		}
		if len(kept) == 0 {
			return s, fmt.Errorf("%w: -scenario %q: %s crash the client at points inside it, which only the reference client (run as a command) has here", errUsage, *pattern, strings.Join(scenarioNames(crash), ", "))
		}
		if len(crash) > 0 {
			fmt.Fprintf(stderr, "chaos run: not applicable to this client (they crash it at points inside it; the crash-* scenarios kill it from outside): %s\n", strings.Join(scenarioNames(crash), ", "))
		}
		scs = kept
	}
	if !s.shard.IsWhole() && s.seed == 0 {
		return s, fmt.Errorf("%w: -shard %s needs -seed: every share must run with the same seed", errUsage, s.shard)
	}
	s.selection = scenarioNames(scs)
	if s.scenarios, err = shard.Select(scs, s.shard, func(sc harness.Scenario) string { return sc.Name }, func(sc harness.Scenario) time.Duration {
		return scenarios.Expected(sc.Name)
	}); err != nil {
		return s, fmt.Errorf("%w: -shard: %w", errUsage, err)
	}
	if s.seed == 0 {
		// Small enough to type back in.
		s.seed, s.randSeed = rand.Int64N(1<<31)+1, true
	}
	if s.dir == "" {
		s.dir = filepath.Join("chaos-reports", time.Now().Format("20060102-150405"))
	}
	return s, nil
}

// runScenarios is chaos run. Every scenario runs with the run's seed
// itself, so the replay line each run prints, -scenario='^name$'
// -seed=N, reruns exactly that run whatever else was selected with it.
func runScenarios(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseRunFlags(args, stderr)
	if err != nil {
		return err
	}
	out := stdout
	if s.json {
		out = stderr
	}
	level := slog.LevelWarn
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	newClient, name, cleanup, err := clientFor(ctx, s, log, out)
	if err != nil {
		return err
	}
	defer cleanup()
	rt, release, err := s.backend.runtime(ctx, log, stderr, stderr)
	if err != nil {
		return err
	}
	defer release()
	if s.seeds == 1 {
		v, interrupted, err := runPass(ctx, s, rt, newClient, name, log, stdout, stderr, out)
		if err != nil {
			return err
		}
		return s.exit(v, interrupted)
	}
	// One pass per seed, each in a directory of its own.
	base, root := s.seed, s.dir
	worst, interrupted := check.Valid, false
	var lines []string
	for i := range s.seeds {
		ps := s
		ps.seed, ps.randSeed = base+int64(i), false
		ps.dir = filepath.Join(root, fmt.Sprintf("seed-%d", ps.seed))
		fmt.Fprintf(out, "\n##### seed %d (%d/%d)\n", ps.seed, i+1, s.seeds)
		v, intr, err := runPass(ctx, ps, rt, newClient, name, log, stdout, stderr, out)
		if err != nil {
			return err
		}
		worst, interrupted = worse(worst, v), interrupted || intr
		lines = append(lines, fmt.Sprintf("  seed %d: %s (%s)", ps.seed, strings.ToUpper(v.String()), ps.dir))
		if interrupted {
			break
		}
	}
	fmt.Fprintf(out, "\n%s over seeds %d to %d:\n%s\n", strings.ToUpper(worst.String()), base, base+int64(s.seeds)-1, strings.Join(lines, "\n"))
	return s.exit(worst, interrupted)
}

// worse folds two verdicts: invalid over unknown over valid.
func worse(a, b check.Validity) check.Validity {
	switch {
	case a == check.Invalid || b == check.Invalid:
		return check.Invalid
	case a == check.Unknown || b == check.Unknown:
		return check.Unknown
	}
	return check.Valid
}

// exit is the command's exit for a verdict.
func (s runSettings) exit(v check.Validity, interrupted bool) error {
	if !s.verdictExit {
		return nil
	}
	if interrupted && v != check.Invalid {
		return exitCode(exitUnknown)
	}
	return verdictExit(v)
}

// runPass runs the selected scenarios once with s.seed, writes their
// reports into s.dir and returns the verdict.
func runPass(ctx context.Context, s runSettings, rt regtest.Runtime, newClient harness.ClientFunc, name string, log *slog.Logger, stdout, stderr, out io.Writer) (check.Validity, bool, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return check.Unknown, false, fmt.Errorf("reports: %w", err)
	}
	// Progress lines share the output with the tables: one lock.
	var outMu sync.Mutex
	prog := startRunProgress(out, &outMu, runProgressEvery)
	defer prog.stop()
	runner, err := harness.NewRunner(live.StartOn(rt), newClient,
		harness.WithLogger(log), harness.WithReportDir(s.dir), harness.WithClientName(name),
		harness.WithReplay(func(sc string, seed int64) string { return runReplay(s, sc, seed) }),
		harness.WithEvents(prog.seen))
	if err != nil {
		return check.Unknown, false, err
	}

	how := ""
	if s.randSeed {
		how = " (random; pass -seed to repeat it)"
	}
	share := ""
	if !s.shard.IsWhole() {
		share = fmt.Sprintf(" (share %s of %d selected)", s.shard, len(s.selection))
	}
	fmt.Fprintf(out, "l402chaos: %d scenarios%s, seed %d%s, client %s, %d at a time\n", len(s.scenarios), share, s.seed, how, name, min(s.parallel, max(len(s.scenarios), 1)))
	start := time.Now()
	runs, interrupted := runAll(ctx, runner, prog, &outMu, s, out)
	runs = slices.DeleteFunc(runs, func(r *check.RunResult) bool { return r == nil })
	interrupted = interrupted || ctx.Err() != nil

	meta := reports.Meta{
		Version: version(), Seed: s.seed, Client: name, Started: start, Duration: time.Since(start),
		Backend: s.backend.name, Parallel: s.parallel,
	}
	if !s.shard.IsWhole() {
		meta.Shard = &reports.Shard{Index: s.shard.Index, Count: s.shard.Count, Selection: s.selection}
	}
	r := reports.New(runs, meta)
	c := r.Scenarios()
	fmt.Fprintf(out, "\n%s: %d of %d scenarios: %s; seed %d; %s\n",
		strings.ToUpper(r.Verdict.String()), c.Total(), len(s.scenarios), c, s.seed, r.Duration.Round(time.Second))
	if err := reports.WriteDir(s.dir, r, runs); err != nil {
		return check.Unknown, interrupted, fmt.Errorf("write reports: %w", err)
	}
	fmt.Fprintf(out, "reports: %s (%s, %s, %s; one directory per scenario with %s and %s)\n",
		filepath.Join(s.dir, reports.FileHTML), reports.FileResults, reports.FileJUnit, reports.FileHTML,
		history.HistoryFile, history.TruthFile)
	if s.json {
		if err := reports.WriteJSON(stdout, r); err != nil {
			return check.Unknown, interrupted, err
		}
	}
	if interrupted {
		fmt.Fprintf(stderr, "chaos run: interrupted after %d of %d scenarios\n", len(r.Runs), len(s.scenarios))
	}
	return r.Verdict, interrupted, nil
}

// runReplay is the line that reruns one scenario as it ran: the same
// client (command, variables, kind) and backend.
func runReplay(s runSettings, scenario string, seed int64) string {
	line := harness.ReplayCommand(scenario, seed) + replayFlags(s.command, s.clientEnv)
	if s.kind == clientInProcess {
		line += " -client=" + clientInProcess
	}
	if s.backend.name != backendProcess {
		line += " -backend=" + s.backend.name
	}
	return line
}

// runAll runs the scenarios, s.parallel at a time, each on its own
// network, and returns their results in the scenarios' order (nil for
// those an interruption kept from starting). Each scenario's table is
// printed whole as it ends, so the tables of concurrent scenarios never
// interleave. With -parallel 1 it is the serial run it always was.
func runAll(ctx context.Context, runner *harness.Runner, prog *runProgress, mu *sync.Mutex, s runSettings, out io.Writer) ([]*check.RunResult, bool) {
	var (
		runs = make([]*check.RunResult, len(s.scenarios))
		done int
	)
	workers := min(s.parallel, len(s.scenarios))
	order := longestFirst(len(s.scenarios), workers, func(i int) string { return s.scenarios[i].Name })
	all := inParallel(ctx, workers, order, nil, func(i int) {
		sc := s.scenarios[i]
		if workers == 1 {
			mu.Lock()
			fmt.Fprintf(out, "\n=== RUN %s (%d/%d) seed=%d\n", sc.Name, i+1, len(s.scenarios), s.seed)
			mu.Unlock()
		}
		prog.begin(sc.Name)
		run := runner.Run(ctx, sc, s.seed)
		prog.end(sc.Name)
		var table bytes.Buffer
		one := reports.New([]*check.RunResult{run}, reports.Meta{Seed: s.seed})
		if err := reports.WriteTable(&table, one, reports.WithVerbose(s.verbose)); err != nil {
			fmt.Fprintf(&table, "table: %v\n", err)
		}
		mu.Lock()
		defer mu.Unlock()
		runs[i] = run
		done++
		if workers > 1 {
			fmt.Fprintf(out, "\n=== DONE %s (%d/%d done, %s) seed=%d\n", sc.Name, done, len(s.scenarios), run.Duration.Round(time.Second), s.seed)
		}
		out.Write(table.Bytes())
	})
	return runs, !all || ctx.Err() != nil
}

// clientFor makes the client factory the runner calls once per scenario,
// the client's name for reports, and what to clean up at the end.
func clientFor(ctx context.Context, s runSettings, log *slog.Logger, progress io.Writer) (harness.ClientFunc, string, func(), error) {
	nothing := func() {}
	if s.kind == clientInProcess {
		f := func(ctx context.Context, e harness.Endpoints, dir string) (harness.Client, error) {
			return adapter.NewInProcess(ctx, adapter.InProcessConfig{
				StateRoot: dir, RPCServer: e.PayerRPC, TLSCertPath: e.PayerTLSCert, MacaroonPath: e.PayerMacaroon, Logger: log,
			})
		}
		return f, "reference (in-process)", nothing, nil
	}
	cmd, name := s.command, "exec: "+joinCommand(s.command)
	cleanup := nothing
	if cmd == nil {
		var err error
		if cmd, cleanup, err = referenceClient(ctx, progress); err != nil {
			return nil, "", nil, err
		}
		name = "reference (exec)"
	}
	return execClientFunc(cmd, s.clientEnv, s.command == nil, log), name, cleanup, nil
}

// execClientFunc runs command through the exec adapter protocol; crash
// says the client has crash points (L402_CRASH_AT).
func execClientFunc(command, env []string, crash bool, log *slog.Logger) harness.ClientFunc {
	return func(ctx context.Context, e harness.Endpoints, dir string) (harness.Client, error) {
		return adapter.NewExec(command, adapter.ExecConfig{
			StateRoot: dir, RPCServer: e.PayerRPC, TLSCertPath: e.PayerTLSCert, MacaroonPath: e.PayerMacaroon,
			ExtraEnv: env, CrashPoints: crash,
		}, adapter.WithLogger(log))
	}
}

// envTestMain makes a test binary of this package behave as chaos (its
// TestMain): chaos sim -seeds N runs each seed as `<this program> sim`.
const envTestMain = "L402CHAOS_TEST_AS_CHAOS"

// referenceClient is the reference client's command: this program's own
// `chaos client`: nothing to build, so an image's /bin/chaos needs no Go
// toolchain. Under go test (the program is a test binary, and the exec
// adapter passes the client no variable of the harness's) and should
// this program not find itself, the client is built into a temporary
// directory that cleanup removes.
func referenceClient(ctx context.Context, progress io.Writer) (cmd []string, cleanup func(), err error) {
	if self, err := os.Executable(); err == nil && os.Getenv(envTestMain) == "" {
		return []string{self, "client"}, func() {}, nil
	}
	build, err := owned.MkdirTemp("", harness.ReferenceDirPrefix)
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { os.RemoveAll(build) }
	fmt.Fprintln(progress, "l402chaos: building the reference client")
	if cmd, err = referenceCommand(ctx, build); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("build the reference client: %w", err)
	}
	return cmd, cleanup, nil
}

// referenceCommand builds the reference client into dir.
func referenceCommand(ctx context.Context, dir string) ([]string, error) {
	return adapter.ReferenceCommand(ctx, dir)
}

// recheck is chaos check DIR: the checkers again, offline, on a run's
// history.jsonl and truth.json; or on every run of a report directory
// (one with results.json).
func recheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	verbose := fs.Bool("v", false, "print every verdict row")
	jsonOut := fs.Bool("json", false, "print the rechecked results as results.json on stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos check [-v] [-json] DIR")
		fmt.Fprintln(stderr, "Runs every checker again on DIR/history.jsonl and DIR/truth.json, or on each run of a report")
		fmt.Fprintln(stderr, "directory (DIR/results.json). Coverage and seeds come from results.json when there is one.")
		fmt.Fprintln(stderr, "Exit 0 all valid, 1 a checker found a violation, 3 the checkers could not judge, 64 bad usage.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one directory, got %d arguments", errUsage, fs.NArg())
	}
	dir := fs.Arg(0)
	rc, err := reports.Recheck(dir, reports.Meta{Version: version()})
	if errors.Is(err, reports.ErrNothingToCheck) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		return err
	}
	out := stdout
	if *jsonOut {
		out = stderr
	}
	for _, note := range rc.Changed {
		fmt.Fprintf(out, "note: %s\n", note)
	}
	fmt.Fprintf(out, "rechecked %d runs in %s with %d checkers\n", len(rc.Runs), dir, len(check.All()))
	if err := reports.WriteTable(out, rc.Report, reports.WithVerbose(*verbose)); err != nil {
		return err
	}
	if *jsonOut {
		if err := reports.WriteJSON(stdout, rc.Report); err != nil {
			return err
		}
	}
	return verdictExit(rc.Report.Verdict)
}

func scenarioNames(scs []harness.Scenario) []string {
	names := make([]string, len(scs))
	for i, sc := range scs {
		names[i] = sc.Name
	}
	return names
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// splitCommand splits a command line into words as a POSIX shell does,
// without expanding anything: blanks separate words; single quotes keep
// everything up to the next single quote; double quotes keep everything
// but \" \\ \$ \` (which lose their backslash); a backslash outside quotes
// keeps the next character. The command is never run by a shell, so
// unquoted shell syntax (pipes, redirections, lists, subshells,
// variables, command substitution) is an error rather than a surprise:
// wrap such a command in sh -c '...'. Globs, ~ and # are taken literally.
//
// github.com/google/shlex does the splitting; shlexInput first refuses
// what shlex would accept silently and adapts the two rules where shlex
// differs from a shell.
func splitCommand(s string) ([]string, error) {
	in, err := shlexInput(s)
	if err != nil {
		return nil, err
	}
	words, err := shlex.Split(in)
	if err != nil {
		// Not reached: shlexInput has already refused bad quoting.
		return nil, fmt.Errorf("split command: %w", err)
	}
	if len(words) == 0 || words[0] == "" {
		return nil, errEmptyCommand
	}
	return words, nil
}

// shlexInput scans s with a shell's quoting rules and returns it ready
// for shlex.Split. It refuses unquoted shell operators (errShellSyntax),
// an unclosed quote (errUnterminated) and a trailing unquoted backslash
// (errTrailingEscape). It escapes two things so that shlex reads them as
// a shell would: an unquoted # (shlex starts a comment at a word's
// start) and a backslash inside double quotes before anything but
// " \ $ ` (a shell keeps that backslash, shlex drops it).
func shlexInput(s string) (string, error) {
	var b strings.Builder
	var quote rune // ' or " inside quotes, 0 outside
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(rs) && strings.ContainsRune("\"\\$`", rs[i+1]):
				b.WriteRune(c)
				i++
				c = rs[i]
			case c == '\\':
				b.WriteRune('\\') // kept: "\n" is a backslash and an n
			}
		case c == '\\':
			if i+1 >= len(rs) {
				return "", errTrailingEscape
			}
			b.WriteRune(c)
			i++
			c = rs[i]
		case c == '\'' || c == '"':
			quote = c
		case c == '#':
			b.WriteRune('\\')
		case strings.ContainsRune("|&;<>()$`", c):
			return "", fmt.Errorf("%w: unquoted %q (the command is not run by a shell; quote it, or wrap the command in sh -c '...')", errShellSyntax, c)
		}
		b.WriteRune(c)
	}
	if quote != 0 {
		return "", errUnterminated
	}
	return b.String(), nil
}

// joinCommand writes words back as one line a shell (and splitCommand)
// reads as the same words.
func joinCommand(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsFunc(w, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
