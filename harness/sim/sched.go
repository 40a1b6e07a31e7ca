package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/l402chaos/l402chaos/harness"
)

// ErrStuck is a client process blocked with nothing that could ever wake
// it: a bug in the simulator.
var ErrStuck = errors.New("simulator stuck")

// Epoch is where every simulation's virtual clock starts.
var Epoch = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// event is something that happens at a virtual time. Events at one time
// run in the order they were scheduled.
type event struct {
	at   time.Time
	seq  uint64
	fn   func()
	dead bool
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// clock is the driver's time and event queue.
type clock struct {
	now    time.Time
	seq    uint64
	events queue
}

// after schedules fn at now+d. Cancel it by setting dead.
func (c *clock) after(d time.Duration, fn func()) *event {
	c.seq++
	e := &event{at: c.now.Add(max(d, 0)), seq: c.seq, fn: fn}
	heap.Push(&c.events, e)
	return e
}

// next is the earliest live event, nil if none.
func (c *clock) next() *event {
	for c.events.Len() > 0 {
		e := c.events[0]
		if !e.dead {
			return e
		}
		heap.Pop(&c.events)
	}
	return nil
}

// fire runs the earliest live event, moving the clock to it.
func (c *clock) fire() bool {
	e := c.next()
	if e == nil {
		return false
	}
	heap.Pop(&c.events)
	if e.at.After(c.now) {
		c.now = e.at
	}
	e.fn()
	return true
}

// runUntil fires every event up to t and leaves the clock at t.
func (c *clock) runUntil(t time.Time) {
	for {
		e := c.next()
		if e == nil || e.at.After(t) {
			break
		}
		c.fire()
	}
	if t.After(c.now) {
		c.now = t
	}
}

// wake is what the driver tells a parked process.
type wake struct {
	err   error
	crash bool
}

// proc is one client process: a goroutine that runs only while the driver
// waits for it.
type proc struct {
	w       *World
	resume  chan wake
	yielded chan struct{}
	exited  bool

	// While parked: what lets it go on.
	ready    func() bool
	ctx      context.Context
	deadline time.Time // virtual; zero for none

	// crashAt kills the process at the phase's next occurrence.
	crashAt harness.Phase
	crash   bool
	crashed bool
	// deadlines maps contexts with a real deadline to virtual ones.
	deadlines map[context.Context]time.Time
}

// park blocks the process until ready() holds, ctx ends or its deadline
// passes in virtual time. It runs on the process's goroutine.
func (p *proc) park(ctx context.Context, ready func() bool) error {
	p.checkpoint()
	if err := ctx.Err(); err != nil {
		return err
	}
	if ready() {
		return nil
	}
	p.ready, p.ctx, p.deadline = ready, ctx, p.virtualDeadline(ctx)
	p.yielded <- struct{}{}
	w := <-p.resume
	p.ready, p.ctx = nil, nil
	if w.crash {
		p.die()
	}
	return w.err
}

// checkpoint kills the process if a crash is due.
func (p *proc) checkpoint() {
	if p.crash {
		p.die()
	}
}

func (p *proc) die() {
	p.crashed = true
	runtime.Goexit()
}

// deadlineGrain is the unit real deadlines are read in.
const deadlineGrain = 100 * time.Millisecond

// virtualDeadline reads a deadline set on the real clock as the same span
// on the virtual one, from the first time the process blocks on it.
func (p *proc) virtualDeadline(ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}
	}
	if v, ok := p.deadlines[ctx]; ok {
		return v
	}
	// The real time that passed since the context was made (a few
	// microseconds, more under load) must not leak into the simulation:
	// the span is rounded up to deadlineGrain. Contexts with deadlines are
	// made with whole timeouts (3s, 5s, 60s) just before they are used.
	left := time.Until(dl)
	left = (left + deadlineGrain - 1) / deadlineGrain * deadlineGrain
	v := p.w.clock.now.Add(max(left, 0))
	p.deadlines[ctx] = v
	return v
}

// run runs body as a process until it returns or crashes, driving the
// model while it is parked. It reports whether it crashed.
func (w *World) run(crashAt harness.Phase, body func()) (crashed bool, err error) {
	p := &proc{
		w: w, resume: make(chan wake), yielded: make(chan struct{}),
		crashAt: crashAt, deadlines: map[context.Context]time.Time{},
	}
	w.cur = p
	defer func() { w.cur = nil }()
	go func() {
		defer func() {
			p.exited = true
			p.yielded <- struct{}{}
		}()
		if (<-p.resume).crash {
			p.die()
		}
		body()
	}()
	p.resume <- wake{}
	<-p.yielded
	for !p.exited {
		var msg wake
		switch {
		case p.crash:
			msg.crash = true
		case p.ready():
		case p.ctx.Err() != nil:
			msg.err = p.ctx.Err()
		case !p.deadline.IsZero() && !w.clock.now.Before(p.deadline):
			msg.err = context.DeadlineExceeded
		default:
			e := w.clock.next()
			if e == nil && p.deadline.IsZero() {
				// Nothing can wake it: say so rather than hang.
				p.crash = true
				err = fmt.Errorf("%w: process parked at %s with no event pending", ErrStuck, w.clock.now.Sub(Epoch))
				continue
			}
			if e == nil || (!p.deadline.IsZero() && e.at.After(p.deadline)) {
				w.clock.runUntil(p.deadline)
			} else {
				w.clock.fire()
			}
			continue
		}
		p.resume <- msg
		<-p.yielded
	}
	return p.crashed, err
}

// phase notes a payment phase: it counts, and it kills the running
// process if it was to crash there.
func (w *World) phase(ph harness.Phase) {
	w.phases[ph]++
	if p := w.cur; p != nil && p.crashAt != "" && p.crashAt == ph && !p.crash {
		p.crash = true
	}
}

// simClock is the client's clock.Clock on the virtual clock.
type simClock struct{ w *World }

func (c simClock) Now() time.Time { return c.w.clock.now }

// After parks the process until d has passed, or its purchase context
// ends (the client selects on it too: the channel then stays empty).
func (c simClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	p := c.w.cur
	at := c.w.clock.now.Add(d)
	if p == nil {
		ch <- at
		return ch
	}
	ev := c.w.clock.after(d, func() {})
	if err := p.park(c.w.procCtx, func() bool { return !c.w.clock.now.Before(at) }); err == nil {
		ch <- c.w.clock.now
	}
	ev.dead = true
	return ch
}
