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
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/harness/metrics"
	"github.com/l402chaos/l402chaos/harness/soak"
	"github.com/l402chaos/l402chaos/reports"
)

// chaos soak runs one long-lived network under steady traffic and a
// stream of faults, judged as it goes:
//
//	flags ─▶ live.StartOn (network, provider, toxiproxy) ─▶ soak.Run (Session driver)
//	        ─▶ metrics (Prometheus on loopback, series.jsonl) ─▶ progress line
//	        ─▶ results.json, soak.html, exit code from the verdict

func cmdSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return verdictCommand("soak", runSoak(ctx, args, stdout, stderr), stderr)
}

// soakSettings are chaos soak's flags, checked.
type soakSettings struct {
	cfg      soak.Config
	nemesis  string // random, none, or schedule:FILE
	command  []string
	dir      string
	metrics  string
	randSeed bool
	verbose  bool
	backend  backendFlag
}

func parseSoakFlags(args []string, stderr io.Writer) (soakSettings, error) {
	fs := newFlags("soak", stderr)
	var (
		duration    = fs.Duration("duration", 0, "how long traffic and faults go on (required), e.g. 10m, 2h")
		rate        = fs.Float64("rate", 2, "offered purchases per second (open loop: a slow client does not slow it)")
		concurrency = fs.Int("concurrency", 4, "attempts running at once at most; a purchase that finds every slot busy is shed")
		keys        = fs.Int("keys", 8, "recent keys of each kind a purchase may buy again (the rest are new keys)")
		nemesis     = fs.String("nemesis", "random", "the faults: random (drawn from -seed), none, or schedule:FILE (a JSON schedule, as nemesis.json)")
		window      = fs.Duration("window", 10*time.Second, "how often the safety checkers judge what is live and the truth is sampled")
		stopInvalid = fs.Bool("stop-on-invalid", false, "end the soak at the first invalid verdict")
		clientCmd   = fs.String("client-cmd", "", "the client under test: a command speaking the exec adapter protocol v1 (default: the reference client)")
		seed        = fs.Int64("seed", 0, "the soak's seed: the workload's choices and the random nemesis (0: pick one and print it)")
		out         = fs.String("out", "", "the run directory (default ./chaos-reports/soak-<timestamp>)")
		metricsAddr = fs.String("metrics-listen", "127.0.0.1:0", "where to serve Prometheus metrics (loopback only; empty: off)")
		verbose     = fs.Bool("v", false, "log the harness's progress on stderr")
		backend     backendFlag
	)
	backend.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: chaos soak -duration D [-rate R] [-concurrency C] [-keys K] [-nemesis random|none|schedule:FILE]")
		fmt.Fprintln(stderr, "                  [-client-cmd CMD] [-seed S] [-out DIR] [-metrics-listen ADDR] [-backend process|containers] [-stop-on-invalid] [-v]")
		fmt.Fprintln(stderr, "Runs one network for the duration under steady traffic and a stream of faults, judged as it goes.")
		fmt.Fprintln(stderr, "Ctrl-C heals, finishes, judges and writes the reports; a second Ctrl-C abandons the run after teardown.")
		fmt.Fprintln(stderr, "Exit 0 valid, 1 a checker found a violation, 3 the harness could not judge, 64 bad usage.")
		fmt.Fprintf(stderr, "The nemesis's faults: %s\n", strings.Join(soak.Faults(), ", "))
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return soakSettings{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	s := soakSettings{
		cfg: soak.Config{
			Duration: *duration, Rate: *rate, Concurrency: *concurrency, Keys: *keys,
			Window: *window, StopOnInvalid: *stopInvalid, Seed: *seed,
		},
		nemesis: *nemesis, dir: *out, metrics: *metricsAddr, verbose: *verbose, backend: backend,
	}
	if err := backend.check(); err != nil {
		return s, err
	}
	switch {
	case !set["duration"]:
		return s, fmt.Errorf("%w: -duration is required (e.g. -duration 10m)", errUsage)
	case *duration <= 0:
		return s, fmt.Errorf("%w: -duration %s: want more than 0", errUsage, *duration)
	case *rate <= 0 || *rate > 1000:
		return s, fmt.Errorf("%w: -rate %g: want more than 0, at most 1000 per second", errUsage, *rate)
	case *concurrency < 1 || *concurrency > 256:
		return s, fmt.Errorf("%w: -concurrency %d: want 1 to 256", errUsage, *concurrency)
	case *keys < 1:
		return s, fmt.Errorf("%w: -keys %d: want at least 1", errUsage, *keys)
	case *window < time.Second:
		return s, fmt.Errorf("%w: -window %s: want at least 1s", errUsage, *window)
	case set["out"] && *out == "":
		return s, fmt.Errorf("%w: -out: empty directory", errUsage)
	}
	switch n := *nemesis; {
	case n == "random":
	case n == "none":
		s.cfg.Schedule = []soak.Op{}
	case strings.HasPrefix(n, "schedule:"):
		file := strings.TrimPrefix(n, "schedule:")
		b, err := os.ReadFile(file)
		if err != nil {
			return s, fmt.Errorf("%w: -nemesis: %w", errUsage, err)
		}
		ops, err := soak.ParseSchedule(b)
		if err != nil {
			return s, fmt.Errorf("%w: -nemesis %s: %w", errUsage, file, err)
		}
		s.cfg.Schedule = ops
	default:
		return s, fmt.Errorf("%w: -nemesis %q: want random, none or schedule:FILE", errUsage, n)
	}
	if set["client-cmd"] {
		cmd, err := splitCommand(*clientCmd)
		if err != nil {
			return s, fmt.Errorf("%w: -client-cmd %q: %w", errUsage, *clientCmd, err)
		}
		if _, err := exec.LookPath(cmd[0]); err != nil {
			return s, fmt.Errorf("%w: -client-cmd: %w", errUsage, err)
		}
		s.command = cmd
	}
	if s.cfg.Seed == 0 {
		s.cfg.Seed, s.randSeed = rand.Int64N(1<<31)+1, true
	}
	if s.dir == "" {
		s.dir = filepath.Join("chaos-reports", "soak-"+time.Now().Format("20060102-150405"))
	}
	s.cfg.Dir = s.dir
	return s, nil
}

// replay is the command line that reruns the soak: same flags, same seed,
// the schedule it ran.
func (s soakSettings) replay() string {
	parts := []string{"go run ./cmd/chaos soak",
		"-duration=" + s.cfg.Duration.String(),
		"-rate=" + strconv.FormatFloat(s.cfg.Rate, 'g', -1, 64),
		"-concurrency=" + strconv.Itoa(s.cfg.Concurrency),
		"-keys=" + strconv.Itoa(s.cfg.Keys),
		"-seed=" + strconv.FormatInt(s.cfg.Seed, 10),
		"-nemesis=schedule:" + filepath.Join(s.dir, soak.ScheduleFile),
	}
	if s.command != nil {
		parts = append(parts, "-client-cmd="+shellQuote(joinCommand(s.command)))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := parseSoakFlags(args, stderr)
	if err != nil {
		return err
	}
	if history.IsRecord(s.dir) {
		return fmt.Errorf("%w: -out %s already holds a run: choose another directory", errUsage, s.dir)
	}
	level := slog.LevelWarn
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// The first Ctrl-C (ctx) ends the traffic gracefully; a second one
	// abandons the run.
	stop := make(chan struct{})
	runCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	go func() {
		select {
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		fmt.Fprintln(stderr, "\nchaos soak: interrupted: healing, finishing and judging (Ctrl-C again to abandon)")
		close(stop)
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(again)
		select {
		case <-again:
			fmt.Fprintln(stderr, "chaos soak: abandoning the run")
			abandon()
		case <-runCtx.Done():
		}
	}()
	s.cfg.Stop = stop

	how := ""
	if s.randSeed {
		how = " (random; pass -seed to repeat it)"
	}
	fmt.Fprintf(stdout, "l402chaos soak: %s at %g/s, concurrency %d, nemesis %s (%d faults), seed %d%s\n",
		s.cfg.Duration, s.cfg.Rate, s.cfg.Concurrency, s.nemesis, len(soakSchedule(s.cfg)), s.cfg.Seed, how)
	fmt.Fprintf(stdout, "run directory: %s\n", s.dir)

	name := "reference (exec)"
	command := s.command
	if command == nil {
		build, err := os.MkdirTemp("", "l402chaos-reference-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(build)
		fmt.Fprintln(stdout, "l402chaos: building the reference client")
		if command, err = adapter.ReferenceCommand(runCtx, build); err != nil {
			return fmt.Errorf("build the reference client: %w", err)
		}
	} else {
		name = "exec: " + joinCommand(command)
	}
	rt, release, err := s.backend.runtime(runCtx, log, stderr, stderr)
	if err != nil {
		return err
	}
	defer release()
	fmt.Fprintf(stdout, "l402chaos: starting the network on %s (from the snapshot)\n", rt.Name())
	env, err := live.StartOn(rt)(runCtx, harness.Network{}, log)
	if err != nil {
		return fmt.Errorf("start the network: %w", err)
	}
	defer env.Close()
	state, err := os.MkdirTemp("", "l402chaos-client-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ends := env.Endpoints()
	client, err := adapter.NewExec(command, adapter.ExecConfig{
		StateRoot: state, RPCServer: ends.PayerRPC, TLSCertPath: ends.PayerTLSCert, MacaroonPath: ends.PayerMacaroon,
	}, adapter.WithLogger(log))
	if err != nil {
		return err
	}
	defer client.Close()

	m, err := metrics.New(metrics.WithLogger(log))
	if err != nil {
		return err
	}
	if b, ok := env.(*live.Backend); ok {
		net := b.Network()
		m.WatchProcess("btcd", net.Chain().Pid, filepath.Join(net.Dir(), "btcd"))
		for _, n := range net.Nodes() {
			m.WatchProcess(n.Name(), n.Pid, n.Dir())
		}
	}
	if s.metrics != "" {
		addr, err := m.Serve(runCtx, s.metrics)
		if err != nil {
			return fmt.Errorf("%w: -metrics-listen: %w", errUsage, err)
		}
		fmt.Fprintf(stdout, "metrics: http://%s/metrics\n", addr)
	}
	series, err := metrics.CreateSeries(s.dir)
	if err != nil {
		return err
	}
	defer series.Close()
	s.cfg.Meter = m
	s.cfg.Log = log
	tty := isTerminal(stderr)
	var lastLine time.Time
	s.cfg.OnProgress = func(st soak.Status) {
		if !tty && time.Since(lastLine) < 10*time.Second {
			return
		}
		lastLine = time.Now()
		if tty {
			fmt.Fprintf(stderr, "\r%s\033[K", soakLine(st))
		} else {
			fmt.Fprintln(stderr, soakLine(st))
		}
	}
	s.cfg.OnInvalid = func(at time.Duration, bad []check.Result) {
		if tty {
			fmt.Fprint(stderr, "\r\033[K")
		}
		fmt.Fprintf(stderr, "INVALID at %s:\n", at.Round(time.Second))
		for _, r := range bad {
			fmt.Fprintf(stderr, "  %s\n", r)
		}
	}

	started := time.Now()
	recCtx, stopRec := context.WithCancel(runCtx)
	recorded := make(chan error, 1)
	go func() {
		recorded <- m.Record(recCtx, 5*time.Second, func() time.Duration { return time.Since(started) }, series)
	}()
	res := soak.Run(runCtx, env, client, s.cfg)
	stopRec()
	if err := <-recorded; err != nil {
		log.Warn("metrics series", "err", err)
	}
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	return writeSoak(stdout, s, name, res)
}

// soakSchedule is the schedule a configuration runs (drawn when random).
func soakSchedule(cfg soak.Config) []soak.Op {
	if cfg.Schedule != nil {
		return cfg.Schedule
	}
	return soak.Random(cfg.Seed, cfg.Duration)
}

// soakLine is the one progress line.
func soakLine(st soak.Status) string {
	faults := "none"
	if len(st.Faults) > 0 {
		faults = strings.Join(st.Faults, ", ")
	}
	if st.Ending {
		step := "healing"
		if st.Reruns > 0 {
			step = fmt.Sprintf("rerunning what is in doubt, %d of %d, one at a time", st.Rerun, st.Reruns)
		}
		return fmt.Sprintf("soak %s/%s  ok %d fail %d info %d shed %d  traffic ended: %s  verdict so far: %s",
			st.Elapsed.Round(time.Second), st.Duration, st.OK, st.Fail, st.Info, st.Shed, step, st.Verdict)
	}
	return fmt.Sprintf("soak %s/%s  ok %d fail %d info %d shed %d  %.1f/s  p50 %s p99 %s  in flight %d  faults: %s  verdict so far: %s",
		st.Elapsed.Round(time.Second), st.Duration, st.OK, st.Fail, st.Info, st.Shed, st.Rate,
		st.P50.Round(time.Millisecond), st.P99.Round(time.Millisecond), st.InFlight, faults, st.Verdict)
}

// writeSoak prints the verdict and writes results.json and soak.html.
func writeSoak(stdout io.Writer, s soakSettings, client string, res *soak.Result) error {
	run := &check.RunResult{
		Scenario: "soak", Description: fmt.Sprintf("%s at %g/s, concurrency %d, nemesis %s", s.cfg.Duration, s.cfg.Rate, s.cfg.Concurrency, s.nemesis),
		Seed: s.cfg.Seed, Started: res.Started, Duration: res.Duration, Client: client,
		History: res.History, Truth: res.Truth, Results: res.Results, Replay: s.replay(), Err: res.Err, Dir: s.dir,
	}
	if len(res.FirstInvalid) > 0 && check.Merge(res.Results) != check.Invalid {
		// Found by a window, and not by the final judgement (a retired
		// key's view): keep the witness.
		run.Results = append(run.Results, res.FirstInvalid...)
	}
	r := reports.New([]*check.RunResult{run}, reports.Meta{Version: version(), Seed: s.cfg.Seed, Client: client})
	var errs []error
	if err := reports.WriteDir(s.dir, r, []*check.RunResult{run}); err != nil {
		errs = append(errs, err)
	}
	meta := reports.SoakMeta{
		Version: version(), Seed: s.cfg.Seed, Client: client, Started: res.Started, Duration: s.cfg.Duration,
		Verdict: r.Verdict, Results: run.Results, Replay: s.replay(), Error: run.Error(),
		Params: map[string]string{
			"rate": fmt.Sprintf("%g/s", s.cfg.Rate), "concurrency": strconv.Itoa(s.cfg.Concurrency),
			"keys": strconv.Itoa(s.cfg.Keys), "nemesis": s.nemesis, "window": s.cfg.Window.String(),
		},
	}
	if err := reports.WriteSoak(s.dir, meta); err != nil {
		errs = append(errs, err)
	}
	st := res.Status
	fmt.Fprintf(stdout, "\n%s: soak of %s (ran %s): %d ok, %d failed, %d info, %d shed; %d windows judged\n",
		strings.ToUpper(r.Verdict.String()), s.cfg.Duration, res.Duration.Round(time.Second), st.OK, st.Fail, st.Info, st.Shed, st.Windows)
	if res.Err != nil {
		fmt.Fprintf(stdout, "the harness failed: %v\n", res.Err)
	}
	for _, x := range run.Results {
		if x.Validity != check.Valid {
			fmt.Fprintf(stdout, "  %s\n", x)
		}
	}
	fmt.Fprintf(stdout, "reports: %s (%s, %s)\nreplay: %s\n", filepath.Join(s.dir, reports.FileSoak), reports.FileResults, history.HistoryFile, s.replay())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return verdictExit(r.Verdict)
}
