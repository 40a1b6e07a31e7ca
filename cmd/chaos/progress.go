package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/l402chaos/l402chaos/harness/history"
)

// runProgress tells, without -v, what a long scenario is doing: every
// runProgressEvery, a line per scenario running longer than that, with
// the last payment phase the harness saw and the faults active.
//
//	runner ──Sink──> seen(scenario, event) ──> state ──ticker──> "  ... name 20s: phase ..., faults ..."
type runProgress struct {
	mu      sync.Mutex
	w       io.Writer
	running map[string]*scenarioState
	quit    chan struct{}
	done    chan struct{}
}

// runProgressEvery is how often, and after how long, progress is told.
const runProgressEvery = 10 * time.Second

type scenarioState struct {
	started time.Time
	phase   string
	faults  []string
	events  int
}

// startRunProgress tells progress on w (which the caller's own output
// shares: lock is held while writing) until stop.
func startRunProgress(w io.Writer, lock *sync.Mutex, every time.Duration) *runProgress {
	p := &runProgress{w: w, running: map[string]*scenarioState{}, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				lines := p.lines(every)
				if len(lines) == 0 {
					continue
				}
				lock.Lock()
				for _, l := range lines {
					fmt.Fprintln(w, l)
				}
				lock.Unlock()
			}
		}
	}()
	return p
}

// begin and end bracket a scenario's run.
func (p *runProgress) begin(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[name] = &scenarioState{started: time.Now()}
}

func (p *runProgress) end(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, name)
}

// seen takes one recorded event of a scenario's run.
func (p *runProgress) seen(name string, e history.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.running[name]
	if st == nil {
		return
	}
	st.events++
	switch e.F {
	case history.Phase:
		st.phase = e.Detail
	case history.FaultStart:
		st.faults = append(st.faults, e.Fault)
	case history.FaultStop:
		if i := slices.Index(st.faults, e.Fault); i >= 0 {
			st.faults = slices.Delete(st.faults, i, i+1)
		}
	}
}

// lines describes the scenarios running for longer than min, by name.
func (p *runProgress) lines(min time.Duration) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for name, st := range p.running {
		d := time.Since(st.started)
		if d < min {
			continue
		}
		l := fmt.Sprintf("  ... %s %s: %d events", name, d.Round(time.Second), st.events)
		if st.phase != "" {
			l += ", last phase " + st.phase
		}
		if len(st.faults) > 0 {
			l += ", faults active: " + strings.Join(st.faults, "; ")
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

func (p *runProgress) stop() {
	close(p.quit)
	<-p.done
}
