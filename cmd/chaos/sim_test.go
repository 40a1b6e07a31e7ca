package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/client/mutant"
	"github.com/l402chaos/l402chaos/harness/property"
)

func TestSimUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"sim", "extra"}, `unexpected argument "extra"`},
		{[]string{"sim", "-seed", "ten"}, `invalid value "ten" for flag -seed`},
		{[]string{"sim", "-seed", "-1"}, `invalid value "-1" for flag -seed`},
		{[]string{"sim", "-steps", "0"}, "-steps 0: want at least 1"},
		{[]string{"sim", "-checks", "-3"}, "-checks -3: want at least 1"},
		{[]string{"sim", "-shrink", "0s"}, "-shrink 0s: want more than 0"},
		{[]string{"sim", "-shrink", "soon"}, `invalid value "soon" for flag -shrink`},
		{[]string{"sim", "-client", "no-such-mutant"}, `-client "no-such-mutant": want one of reference, `},
		{[]string{"sim", "-workers", "-1"}, "-workers -1: want 1 to 64"},
		{[]string{"sim", "-workers", "0"}, "-workers 0: want 1 to 64"},
		{[]string{"sim", "-seeds", "-2"}, "-seeds -2: want 1 to 1000000"},
		{[]string{"sim", "-seed", "5", "-shard", "3/2"}, `invalid value "3/2" for flag -shard: bad shard: "3/2": K counts from 0 and must be below N`},
		{[]string{"sim", "-seed", "5", "-shard", "0/0"}, `invalid value "0/0" for flag -shard: bad shard: "0/0": the number of shares must be at least 1`},
		{[]string{"sim", "-shard", "0/2"}, "-shard 0/2 needs -seed"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			require.Equal(t, exitBadUsage, code, "stderr: %s", stderr.String())
			require.Contains(t, stderr.String(), tc.want)
			require.Empty(t, stdout.String(), "errors go to stderr only")
		})
	}
}

// TestSimUnknownClientListsClients: the message names every client there
// is.
func TestSimUnknownClientListsClients(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitBadUsage, run(context.Background(), []string{"sim", "-client", "nope"}, &stdout, &stderr))
	for _, m := range mutant.All() {
		require.Contains(t, stderr.String(), m.Name)
	}
}

func TestSimHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"sim", "-h"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: chaos sim")
	require.Contains(t, stderr.String(), "64 bad usage")
	require.Contains(t, stderr.String(), mutant.NoTokenReuse)

	stderr.Reset()
	require.Equal(t, exitOK, run(context.Background(), []string{"help"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "\n  sim ", "chaos help lists sim")
}

// simOut runs chaos sim in-process.
func simOut(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, append([]string{"sim"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// minimalSequence is the numbered steps a finding prints.
func minimalSequence(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "minimal sequence (")
	require.True(t, ok, out)
	_, rest, ok = strings.Cut(rest, "):\n")
	require.True(t, ok, out)
	seq, _, ok := strings.Cut(rest, "\nfound ")
	require.True(t, ok, out)
	return seq
}

// replayArgs reads the replay line back into chaos sim's arguments.
func replayArgs(t *testing.T, out string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "replay: go run ./cmd/chaos sim ")
	require.True(t, ok, out)
	line, _, _ := strings.Cut(rest, "\n")
	return strings.Fields(line)
}

// TestSimFindsMutant: the simulator catches a client that pays again
// for a per-token service, shrinks the sequence, and prints a replay line
// that finds the same minimal sequence again.
func TestSimFindsMutant(t *testing.T) {
	code, out, errOut := simOut(t, context.Background(), "-seeds", "1", "-client", mutant.NoTokenReuse, "-seed", "1", "-checks", "50", "-steps", "20")
	require.Equal(t, exitInvalid, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "seed 1")
	require.Contains(t, out, "INVALID: client "+mutant.NoTokenReuse)
	require.Contains(t, out, mutant.TokenReuse+": invalid")
	seq := minimalSequence(t, out)
	require.Regexp(t, `^\s+1  \S`, seq)
	require.Contains(t, out, "\nfound in sequence ")
	require.Contains(t, out, "replay: go run ./cmd/chaos sim -seed 1 -seeds 1 -steps 20 -checks 50 -client "+mutant.NoTokenReuse+"\n")

	// Deterministic: the replay line finds the same minimal sequence.
	args := replayArgs(t, out)
	code2, out2, errOut2 := simOut(t, context.Background(), args...)
	require.Equal(t, exitInvalid, code2, "stdout:\n%s\nstderr:\n%s", out2, errOut2)
	require.Equal(t, seq, minimalSequence(t, out2))
}

// TestSimReference: the reference client's output has the run's shape,
// whatever the verdict (the simulator may find real bugs).
func TestSimReference(t *testing.T) {
	code, out, errOut := simOut(t, context.Background(), "-seeds", "1", "-seed", "1", "-checks", "5", "-steps", "10")
	require.Contains(t, []int{exitOK, exitInvalid}, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, out, "client reference, seed 1,")
	if code == exitOK {
		require.Regexp(t, `VALID: \d+ sequences, \d+ steps in \S+ \(\S+ steps/s\); seed 1\n`, out)
		return
	}
	require.Contains(t, out, "INVALID: client reference; seed 1")
	minimalSequence(t, out)
	require.Contains(t, out, "replay: go run ./cmd/chaos sim -seed 1 -seeds 1 -steps 10 -checks 5 -client reference")
}

// TestSimRandomSeed: without -seed, one is picked and printed.
func TestSimRandomSeed(t *testing.T) {
	code, out, _ := simOut(t, context.Background(), "-seeds", "1", "-checks", "1", "-steps", "3")
	require.Contains(t, []int{exitOK, exitInvalid}, code)
	require.Regexp(t, `seed [1-9]\d* \(random; pass -seed to repeat it\)`, out)
}

func TestSimJSON(t *testing.T) {
	code, out, errOut := simOut(t, context.Background(), "-seeds", "1", "-json", "-client", mutant.NoTokenReuse, "-seed", "1", "-checks", "50", "-steps", "20")
	require.Equal(t, exitInvalid, code, errOut)
	var res simResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Equal(t, "invalid", res.Verdict)
	require.Equal(t, mutant.NoTokenReuse, res.Client)
	require.EqualValues(t, 1, res.Seed)
	require.NotNil(t, res.Finding)
	require.NotEmpty(t, res.Finding.Steps)
	require.NotEmpty(t, res.Finding.Invalid)
	require.Equal(t, mutant.TokenReuse, res.Finding.Invalid[0].Checker)
	require.Positive(t, res.FoundIn)
	require.Contains(t, res.Replay, "chaos sim -seed 1 -seeds 1 -steps 20 -checks 50 -client "+mutant.NoTokenReuse)
	require.Contains(t, errOut, "minimal sequence", "the text goes to stderr")
}

// TestSimInterrupted: a run stopped before it could judge anything is
// unknown, never a verdict against the client.
func TestSimInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, out, errOut := simOut(t, ctx, "-seeds", "1", "-seed", "1", "-checks", "5", "-steps", "10")
	require.Equal(t, exitUnknown, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	require.Contains(t, errOut, "chaos sim: interrupted")
	require.NotContains(t, out, "INVALID")
}

// TestSimWorkers: seeds explored in processes of their own give the same
// result whatever the number of workers: the same lowest violating seed,
// the same minimal sequence, the same replay line, which replays it.
// Shrinking is bounded by time (rapid has no other bound), so the
// minimal sequence is the same only when shrinking ends by itself: the
// limit is far above what it needs here (16 to 18 s on a busy two-core
// machine, where 30 s did not always suffice with three workers).
func TestSimWorkers(t *testing.T) {
	args := []string{"-json", "-client", mutant.NoTokenReuse, "-seed", "7", "-seeds", "3", "-checks", "30", "-steps", "20", "-shrink", "10m"}
	var results []simSeedsResult
	for _, w := range []string{"1", "3"} {
		code, out, errOut := simOut(t, context.Background(), append(args, "-workers", w)...)
		require.Equal(t, exitInvalid, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
		var res simSeedsResult
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		require.Equal(t, "invalid", res.Verdict)
		require.NotNil(t, res.Finding)
		require.Contains(t, errOut, "minimal sequence")
		require.NotContains(t, errOut, "shrinking stopped at the -shrink limit")
		results = append(results, res)
	}
	a, b := results[0], results[1]
	require.Equal(t, a.Finding.Seed, b.Finding.Seed, "the lowest violating seed")
	require.Equal(t, a.Finding.Replay, b.Finding.Replay)
	require.Equal(t, property.FormatSteps(a.Finding.Finding.Steps), property.FormatSteps(b.Finding.Finding.Steps))
	require.Equal(t, a.PerSeed[0], seedLine{Seed: 7, Verdict: a.PerSeed[0].Verdict, StepsRun: a.PerSeed[0].StepsRun, Duration: a.PerSeed[0].Duration})
	require.Equal(t, fmt.Sprintf("go run ./cmd/chaos sim -seed %d -seeds 1 -steps 20 -checks 30 -client %s -shrink 10m0s", a.Finding.Seed, mutant.NoTokenReuse), a.Finding.Replay)

	// A shard of the seeds: the share's seeds only, and the same
	// result for a seed it holds.
	code, out, errOut := simOut(t, context.Background(), "-json", "-client", mutant.NoTokenReuse, "-seed", "7", "-seeds", "6", "-shard", "1/2", "-checks", "30", "-steps", "20", "-workers", "2")
	require.Equal(t, exitInvalid, code, errOut)
	var sh simSeedsResult
	require.NoError(t, json.Unmarshal([]byte(out), &sh), out)
	require.EqualValues(t, 10, sh.First, "share 1/2 of 6 seeds from 7 is 10, 11, 12")
	require.EqualValues(t, 12, sh.Last)
	require.Equal(t, "1/2", sh.Shard)
}

// syncBuffer is a bytes.Buffer written by one goroutine and read by
// another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSimProgress(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		var w syncBuffer
		p := startProgress(&w, false, time.Millisecond)
		p.steps.Add(42)
		p.sequences.Add(3)
		require.Eventually(t, func() bool { return strings.Contains(w.String(), "sim: 3 sequences, 42 steps, ") }, 5*time.Second, time.Millisecond)
		p.found.Store(true)
		require.Eventually(t, func() bool { return strings.Contains(w.String(), "; shrinking a violation\n") }, 5*time.Second, time.Millisecond)
		p.stop()
		require.NotContains(t, w.String(), "\r", "no carriage returns off a terminal")
	})
	t.Run("terminal", func(t *testing.T) {
		var w syncBuffer
		p := startProgress(&w, true, time.Millisecond)
		p.steps.Add(7)
		require.Eventually(t, func() bool { return strings.Contains(w.String(), "\rsim: 0 sequences, 7 steps, ") }, 5*time.Second, time.Millisecond)
		p.stop()
		require.True(t, strings.HasSuffix(w.String(), "\r\033[K"), "the last line is cleared: %q", w.String())
		require.NotContains(t, w.String(), "\n")
	})
}
