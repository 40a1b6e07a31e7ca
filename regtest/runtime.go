package regtest

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Runtime is where the network's programs run: local processes (the
// default, Processes) or containers (package regtest/containers). The
// network asks it for each program's addresses before starting it, so
// the flags it passes name the right ones, and then starts it.
//
// Paths are the same everywhere: a runtime that isolates its programs
// must make the run directory visible to them at the same path, because
// the flags name files in it (certificates, data directories) and the
// harness reads the nodes' certificates and macaroons from it.
type Runtime interface {
	// Name is the backend's name ("process", "containers").
	Name() string
	// Open prepares a sandbox for one network in runDir (a container
	// network, say). Each network, the one a snapshot is made from
	// included, opens its own.
	Open(ctx context.Context, runDir string) (Sandbox, error)
}

// Sandbox is where one network's programs run.
type Sandbox interface {
	// Endpoint allocates an address for one port of a program; port is
	// the program's own port in an isolated runtime (ignored by
	// processes, which get a free loopback port).
	Endpoint(program string, port int) (Endpoint, error)
	// Start starts a program. Its output goes to spec.LogPath.
	Start(ctx context.Context, spec Spec) (Proc, error)
	// Close tears down what Open made; the network stops its programs
	// first. It is idempotent.
	Close() error
}

// Endpoint is one port of a program as each side sees it.
type Endpoint struct {
	// Listen is what the program binds.
	Listen string
	// Host is what this process (the harness) dials.
	Host string
	// Peer is what the network's other programs dial, and what a node
	// advertises.
	Peer string
	// Port is the program's own port, which an isolated runtime
	// publishes (0 for processes).
	Port int
}

// Spec is a program to start.
type Spec struct {
	// Name names the program in the network (btcd, alice, bob).
	Name string
	// Bin is the executable's path on this machine.
	Bin  string
	Args []string
	// Dir is the program's directory under the run directory.
	Dir string
	// LogPath receives the program's output.
	LogPath string
	// Endpoints are the program's ports (from Endpoint).
	Endpoints []Endpoint
}

// Proc is a started program.
type Proc interface {
	// Pid is the program's process id on this machine, 0 if unknown.
	Pid() int
	// Exited is an *ExitError once the program has ended, nil before.
	Exited() error
	// Kill ends the program at once (SIGKILL) and waits until it has.
	Kill() error
	// Terminate asks the program to stop (SIGTERM), resuming it first
	// if it is paused, and kills it if it has not ended within grace.
	Terminate(grace time.Duration) error
	// Wait waits until the program ends, killing it after grace.
	Wait(grace time.Duration) error
	// Pause freezes the program; Resume thaws it.
	Pause() error
	Resume() error
	Paused() bool
	// LogPath is where its output goes.
	LogPath() string
}

// HostAddresser is a sandbox whose programs reach this machine at an
// address other than loopback (a container network's gateway): a
// server of this process that they must reach listens there.
type HostAddresser interface {
	HostIP() string
}

// HostIP is where a sandbox's programs reach this machine: its
// HostIP, else 127.0.0.1.
func HostIP(sb Sandbox) string {
	if h, ok := sb.(HostAddresser); ok {
		return h.HostIP()
	}
	return "127.0.0.1"
}

// Processes runs programs as local child processes, each in its own
// process group, on free loopback ports. It is the default runtime.
type Processes struct{}

var _ Runtime = Processes{}

// Name is "process".
func (Processes) Name() string { return "process" }

// Open returns a sandbox of local processes: it needs no preparation.
func (Processes) Open(context.Context, string) (Sandbox, error) { return &processes{}, nil }

// processes remembers what it started, to kill it on Close.
type processes struct {
	mu      sync.Mutex
	started []*process
}

// Endpoint returns a free loopback port, the same for every side.
func (*processes) Endpoint(string, int) (Endpoint, error) {
	addr, err := ports.next()
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Listen: addr, Host: addr, Peer: addr}, nil
}

// Start starts spec.Bin as a child process.
func (s *processes) Start(_ context.Context, spec Spec) (Proc, error) {
	p, err := startProcess(spec.Name, spec.Bin, spec.Args, spec.LogPath)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.started = append(s.started, p)
	s.mu.Unlock()
	return p, nil
}

// Close kills every process it started that still runs.
func (s *processes) Close() error {
	s.mu.Lock()
	started := s.started
	s.started = nil
	s.mu.Unlock()
	var errs []error
	for _, p := range started {
		errs = append(errs, p.Kill())
	}
	return errors.Join(errs...)
}

// WithRuntime runs the network's programs on rt instead of local
// processes.
func WithRuntime(rt Runtime) Option {
	return func(c *config) error {
		if rt == nil {
			return errors.New("runtime is nil")
		}
		c.runtime = rt
		return nil
	}
}

// WithOnOpen calls f once the network's sandbox is open, before any of
// its programs starts: for programs the nodes need from their first
// start (a proxy on their hops, see WithInterpose). A network made for
// a snapshot has no proxies and does not call it. The programs f starts
// are stopped with the sandbox.
func WithOnOpen(f func(ctx context.Context, sb Sandbox, runDir string) error) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("open hook is nil")
		}
		c.onOpen = f
		return nil
	}
}

// WithOnNodes calls f once the nodes are defined (their addresses
// allocated, their certificates and macaroons in place) and, on a network
// started from a snapshot, while they start: for a program that talks to
// the nodes and can wait for them (the provider), so that its start
// overlaps theirs. Start returns when f has returned and fails with its
// error. A network made for a snapshot does not call it.
func WithOnNodes(f func(ctx context.Context, n *Network) error) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("nodes hook is nil")
		}
		c.onNodes = f
		return nil
	}
}

// Isolator is a Proc that can be cut from its network as a whole (a
// container disconnected from the run's network: every connection to
// and from it fails at the IP level, the harness's included) and joined
// again at the same address. Local processes cannot: their faults go
// through the proxies instead.
type Isolator interface {
	Isolate(ctx context.Context) error
	Rejoin(ctx context.Context) error
	Isolated() bool
}

// ErrNoIsolation: the runtime cannot isolate a program (local processes).
var ErrNoIsolation = errors.New("this backend cannot isolate a program from the network (the containers backend can)")
