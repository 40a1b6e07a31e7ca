package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
	"pgregory.net/rapid"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/property"
	"github.com/l402chaos/l402chaos/harness/shard"
	"github.com/l402chaos/l402chaos/harness/sim"
	"github.com/l402chaos/l402chaos/internal/rapidflags"
)

// chaos sim explores the property (harness/property) on the
// deterministic simulator: rapid draws sequences of purchases, faults,
// crashes, blocks and waits, the checkers judge every step, and the first
// violation is shrunk to a minimal sequence. The same seed, steps and
// checks replay the same sequences, so the replay line it prints finds
// the same minimal sequence again.
//
//	flags ──> property.Explore(sim world) ──> Finding ──> text or JSON, exit code
//	               │ OnStep
//	               └──> atomic counter <── ticker goroutine ──> progress on stderr

// Defaults of chaos sim's flags.
const (
	simDefaultSteps  = 30
	simDefaultChecks = 100
	simDefaultShrink = 30 * time.Second
	// simReference is -client's name for the reference client.
	simReference = "reference"
)

// simConfig sizes the property on the simulator: waits up to two minutes
// of virtual time (as scenarios' simulator tests do).
var simConfig = property.Config{MaxWait: 2 * time.Minute}

// Progress on stderr: a line rewritten in place every second on a
// terminal, a plain line every few seconds otherwise.
const (
	progressTerminal = time.Second
	progressPlain    = 5 * time.Second
)

// simSettings are chaos sim's flags, checked.
type simSettings struct {
	seed     uint64
	randSeed bool
	steps    int
	checks   int
	mutant   string // "" the reference client
	shrink   time.Duration
	json     bool
	seeds    int
	workers  int
	shard    shard.Shard
}

// clientName is the client as -client names it.
func (s simSettings) clientName() string {
	if s.mutant == "" {
		return simReference
	}
	return s.mutant
}

// replay is the command line that runs the same sequences again.
func (s simSettings) replay() string {
	line := fmt.Sprintf("go run ./cmd/chaos sim -seed %d -seeds 1 -steps %d -checks %d -client %s", s.seed, s.steps, s.checks, s.clientName())
	if s.shrink != simDefaultShrink {
		line += " -shrink " + s.shrink.String()
	}
	return line
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return verdictCommand("sim", simulate(ctx, args, stdout, stderr), stderr)
}

func parseSimFlags(args []string, stderr io.Writer) (simSettings, error) {
	fs := newFlags("sim", stderr)
	var (
		seed    = fs.Uint64("seed", 0, "rapid's base seed: the same seed, -steps and -checks replay the same sequences (0: pick one and print it)")
		steps   = fs.Int("steps", simDefaultSteps, "average number of steps per sequence")
		checks  = fs.Int("checks", simDefaultChecks, "number of sequences to try")
		client  = fs.String("client", simReference, "the client: "+simReference+", or a mutant of client/mutant (one deliberate bug each)")
		shrink  = fs.Duration("shrink", simDefaultShrink, "longest time spent shrinking a violation to a minimal sequence")
		jsonOut = fs.Bool("json", false, "print the result as one JSON object on stdout; the text goes to stderr")
		seeds   = fs.Int("seeds", 0, "explore this many seeds, -seed, -seed+1, ..., each with -checks sequences (default: -workers)")
		workers = fs.Int("workers", runtime.NumCPU(), "explore this many seeds at once, each in a process of its own (default: one per core)")
		sh      shardFlag
	)
	sh.register(fs, "-seeds range")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos sim [-seed N] [-seeds S] [-workers W] [-shard K/N] [-steps M] [-checks K] [-client NAME] [-shrink D] [-json]")
		fmt.Fprintln(stderr, "Explores random sequences of purchases, faults, crashes, blocks and waits on the deterministic")
		fmt.Fprintln(stderr, "simulator, checks every step, and shrinks the first violation to a minimal sequence.")
		fmt.Fprintln(stderr, "Exit 0 no violation, 1 a checker found a violation, 3 the harness failed or was interrupted, 64 bad usage.")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "clients: %s\n", strings.Join(simClients(), ", "))
	}
	if err := parse(fs, args); err != nil {
		return simSettings{}, err
	}
	s := simSettings{seed: *seed, steps: *steps, checks: *checks, shrink: *shrink, json: *jsonOut, seeds: *seeds, workers: *workers, shard: sh.Shard}
	if err := checkParallel("workers", s.workers); err != nil {
		return s, err
	}
	if s.seeds == 0 {
		s.seeds = s.workers
	}
	switch {
	case s.seeds < 1 || s.seeds > 1_000_000:
		return s, fmt.Errorf("%w: -seeds %d: want 1 to 1000000", errUsage, s.seeds)
	case !s.shard.IsWhole() && *seed == 0:
		return s, fmt.Errorf("%w: -shard %s needs -seed: every share must count from the same seed", errUsage, s.shard)
	case s.steps < 1:
		return s, fmt.Errorf("%w: -steps %d: want at least 1", errUsage, s.steps)
	case s.checks < 1:
		return s, fmt.Errorf("%w: -checks %d: want at least 1", errUsage, s.checks)
	case s.shrink <= 0:
		return s, fmt.Errorf("%w: -shrink %s: want more than 0", errUsage, s.shrink)
	}
	switch *client {
	case "", simReference:
	default:
		m, ok := mutant.ByName(*client)
		if !ok {
			return s, fmt.Errorf("%w: -client %q: want one of %s", errUsage, *client, strings.Join(simClients(), ", "))
		}
		s.mutant = m.Name
	}
	if s.seed == 0 {
		// From the clock, small enough to type back in.
		s.seed, s.randSeed = uint64(time.Now().UnixNano())%(1<<31)+1, true
	}
	return s, nil
}

// simClients are -client's values.
func simClients() []string {
	names := []string{simReference}
	for _, m := range mutant.All() {
		names = append(names, m.Name)
	}
	return names
}

// simResult is chaos sim's JSON output: the run, its verdict and, when
// there is one, the finding.
type simResult struct {
	Client  string `json:"client"`
	Seed    uint64 `json:"seed"`
	Steps   int    `json:"steps"`
	Checks  int    `json:"checks"`
	Verdict string `json:"verdict"`
	// Sequences and StepsRun are what ran, shrinking included; FoundIn
	// is the sequence the first violation was found in.
	Sequences int64         `json:"sequences"`
	FoundIn   int64         `json:"found_in,omitempty"`
	StepsRun  int64         `json:"steps_run"`
	Duration  time.Duration `json:"duration"`
	// Interrupted: the run was stopped before it finished.
	Interrupted bool              `json:"interrupted,omitempty"`
	Error       string            `json:"error,omitempty"`
	Finding     *property.Finding `json:"finding,omitempty"`
	Replay      string            `json:"replay"`
}

// simulate is chaos sim.
func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseSimFlags(args, stderr)
	if err != nil {
		return err
	}
	if s.seeds > 1 || !s.shard.IsWhole() {
		return simulateSeeds(ctx, s, stdout, stderr)
	}
	out := stdout
	if s.json {
		out = stderr
	}
	how := ""
	if s.randSeed {
		how = " (random; pass -seed to repeat it)"
	}
	fmt.Fprintf(out, "l402chaos sim: client %s, seed %d%s, %d sequences of about %d steps\n", s.clientName(), s.seed, how, s.checks, s.steps)

	// rapid keeps its settings in process-wide flags: this command owns
	// the process, so it sets them.
	restore, err := rapidflags.Set(rapidflags.Settings{
		Seed: s.seed, Checks: s.checks, Steps: s.steps, ShrinkTime: s.shrink, NoFailFile: true,
	})
	if err != nil {
		return err
	}
	defer restore()

	tty := isTerminal(stderr)
	every := progressPlain
	if tty {
		every = progressTerminal
	}
	p := startProgress(stderr, tty, every)
	cfg := simConfig
	cfg.OnStep = func(property.Step) { p.steps.Add(1) }
	cfg.OnViolation = func([]property.Step, []check.Result) {
		if !p.found.Swap(true) {
			p.foundIn.Store(p.sequences.Load())
		}
	}
	start := time.Now()
	f, err := property.Explore(ctx, p.worlds(ctx, sim.Worlds(s.mutant)), cfg)
	elapsed := time.Since(start)
	p.stop()

	res := simResult{
		Client: s.clientName(), Seed: s.seed, Steps: s.steps, Checks: s.checks,
		Sequences: p.sequences.Load(), StepsRun: p.steps.Load(), Duration: elapsed, Interrupted: ctx.Err() != nil,
		Finding: f, Replay: s.replay(),
	}
	if f != nil {
		res.FoundIn = p.foundIn.Load()
	}
	var exit error
	switch {
	case err != nil:
		res.Verdict, res.Error = check.Unknown.String(), err.Error()
		fmt.Fprintf(out, "UNKNOWN: the harness failed: %v\n", err)
		exit = exitCode(exitUnknown)
	case f != nil && len(f.Invalid) > 0:
		// Seen before or while stopping: a violation all the same.
		res.Verdict = check.Invalid.String()
		writeFinding(out, s, f, res)
		exit = verdictExit(check.Invalid)
	case res.Interrupted:
		res.Verdict = check.Unknown.String()
		fmt.Fprintf(out, "UNKNOWN: interrupted after %d sequences and %d steps, no violation so far; seed %d\nreplay: %s\n",
			res.Sequences, res.StepsRun, s.seed, res.Replay)
		exit = exitCode(exitUnknown)
	case f == nil:
		res.Verdict = check.Valid.String()
		fmt.Fprintf(out, "VALID: %d sequences, %d steps in %s (%s steps/s); seed %d\n",
			res.Sequences, res.StepsRun, elapsed.Round(time.Millisecond), rate(res.StepsRun, elapsed), s.seed)
		exit = verdictExit(check.Valid)
	default:
		res.Verdict = check.Unknown.String()
		writeFinding(out, s, f, res)
		exit = exitCode(exitUnknown)
	}
	if res.Interrupted {
		fmt.Fprintf(stderr, "chaos sim: interrupted after %d steps\n", res.StepsRun)
	}
	if s.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	return exit
}

// writeFinding prints a finding: what is invalid (or the harness's
// failure), the minimal sequence, how long finding it took, and the line
// that replays it.
func writeFinding(w io.Writer, s simSettings, f *property.Finding, res simResult) {
	if len(f.Invalid) > 0 {
		fmt.Fprintf(w, "INVALID: client %s; seed %d\n", s.clientName(), s.seed)
		for _, r := range f.Invalid {
			fmt.Fprintf(w, "  %s\n", r)
		}
	} else {
		fmt.Fprintf(w, "UNKNOWN: the harness failed; seed %d\n", s.seed)
		for _, line := range strings.Split(strings.TrimSpace(f.Message), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintf(w, "minimal sequence (%s):\n%s", plural(len(f.Steps), "step"), property.FormatSteps(f.Steps))
	where := ""
	if res.FoundIn > 0 {
		where = fmt.Sprintf(" in sequence %d", res.FoundIn)
	}
	fmt.Fprintf(w, "found%s after %s and %s; %s in %s with shrinking (%s steps/s)\n",
		where, f.FoundAfter.Round(time.Millisecond), plural(int(f.StepsBefore), "step"),
		plural(int(res.StepsRun), "step"), res.Duration.Round(time.Millisecond), rate(res.StepsRun, res.Duration))
	if res.Duration-f.FoundAfter >= s.shrink {
		fmt.Fprintf(w, "shrinking stopped at the -shrink limit (%s): the sequence may not be minimal, and a replay on a faster or slower machine may shrink differently\n", s.shrink)
	}
	fmt.Fprintf(w, "replay: %s\n", res.Replay)
}

// worlds counts the sequences (one world each), and makes worlds only
// while ctx lasts: once it is done, every sequence fails at once, before
// its first step, so rapid ends (and shrinks to the empty sequence)
// quickly.
func (p *progress) worlds(ctx context.Context, newWorld property.NewWorld) property.NewWorld {
	return func(t *rapid.T, seed uint64) (property.World, error) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted: %w", err)
		}
		p.sequences.Add(1)
		return newWorld(t, seed)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(n)/d.Seconds(), 'f', 0, 64)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress prints the steps done so far from its own goroutine: the
// simulation counts steps in steps, on the goroutine that runs it.
type progress struct {
	steps     atomic.Int64
	sequences atomic.Int64
	found     atomic.Bool
	foundIn   atomic.Int64
	start     time.Time
	w         io.Writer
	tty       bool
	quit      chan struct{}
	wg        sync.WaitGroup
	wrote     bool // by the goroutine only, read after it ends
}

// startProgress prints a progress line every so often: in place on a
// terminal (tty), as a line of its own otherwise.
func startProgress(w io.Writer, tty bool, every time.Duration) *progress {
	p := &progress{start: time.Now(), w: w, tty: tty, quit: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-tick.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) line() string {
	n, d := p.steps.Load(), time.Since(p.start)
	s := fmt.Sprintf("sim: %d sequences, %d steps, %s steps/s, %s elapsed", p.sequences.Load(), n, rate(n, d), d.Round(time.Second))
	if p.found.Load() {
		s += "; shrinking a violation"
	}
	return s
}

func (p *progress) print() {
	p.wrote = true
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\033[K", p.line())
		return
	}
	fmt.Fprintln(p.w, p.line())
}

// stop ends the progress lines; on a terminal it clears the last one.
// Nothing is written to w once it returns.
func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	if p.tty && p.wrote {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
