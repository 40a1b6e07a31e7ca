package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/reports"
)

// BenchmarkCatalogue runs the whole catalogue (the process backend, the
// reference client, one seed) one scenario at a time and then
// -parallel's default at a time, in one benchmark run, and reports both
// wall times and their ratio; it fails if a scenario's or a checker's
// verdict differs between the two. The goal: the catalogue in
// 4 minutes or less on two cores.
//
//	go test -run '^$' -bench Catalogue -benchtime 1x ./cmd/chaos/
func BenchmarkCatalogue(b *testing.B) {
	p := defaultParallel()
	for range b.N {
		var walls []time.Duration
		var verdicts []map[string]string
		for _, par := range []int{1, p} {
			dir := filepath.Join(b.TempDir(), "p"+strconv.Itoa(par))
			var out, errOut bytes.Buffer
			start := time.Now()
			code := run(context.Background(), []string{"run", "-seed", "4242", "-parallel", strconv.Itoa(par), "-reports", dir}, &out, &errOut)
			walls = append(walls, time.Since(start))
			if code != exitOK {
				b.Fatalf("-parallel %d: exit %d\n%s\n%s", par, code, tailOf(out.String(), 20), errOut.String())
			}
			f, err := os.Open(filepath.Join(dir, reports.FileResults))
			if err != nil {
				b.Fatal(err)
			}
			r, err := reports.ReadJSON(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			verdicts = append(verdicts, verdictsOf(r))
		}
		if fmt.Sprint(verdicts[0]) != fmt.Sprint(verdicts[1]) {
			b.Fatalf("verdicts differ between -parallel 1 and -parallel %d", p)
		}
		b.ReportMetric(walls[0].Seconds(), "serial-s")
		b.ReportMetric(walls[1].Seconds(), "parallel-s")
		b.ReportMetric(float64(p), "parallel")
		b.ReportMetric(walls[0].Seconds()/walls[1].Seconds(), "speedup")
	}
}

// BenchmarkSimWorkers explores the same twelve seeds of the simulator
// with one worker and with two, three rounds interleaved (the machine is
// shared and noisy: the medians are compared, within one run), and
// reports the steps per second of each and their ratio (the goal: at
// least 1.8 on two cores). The seeds' results must not depend on the
// workers.
//
//	go test -run '^$' -bench SimWorkers -benchtime 1x ./cmd/chaos/
func BenchmarkSimWorkers(b *testing.B) {
	const rounds = 3
	for range b.N {
		rates := map[int][]float64{}
		perSeed := map[int]string{}
		for range rounds {
			for _, w := range []int{1, 2} {
				var out, errOut bytes.Buffer
				code := run(context.Background(), []string{"sim", "-json", "-client", "reference", "-seed", "11", "-seeds", "12",
					"-workers", strconv.Itoa(w), "-checks", "40", "-steps", "30"}, &out, &errOut)
				var res simSeedsResult
				if err := json.Unmarshal(out.Bytes(), &res); err != nil || (code != exitOK && code != exitInvalid) {
					b.Fatalf("-workers %d: exit %d, %v\n%s", w, code, err, errOut.String())
				}
				rates[w] = append(rates[w], res.StepsPerSec)
				var verdicts []string
				for _, s := range res.PerSeed {
					verdicts = append(verdicts, fmt.Sprintf("%d:%s:%d", s.Seed, s.Verdict, s.StepsRun))
				}
				if prev, ok := perSeed[w]; ok && prev != fmt.Sprint(verdicts) {
					b.Fatalf("a seed's result changed between rounds")
				}
				perSeed[w] = fmt.Sprint(verdicts)
			}
		}
		if perSeed[1] != perSeed[2] {
			b.Fatalf("seeds differ with the number of workers:\n1: %s\n2: %s", perSeed[1], perSeed[2])
		}
		one, two := median(rates[1]), median(rates[2])
		b.ReportMetric(one, "steps/s-1worker")
		b.ReportMetric(two, "steps/s-2workers")
		b.ReportMetric(two/one, "ratio")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func tailOf(s string, n int) string { return tail(s, n) }
