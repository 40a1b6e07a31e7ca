package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/l402chaos/l402chaos/harness/live"
	"github.com/l402chaos/l402chaos/regtest"
	"github.com/l402chaos/l402chaos/regtest/containers"
)

// envBackend chooses the backend when -backend is not given.
const envBackend = "L402CHAOS_BACKEND"

// Backends.
const (
	backendProcess    = "process"
	backendContainers = "containers"
)

// backendFlag is -backend: where the network's programs run.
type backendFlag struct{ name string }

func (b *backendFlag) register(fs *flag.FlagSet) {
	def := os.Getenv(envBackend)
	if def == "" {
		def = backendProcess
	}
	fs.StringVar(&b.name, "backend", def, "where the network runs: process (local processes, no Docker) or containers (Docker, through testcontainers-go) (env "+envBackend+")")
}

// check rejects an unknown backend, before anything starts.
func (b *backendFlag) check() error {
	switch b.name {
	case backendProcess, backendContainers:
		return nil
	}
	return fmt.Errorf("%w: -backend %q: want %s or %s", errUsage, b.name, backendProcess, backendContainers)
}

// runtime returns the regtest runtime of the chosen backend, and a
// function that releases it; either way what containers runs of dead
// processes left is removed (on containers by every network's start).
// Without a Docker engine the containers backend prints one line, what
// was tried and the way out, and ends the command with exit code 2.
func (b *backendFlag) runtime(ctx context.Context, log *slog.Logger, progress, stderr io.Writer) (regtest.Runtime, func(), error) {
	switch b.name {
	case backendProcess:
		sweepContainers(ctx, log)
		return regtest.Processes{}, func() {}, nil
	case backendContainers:
		eng, err := containers.Connect(ctx)
		if errors.Is(err, containers.ErrNoEngine) {
			fmt.Fprintf(stderr, "chaos: %v\n", err)
			return nil, nil, exitCode(exitNoEngine)
		}
		if err != nil {
			return nil, nil, err
		}
		return containers.New(eng, containers.WithLogger(log), containers.WithProgress(progress)), func() { eng.Close() }, nil
	default:
		return nil, nil, b.check()
	}
}

// sweepContainers removes what containers runs of dead processes left,
// when a Docker engine answers; without one there is nothing to sweep.
// The process backend needs no engine, but a machine may have one.
func sweepContainers(ctx context.Context, log *slog.Logger) {
	eng, err := containers.Connect(ctx)
	if err != nil {
		return
	}
	defer eng.Close()
	swept, err := eng.Sweep(ctx)
	if err != nil {
		log.Warn("sweep of containers left by dead processes", "err", err)
		return
	}
	if !swept.Empty() {
		log.Info("removed containers left by dead processes", "containers", swept.Containers, "networks", swept.Networks, "volumes", swept.Volumes)
	}
}

// cmdImages builds the containers backend's images: lnd and btcd, each
// a static binary FROM scratch, tagged by content; cached by the engine.
func cmdImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("images", stderr)
	var bf binaryFlags
	bf.register(fs)
	runner := fs.Bool("runner", false, "also build the runner image: chaos, lnd and btcd in one image FROM scratch, which runs\na whole network inside one container (the process backend), as the Kubernetes Job's pods do (deploy/k8s)")
	if err := parse(fs, args); err != nil {
		return err
	}
	bins, err := bf.ensure(ctx, stderr)
	if err != nil {
		return err
	}
	eng, err := containers.Connect(ctx)
	if errors.Is(err, containers.ErrNoEngine) {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return exitCode(exitNoEngine)
	}
	if err != nil {
		return err
	}
	defer eng.Close()
	fmt.Fprintln(stderr, "chaos: building toxiproxy and the provider program (static, CGO off)")
	toxi, chaosBin, err := live.StaticPrograms(ctx)
	if err != nil {
		return err
	}
	for _, bin := range []string{bins.LND, bins.Btcd, toxi, chaosBin} {
		img, err := eng.EnsureImage(ctx, bin, stderr)
		if err != nil {
			return err
		}
		state := "cached"
		if img.Built {
			state = "built"
		}
		fmt.Fprintf(stdout, "%-40s %s  (%s)\n", img.Ref, state, bin)
	}
	if *runner {
		img, err := eng.EnsureBundle(ctx, RunnerBundle(chaosBin, bins), stderr)
		if err != nil {
			return err
		}
		state := "cached"
		if img.Built {
			state = "built"
		}
		fmt.Fprintf(stdout, "%-40s %s  (chaos, lnd, btcd)\n", img.Ref, state)
	}
	return nil
}

// RunnerBundle is the runner image: chaos (static), lnd and btcd, with
// the environment that points chaos at them and at a cache and temporary
// directory inside the container (/work, /tmp: mount a volume on /work
// to keep snapshots between runs, and on the reports directory).
func RunnerBundle(chaosBin string, bins regtest.Binaries) containers.Bundle {
	return containers.Bundle{
		Name:  "runner",
		Files: []containers.BundleFile{{Name: "chaos", Host: chaosBin}, {Name: "lnd", Host: bins.LND}, {Name: "btcd", Host: bins.Btcd}},
		Env: []string{
			regtest.EnvLNDBin + "=/bin/lnd", regtest.EnvBtcdBin + "=/bin/btcd", regtest.EnvCacheDir + "=/work/cache",
			"HOME=/tmp", "TMPDIR=/tmp", "PATH=/bin",
		},
		Entry: "chaos",
	}
}
