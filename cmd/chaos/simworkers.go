package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/shard"
)

// Seeds across cores. rapid keeps its settings (the seed among them) in
// process-wide flags, so one process explores one seed at a time; chaos
// sim -seeds N runs each seed in a process of its own (this very
// program, as `chaos sim -seeds 1 -json`), -workers at a time. A seed's
// result depends on nothing but the seed and the flags, so it is the same
// with any number of workers; the verdict is the lowest seed's that
// found a violation (seeds above it are stopped, seeds below it run to
// the end), the same with any number of workers too.
//
//	seeds ──> W worker goroutines ──> chaos sim -seed s -json (a process each) ──> simResult
//	                                       lowest violating seed ──> its finding, its replay line

// seedGrace is how long a stopped seed's process has to end.
const seedGrace = 10 * time.Second

// seedRun is one seed's process and what it said.
type seedRun struct {
	seed uint64
	res  *simResult
	err  error // the process could not run or said nothing readable
}

// simSeedsResult is chaos sim -seeds N's JSON output.
type simSeedsResult struct {
	Client   string `json:"client"`
	BaseSeed uint64 `json:"base_seed"`
	// Seeds are the seeds run: BaseSeed+lo ... BaseSeed+hi-1 of the
	// -seeds range (all of it, or -shard's share).
	First   uint64 `json:"first_seed"`
	Last    uint64 `json:"last_seed"`
	Workers int    `json:"workers"`
	Shard   string `json:"shard,omitempty"`
	Steps   int    `json:"steps"`
	Checks  int    `json:"checks"`
	Verdict string `json:"verdict"`
	// SeedsRun counts the seeds that ran to the end.
	SeedsRun    int           `json:"seeds_run"`
	StepsRun    int64         `json:"steps_run"`
	Duration    time.Duration `json:"duration"`
	StepsPerSec float64       `json:"steps_per_sec"`
	Interrupted bool          `json:"interrupted,omitempty"`
	// Finding is the lowest seed's that found a violation (or a failure
	// of the harness), with its own replay line.
	Finding *simResult `json:"finding,omitempty"`
	// PerSeed is every seed's verdict and steps, in seed order.
	PerSeed []seedLine `json:"per_seed"`
}

type seedLine struct {
	Seed     uint64        `json:"seed"`
	Verdict  string        `json:"verdict"`
	StepsRun int64         `json:"steps_run"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
}

// simulateSeeds is chaos sim with -seeds above 1 or a -shard.
func simulateSeeds(ctx context.Context, s simSettings, stdout, stderr io.Writer) error {
	out := stdout
	if s.json {
		out = stderr
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sim workers: find this program: %w", err)
	}
	lo, hi := shard.Range(s.seeds, s.shard)
	seeds := make([]uint64, 0, hi-lo)
	for i := lo; i < hi; i++ {
		seeds = append(seeds, s.seed+uint64(i))
	}
	res := simSeedsResult{
		Client: s.clientName(), BaseSeed: s.seed, Workers: s.workers, Shard: s.shard.String(),
		Steps: s.steps, Checks: s.checks,
	}
	share := ""
	if !s.shard.IsWhole() {
		share = fmt.Sprintf(", share %s of %d seeds", s.shard, s.seeds)
	}
	if len(seeds) == 0 {
		res.Verdict = check.Valid.String()
		fmt.Fprintf(out, "l402chaos sim: client %s, no seed in share %s of %d seeds: nothing to do\n", s.clientName(), s.shard, s.seeds)
		return writeSeedsJSON(stdout, s, res)
	}
	res.First, res.Last = seeds[0], seeds[len(seeds)-1]
	fmt.Fprintf(out, "l402chaos sim: client %s, seeds %d to %d%s, %d sequences of about %d steps each, %d workers\n",
		s.clientName(), res.First, res.Last, share, s.checks, s.steps, min(s.workers, len(seeds)))

	var (
		mu      sync.Mutex
		runs    = make([]seedRun, len(seeds))
		done    = make([]bool, len(seeds))
		cancels = make([]context.CancelFunc, len(seeds))
		lowest  = len(seeds) // index of the lowest seed with a finding so far
		steps   int64
		ended   int
		start   = time.Now()
		order   = make([]int, len(seeds))
	)
	for i := range order {
		order[i] = i
	}
	// No seed above one that found something is started.
	below := func(_, i int) bool {
		mu.Lock()
		defer mu.Unlock()
		return i <= lowest
	}
	inParallel(ctx, s.workers, order, below, func(i int) {
		mu.Lock()
		if i > lowest {
			mu.Unlock()
			return
		}
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		mu.Unlock()
		r := runSeed(cctx, self, s, seeds[i])
		stopped := cctx.Err() != nil && ctx.Err() == nil
		cancel()
		mu.Lock()
		defer mu.Unlock()
		cancels[i] = nil
		if stopped {
			return // a lower seed found a violation
		}
		runs[i], done[i] = r, true
		ended++
		line := fmt.Sprintf("seed %d: ", r.seed)
		if r.err != nil {
			line += "error: " + r.err.Error()
		} else {
			steps += r.res.StepsRun
			line += fmt.Sprintf("%s, %s in %s", r.res.Verdict, plural(int(r.res.StepsRun), "step"), r.res.Duration.Round(time.Millisecond))
		}
		if r.finding() && i < lowest {
			lowest = i
			for j := i + 1; j < len(seeds); j++ {
				if cancels[j] != nil {
					cancels[j]()
				}
			}
			line += "; stopping the seeds above it"
		}
		fmt.Fprintf(out, "%s (%d/%d seeds, %s)\n", line, ended, len(seeds), time.Since(start).Round(time.Second))
	})
	res.Duration = time.Since(start)
	res.StepsRun = steps
	res.StepsPerSec = float64(steps) / res.Duration.Seconds()
	res.Interrupted = ctx.Err() != nil

	var finding *seedRun
	for i := range seeds {
		if !done[i] {
			continue
		}
		r := runs[i]
		res.SeedsRun++
		sl := seedLine{Seed: r.seed}
		if r.err != nil {
			sl.Verdict, sl.Error = check.Unknown.String(), r.err.Error()
		} else {
			sl.Verdict, sl.StepsRun, sl.Duration = r.res.Verdict, r.res.StepsRun, r.res.Duration
		}
		res.PerSeed = append(res.PerSeed, sl)
		if finding == nil && r.finding() {
			finding = &runs[i]
		}
	}
	var exit error
	switch {
	case finding != nil && finding.err != nil:
		res.Verdict = check.Unknown.String()
		fmt.Fprintf(out, "UNKNOWN: seed %d could not run: %v\n", finding.seed, finding.err)
		exit = exitCode(exitUnknown)
	case finding != nil:
		res.Verdict, res.Finding = finding.res.Verdict, finding.res
		ss := s
		ss.seed = finding.seed
		writeFinding(out, ss, finding.res.Finding, *finding.res)
		exit = exitCode(exitUnknown)
		if finding.res.Verdict == check.Invalid.String() {
			exit = verdictExit(check.Invalid)
		}
	case res.Interrupted || res.SeedsRun < len(seeds):
		res.Verdict = check.Unknown.String()
		fmt.Fprintf(out, "UNKNOWN: interrupted after %d of %d seeds and %d steps, no violation so far\n", res.SeedsRun, len(seeds), steps)
		exit = exitCode(exitUnknown)
	default:
		res.Verdict = check.Valid.String()
		fmt.Fprintf(out, "VALID: %d seeds (%d to %d), %d steps in %s (%s steps/s with %d workers)\n",
			len(seeds), res.First, res.Last, steps, res.Duration.Round(time.Millisecond), rate(steps, res.Duration), min(s.workers, len(seeds)))
		exit = verdictExit(check.Valid)
	}
	if err := writeSeedsJSON(stdout, s, res); err != nil {
		return err
	}
	return exit
}

func writeSeedsJSON(w io.Writer, s simSettings, res simSeedsResult) error {
	if !s.json {
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// finding reports whether the seed found a violation, or could not be
// judged at all (a harness failure is a finding of its own kind).
func (r seedRun) finding() bool {
	if r.err != nil {
		return true
	}
	return r.res.Verdict != check.Valid.String()
}

// runSeed runs one seed in a process of its own and reads its JSON.
func runSeed(ctx context.Context, self string, s simSettings, seed uint64) seedRun {
	args := []string{"sim", "-seeds", "1", "-workers", "1", "-json",
		"-seed", strconv.FormatUint(seed, 10), "-steps", strconv.Itoa(s.steps), "-checks", strconv.Itoa(s.checks),
		"-client", s.clientName(), "-shrink", s.shrink.String()}
	cmd := exec.CommandContext(ctx, self, args...)
	// A seed stopped (a lower one found a violation, or the run is
	// interrupted) is asked to stop, as Ctrl-C would: it ends its
	// sequence at once and removes its simulated worlds' files. Killed
	// only if it has not ended after seedGrace.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = seedGrace
	// A seed's process alone would take more than its core (the garbage
	// collector's work runs beside it): W workers share the cores, so
	// that W processes do not fight over them.
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(max(1, runtime.NumCPU()/s.workers)))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return seedRun{seed: seed, err: fmt.Errorf("start %s: %w", self, err)}
	}
	var res simResult
	if jerr := json.Unmarshal(stdout.Bytes(), &res); jerr != nil || res.Verdict == "" {
		return seedRun{seed: seed, err: fmt.Errorf("seed %d: exit %v, no result (%v): %s", seed, err, jerr, lastLine(stderr.String()))}
	}
	return seedRun{seed: seed, res: &res}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	b := bytes.TrimSpace([]byte(s))
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(b)
}
