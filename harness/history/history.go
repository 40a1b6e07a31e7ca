package history

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// History is a run's events in index order.
type History []Event

// Op is an invocation paired with its completion. Complete is nil while
// the operation is open (a history cut short, or a harness failure).
type Op struct {
	Invoke   Event
	Complete *Event
}

// Type is the completion's type, or Info for an open operation: an
// operation that never completed may have happened.
func (o Op) Type() Type {
	if o.Complete == nil {
		return Info
	}
	return o.Complete.Type
}

// Ops pairs every Invoke with the next completion on its process.
func (h History) Ops() []Op {
	open := map[int]int{} // process -> index into ops
	var ops []Op
	for i := range h {
		e := h[i]
		if e.Process == Nemesis {
			continue
		}
		switch {
		case e.Type == Invoke:
			open[e.Process] = len(ops)
			ops = append(ops, Op{Invoke: e})
		case e.Type.Completes():
			if j, ok := open[e.Process]; ok {
				ops[j].Complete = &h[i]
				delete(open, e.Process)
			}
		}
	}
	return ops
}

// Window is the time a fault was active: from its fault.start to its
// fault.stop, or to the end of the history if it never stopped.
type Window struct {
	Fault       string
	Detail      string
	Start, Stop Event
	Open        bool // never stopped
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Duration) bool {
	return t >= w.Start.Time && (w.Open || t <= w.Stop.Time)
}

// Faults returns the fault windows in start order. A fault.stop closes the
// oldest open window of the same fault name.
func (h History) Faults() []Window {
	var ws []Window
	for _, e := range h {
		if e.Process != Nemesis {
			continue
		}
		switch e.F {
		case FaultStart:
			ws = append(ws, Window{Fault: e.Fault, Detail: e.Detail, Start: e, Open: true})
		case FaultStop:
			for i := range ws {
				if ws[i].Open && ws[i].Fault == e.Fault {
					ws[i].Stop, ws[i].Open = e, false
					break
				}
			}
		}
	}
	return ws
}

// Validate checks the history's shape: indices in order, known types,
// times that never go back, at most one open operation per process, and
// no completion without an invocation.
func (h History) Validate() error {
	open := map[int]bool{}
	var errs []error
	for i, e := range h {
		if e.Index != int64(i) {
			errs = append(errs, fmt.Errorf("event %d: index %d", i, e.Index))
		}
		if !e.Type.Valid() {
			errs = append(errs, fmt.Errorf("event %d: unknown type %q", i, e.Type))
		}
		if i > 0 && e.Time < h[i-1].Time {
			errs = append(errs, fmt.Errorf("event %d: time goes back", i))
		}
		if e.Process == Nemesis {
			continue
		}
		switch {
		case e.Type == Invoke && open[e.Process]:
			errs = append(errs, fmt.Errorf("event %d: process %d invoked twice without completing", i, e.Process))
		case e.Type == Invoke:
			open[e.Process] = true
		case e.Type.Completes() && !open[e.Process]:
			errs = append(errs, fmt.Errorf("event %d: process %d completes nothing", i, e.Process))
		case e.Type.Completes():
			delete(open, e.Process)
		}
	}
	return errors.Join(errs...)
}

// Recorder appends events with indices and times from one monotonic clock.
// It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	start time.Time
	now   func() time.Time
	next  int64 // the next event's index
	// events are the events kept in memory: all of them, unless Trim
	// let some go (a long run whose record is on disk).
	events History
	// sink, if set, sees every event as it is recorded (a live log), in
	// index order.
	sink func(Event)
}

// NewRecorder starts a history now, on the wall clock. sink, if not nil,
// sees every event as it is recorded, in index order; it is called with
// the recorder's lock held, so it must be quick and must not record.
func NewRecorder(sink func(Event)) *Recorder {
	return NewRecorderClock(time.Now, sink)
}

// NewRecorderClock starts a history on a clock of the caller's: the
// simulator's virtual one, whose readings the checkers then compare with
// the truth it records on its virtual clock.
func NewRecorderClock(now func() time.Time, sink func(Event)) *Recorder {
	return &Recorder{start: now(), now: now, sink: sink}
}

// Started is the wall-clock time the history began.
func (r *Recorder) Started() time.Time { return r.start }

// Add records e, filling its index and time, and returns the stored event.
func (r *Recorder) Add(e Event) Event { return r.AddAt(e, r.now()) }

// AddAt records e as having happened at at (a completion the caller saw
// earlier than it records it). Times never go backwards: an at before the
// last event's time takes that time.
func (r *Recorder) AddAt(e Event, at time.Time) Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Index = r.next
	r.next++
	e.Time = at.Sub(r.start)
	if n := len(r.events); n > 0 && e.Time < r.events[n-1].Time {
		e.Time = r.events[n-1].Time
	}
	r.events = append(r.events, e)
	if r.sink != nil {
		r.sink(e)
	}
	return e
}

// Len is how many events were recorded, trimmed ones included.
func (r *Recorder) Len() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}

// Since returns a copy of the kept events from index i on.
func (r *Recorder) Since(i int64) History {
	r.mu.Lock()
	defer r.mu.Unlock()
	j, _ := slices.BinarySearchFunc(r.events, i, func(e Event, i int64) int { return cmp.Compare(e.Index, i) })
	return append(History(nil), r.events[j:]...)
}

// Trim lets go of the kept events keep rejects, so that a long run's
// memory stays flat: its record is on disk (a sink writes it), and what
// it still judges in memory is what keep keeps. Indices and times of
// later events are unchanged.
func (r *Recorder) Trim(keep func(Event) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.events[:0]
	for _, e := range r.events {
		if keep(e) {
			kept = append(kept, e)
		}
	}
	clear(r.events[len(kept):])
	r.events = kept
	if cap(kept) > 2*len(kept)+64 {
		r.events = slices.Clone(kept) // give the old array back
	}
}

// History returns a copy of the events so far.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(History(nil), r.events...)
}

// Sorted returns the indices of m's keys in order: a helper for witnesses.
func Sorted(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for i := range m {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}
