package containers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"

	"github.com/l402chaos/l402chaos/regtest"
)

// Runtime runs a network's programs in containers: regtest.WithRuntime(
// containers.New(engine)). Each network gets a user-defined bridge
// network of its own, with a subnet of its own so that every program has
// a fixed address (a restarted container comes back at the same one).
type Runtime struct {
	eng      *Engine
	log      *slog.Logger
	progress io.Writer
}

var _ regtest.Runtime = (*Runtime)(nil)

// Option adjusts a Runtime.
type Option func(*Runtime)

// WithLogger sets the logger for diagnostics.
func WithLogger(l *slog.Logger) Option { return func(r *Runtime) { r.log = l } }

// WithProgress sends image build progress to w.
func WithProgress(w io.Writer) Option { return func(r *Runtime) { r.progress = w } }

// New returns the containers runtime on eng.
func New(eng *Engine, opts ...Option) *Runtime {
	r := &Runtime{eng: eng, log: slog.New(slog.DiscardHandler), progress: io.Discard}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Name is "containers".
func (r *Runtime) Name() string { return "containers" }

// closeTimeout bounds a sandbox's teardown.
const closeTimeout = 30 * time.Second

// Open sweeps what dead owners left, then makes the network's bridge
// network, labelled with the run (the run directory's name) and this
// process's pid.
func (r *Runtime) Open(ctx context.Context, runDir string) (regtest.Sandbox, error) {
	if swept, err := r.eng.Sweep(ctx); err != nil {
		r.log.Warn("sweep of containers left by dead processes", "err", err)
	} else if !swept.Empty() {
		r.log.Info("removed containers left by dead processes", "containers", swept.Containers, "networks", swept.Networks, "volumes", swept.Volumes)
	}
	run := filepath.Base(runDir)
	labels := ownerLabels(run)
	nw, subnet, err := r.makeNetwork(ctx, labels)
	if err != nil {
		return nil, err
	}
	return &sandbox{
		rt: r, run: run, runDir: runDir, labels: labels, net: nw, subnet: subnet,
		ips: map[string]netip.Addr{}, next: subnet.Addr().Next().Next(),
	}, nil
}

// makeNetwork creates the bridge network on a /24 no other network
// holds: the engine refuses an overlapping one, and the next is tried.
func (r *Runtime) makeNetwork(ctx context.Context, labels map[string]string) (*testcontainers.DockerNetwork, netip.Prefix, error) {
	var last error
	start := rand.IntN(200)
	for i := 0; i < 50; i++ {
		subnet := netip.MustParsePrefix(fmt.Sprintf("10.231.%d.0/24", (start+i)%250+1))
		nw, err := network.New(ctx, network.WithLabels(labels), network.WithIPAM(&dnetwork.IPAM{
			Config: []dnetwork.IPAMConfig{{Subnet: subnet.String()}},
		}))
		if err == nil {
			return nw, subnet, nil
		}
		last = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	return nil, netip.Prefix{}, fmt.Errorf("create the run's network: %w", last)
}

// sandbox is one network's containers.
type sandbox struct {
	rt     *Runtime
	run    string
	runDir string
	labels map[string]string
	net    *testcontainers.DockerNetwork
	subnet netip.Prefix

	mu     sync.Mutex
	ips    map[string]netip.Addr
	next   netip.Addr
	seq    int
	closed bool
}

// ip is the program's fixed address on the run's network.
func (s *sandbox) ip(program string) (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ip, ok := s.ips[program]; ok {
		return ip, nil
	}
	ip := s.next
	if !s.subnet.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("no address left on %s for %s", s.subnet, program)
	}
	s.ips[program] = ip
	s.next = ip.Next()
	return ip, nil
}

// CanIsolate: a container is disconnected from the run's network.
func (s *sandbox) CanIsolate() bool { return true }

// HostIP is the run network's gateway: this machine as the containers
// reach it.
func (s *sandbox) HostIP() string { return s.subnet.Addr().Next().String() }

// CertHosts are every address of the run's network: btcd's certificate
// names them all, since nodes reach it through proxies whose addresses
// are handed out after it starts.
func (s *sandbox) CertHosts() []string {
	var out []string
	for ip := s.subnet.Addr().Next(); s.subnet.Contains(ip); ip = ip.Next() {
		out = append(out, ip.String())
	}
	return out
}

// Endpoint: the program listens on its own port on every interface;
// the network's other programs dial its fixed address; this process
// dials a loopback port the engine publishes.
func (s *sandbox) Endpoint(program string, port int) (regtest.Endpoint, error) {
	if port <= 0 || port > 65535 {
		return regtest.Endpoint{}, fmt.Errorf("endpoint of %s: port %d", program, port)
	}
	ip, err := s.ip(program)
	if err != nil {
		return regtest.Endpoint{}, err
	}
	host, err := regtest.FreeAddr()
	if err != nil {
		return regtest.Endpoint{}, err
	}
	return regtest.Endpoint{
		Listen: "0.0.0.0:" + strconv.Itoa(port),
		Host:   host,
		Peer:   netip.AddrPortFrom(ip, uint16(port)).String(),
		Port:   port,
	}, nil
}

// Start runs spec.Bin's image as a container on the run's network at the
// program's address, with the run directory mounted at the same path,
// as this process's user (so that the files it writes stay this user's),
// its ports published on loopback and its output appended to
// spec.LogPath.
func (s *sandbox) Start(ctx context.Context, spec regtest.Spec) (regtest.Proc, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("start %s: sandbox closed", spec.Name)
	}
	s.seq++
	cname := fmt.Sprintf("%s-%s-%d", s.run, spec.Name, s.seq)
	s.mu.Unlock()

	img, err := s.rt.eng.EnsureImage(ctx, spec.Bin, s.rt.progress)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	ip, err := s.ip(spec.Name)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	var exposed []string
	bindings := nat.PortMap{}
	for _, ep := range spec.Endpoints {
		host, port, err := splitHostPort(ep.Host)
		if err != nil {
			return nil, fmt.Errorf("start %s: endpoint %+v: %w", spec.Name, ep, err)
		}
		p := nat.Port(fmt.Sprintf("%d/tcp", ep.Port))
		exposed = append(exposed, string(p))
		bindings[p] = []nat.PortBinding{{HostIP: host, HostPort: port}}
	}
	labels := map[string]string{"l402chaos.program": spec.Name}
	for k, v := range s.labels {
		labels[k] = v
	}
	logFile, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", spec.Name, err)
	}
	req := testcontainers.ContainerRequest{
		Image:          img.Ref,
		Name:           cname,
		Entrypoint:     []string{img.Entry},
		Cmd:            spec.Args,
		Env:            map[string]string{"HOME": spec.Dir},
		Labels:         labels,
		ExposedPorts:   exposed,
		Networks:       []string{s.net.Name},
		NetworkAliases: map[string][]string{s.net.Name: {spec.Name}},
		ConfigModifier: func(c *container.Config) {
			c.User = fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
		},
		HostConfigModifier: func(hc *container.HostConfig) {
			hc.Binds = append(hc.Binds, s.runDir+":"+s.runDir)
			hc.PortBindings = bindings
		},
		EndpointSettingsModifier: func(eps map[string]*dnetwork.EndpointSettings) {
			if ep, ok := eps[s.net.Name]; ok {
				ep.IPAMConfig = &dnetwork.EndpointIPAMConfig{IPv4Address: ip.String()}
			}
		},
	}
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: req, Started: true})
	if err != nil {
		logFile.Close()
		if c != nil {
			s.remove(c.GetContainerID())
		}
		return nil, fmt.Errorf("start %s in a container: %w", spec.Name, err)
	}
	p := &proc{sb: s, name: spec.Name, id: c.GetContainerID(), ip: ip.String(), logPath: spec.LogPath, done: make(chan struct{})}
	if info, err := s.rt.eng.cli.ContainerInspect(ctx, p.id); err == nil && info.State != nil {
		p.pid = info.State.Pid
	}
	p.follow(logFile)
	return p, nil
}

// remove removes a container, whatever its state.
func (s *sandbox) remove(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := s.rt.eng.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) && !strings.Contains(err.Error(), "already in progress") {
		return err
	}
	return nil
}

// Close removes the run's containers (the network has stopped its
// programs; anything left is removed by force) and its network.
func (s *sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var errs []error
	cs, err := s.rt.eng.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelRun+"="+s.run))})
	if err != nil {
		errs = append(errs, fmt.Errorf("list the run's containers: %w", err))
	}
	for _, c := range cs {
		if err := s.remove(c.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove container %s: %w", name(c.Names, c.ID), err))
		}
	}
	if err := s.net.Remove(ctx); err != nil && !cerrdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("remove network %s: %w", s.net.Name, err))
	}
	return errors.Join(errs...)
}

func splitHostPort(addr string) (string, string, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return "", "", err
	}
	return ap.Addr().String(), strconv.Itoa(int(ap.Port())), nil
}
