package containers

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	dnetwork "github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/l402chaos/l402chaos/regtest"
)

// callTimeout bounds one call to the engine.
const callTimeout = 30 * time.Second

// proc is one program's container. Once the program ends its output is
// drained into the log and the container is removed: a restart makes a
// new container on the same directory and address.
type proc struct {
	sb      *sandbox
	name    string
	id      string
	pid     int
	logPath string
	ip      string // its fixed address on the run's network

	mu       sync.Mutex
	paused   bool
	isolated bool
	done     chan struct{}
	err      error // set before done is closed
}

var (
	_ regtest.Proc     = (*proc)(nil)
	_ regtest.Isolator = (*proc)(nil)
)

// follow copies the container's output into logFile and waits for the
// container to end.
func (p *proc) follow(logFile *os.File) {
	cli := p.sb.rt.eng.cli
	logs, logErr := cli.ContainerLogs(context.Background(), p.id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		defer logFile.Close()
		if logErr != nil {
			fmt.Fprintf(logFile, "l402chaos: cannot follow the container's output: %v\n", logErr)
			return
		}
		defer logs.Close()
		stdcopy.StdCopy(logFile, logFile, logs)
	}()
	go func() {
		var err error
		waitC, errC := cli.ContainerWait(context.Background(), p.id, container.WaitConditionNotRunning)
		select {
		case st := <-waitC:
			err = fmt.Errorf("exit status %d", st.StatusCode)
			if st.Error != nil {
				err = fmt.Errorf("%w: %s", err, st.Error.Message)
			}
		case werr := <-errC:
			err = fmt.Errorf("container gone: %w", werr)
		}
		// The output ends with the container; a follow that hangs on a
		// dead engine connection is not waited for long.
		select {
		case <-drained:
		case <-time.After(5 * time.Second):
		}
		p.err = err
		p.setPaused(false)
		close(p.done)
		p.sb.remove(p.id)
	}()
}

// Pid is the program's process id on this machine (the engine's view).
func (p *proc) Pid() int { return p.pid }

// LogPath is where the program's output goes.
func (p *proc) LogPath() string { return p.logPath }

// Exited is an *regtest.ExitError once the container has ended.
func (p *proc) Exited() error {
	select {
	case <-p.done:
		return &regtest.ExitError{Name: p.name, Err: p.err, LogTail: regtest.LogTail(p.logPath, 20)}
	default:
		return nil
	}
}

func (p *proc) signal(sig string) error {
	if p.Exited() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := p.sb.rt.eng.cli.ContainerKill(ctx, p.id, sig)
	if err != nil && (p.Exited() != nil || strings.Contains(err.Error(), "is not running")) {
		return nil
	}
	return err
}

// Kill sends SIGKILL to the container and waits until it has ended.
func (p *proc) Kill() error {
	if p.Paused() {
		// A frozen cgroup still dies of SIGKILL, but the engine wants it
		// thawed first.
		p.Resume()
	}
	if err := p.signal("KILL"); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(callTimeout):
		return fmt.Errorf("kill %s: container still running after %s", p.name, callTimeout)
	}
}

// Terminate sends SIGTERM (thawing a paused container first) and kills
// the container if it has not ended within grace.
func (p *proc) Terminate(grace time.Duration) error {
	if p.Paused() {
		p.Resume()
	}
	if err := p.signal("TERM"); err != nil {
		return fmt.Errorf("terminate %s: %w", p.name, err)
	}
	return p.Wait(grace)
}

// Wait waits for the container to end, killing it after grace.
func (p *proc) Wait(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// Pause freezes the container's processes (the cgroup freezer).
func (p *proc) Pause() error {
	if err := p.Exited(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := p.sb.rt.eng.cli.ContainerPause(ctx, p.id); err != nil {
		return fmt.Errorf("pause %s: %w", p.name, err)
	}
	p.setPaused(true)
	return nil
}

// Resume thaws a paused container.
func (p *proc) Resume() error {
	if err := p.Exited(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := p.sb.rt.eng.cli.ContainerUnpause(ctx, p.id); err != nil && !strings.Contains(err.Error(), "is not paused") {
		return fmt.Errorf("resume %s: %w", p.name, err)
	}
	p.setPaused(false)
	return nil
}

// Isolate disconnects the container from the run's network: every
// connection to or from it fails, the ones through its published ports
// included, while its processes keep running.
func (p *proc) Isolate(ctx context.Context) error {
	if err := p.Exited(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := p.sb.rt.eng.cli.NetworkDisconnect(ctx, p.sb.net.ID, p.id, true); err != nil {
		return fmt.Errorf("disconnect %s from %s: %w", p.name, p.sb.net.Name, err)
	}
	p.mu.Lock()
	p.isolated = true
	p.mu.Unlock()
	return nil
}

// Rejoin connects an isolated container to the run's network again, at
// its address and under its name.
func (p *proc) Rejoin(ctx context.Context) error {
	if err := p.Exited(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	err := p.sb.rt.eng.cli.NetworkConnect(ctx, p.sb.net.ID, p.id, &dnetwork.EndpointSettings{
		IPAMConfig: &dnetwork.EndpointIPAMConfig{IPv4Address: p.ip},
		Aliases:    []string{p.name},
	})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("connect %s to %s: %w", p.name, p.sb.net.Name, err)
	}
	p.mu.Lock()
	p.isolated = false
	p.mu.Unlock()
	return nil
}

// Isolated reports whether the container is cut from the run's network.
func (p *proc) Isolated() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isolated
}

// Paused reports whether the container is frozen by Pause.
func (p *proc) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

func (p *proc) setPaused(v bool) {
	p.mu.Lock()
	p.paused = v
	p.mu.Unlock()
}
