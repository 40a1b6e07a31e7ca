package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/l402chaos/l402chaos/harness/adapter"
	"github.com/l402chaos/l402chaos/harness/shard"
	"github.com/l402chaos/l402chaos/scenarios"
)

// Scaling out (README "Scaling out"): -parallel runs scenarios at once on
// one machine, each on its own network; -workers runs the simulator's
// seeds in as many processes; -shard K/N takes one deterministic share of
// the work, for N machines, and `chaos report merge` joins the shares.

// networkMemory is what one live network (btcd, two LND, toxiproxy, the
// provider, the client) may take at its peak, for the default -parallel.
const networkMemory = 1 << 30

// networksPerCore is how many networks share a core by default: a
// scenario spends most of its time waiting (on HTLCs, timeouts, blocks),
// not computing.
const networksPerCore = 2

// maxParallel bounds -parallel: each network takes about a dozen ports
// and a few processes.
const maxParallel = 64

// defaultParallel is -parallel's default: networksPerCore per core,
// no more than the available memory holds.
func defaultParallel() int {
	p := runtime.NumCPU() * networksPerCore
	if avail := memAvailable(); avail > 0 {
		p = min(p, int(avail/networkMemory))
	}
	return max(1, min(p, maxParallel))
}

// memAvailable is /proc/meminfo's MemAvailable in bytes, 0 if unknown.
func memAvailable() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// shardFlag is -shard K/N.
type shardFlag struct{ shard.Shard }

func (s *shardFlag) register(fs *flag.FlagSet, what string) {
	fs.Var(s, "shard", "take share K of N of the "+what+" (K counts from 0, as JOB_COMPLETION_INDEX does: 0/4 ... 3/4);\nshares are deterministic and balanced; join their directories with chaos report merge")
}

func (s *shardFlag) String() string { return s.Shard.String() }

func (s *shardFlag) Set(v string) error {
	sh, err := shard.Parse(v)
	if err != nil {
		return err
	}
	s.Shard = sh
	return nil
}

// envFlag is -client-env KEY=VALUE, repeatable: variables the client's
// command gets besides the protocol's (an adapter's own configuration).
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	if err := adapter.CheckExtraEnv(v); err != nil {
		return err
	}
	*e = append(*e, v)
	return nil
}

func (e *envFlag) register(fs *flag.FlagSet) {
	fs.Var(e, "client-env", "set a variable in the client command's environment, KEY=VALUE (repeatable): the adapter's own\nconfiguration; the protocol's variables (L402_*, LND_*) are the harness's")
}

// replayFlags are the flags a replay line repeats for the client: its
// command and its variables.
func replayFlags(command []string, env []string) string {
	var line string
	if command != nil {
		line += " -client-cmd=" + joinCommand([]string{joinCommand(command)})
	}
	for _, kv := range env {
		line += " -client-env=" + joinCommand([]string{kv})
	}
	return line
}

// inParallel calls do(i) for each index of order, in that order, at most
// workers at a time, and returns once every call it started has ended.
// Before starting the n-th (counting from 0), it asks before(n, i), which
// may wait and may say false to start nothing more; it starts nothing
// once ctx ends either. It reports whether it started them all.
func inParallel(ctx context.Context, workers int, order []int, before func(n, i int) bool, do func(i int)) bool {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	all := true
feed:
	for n, i := range order {
		if ctx.Err() != nil || (before != nil && !before(n, i)) {
			all = false
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			all = false
			break feed
		}
	}
	close(next)
	wg.Wait()
	return all
}

// longestFirst is 0 ... n-1, the longest expected first (stable) when
// more than one runs at a time: no long one starts last and leaves the
// other workers idle.
func longestFirst(n, parallel int, name func(i int) string) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	if parallel > 1 {
		slices.SortStableFunc(order, func(a, b int) int {
			return cmp.Compare(scenarios.Expected(name(b)), scenarios.Expected(name(a)))
		})
	}
	return order
}

// checkParallel rejects a -parallel or -workers below 1 or above the cap.
func checkParallel(name string, n int) error {
	if n < 1 || n > maxParallel {
		return fmt.Errorf("%w: -%s %d: want 1 to %d", errUsage, name, n, maxParallel)
	}
	return nil
}
