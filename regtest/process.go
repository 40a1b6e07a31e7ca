package regtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrExited reports that a child process is no longer running.
var ErrExited = errors.New("process exited")

// ExitError tells which child died and shows the end of its log, which
// is nearly always where the reason is.
type ExitError struct {
	Name    string
	Err     error // the wait status
	LogTail string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited: %v", e.Name, e.Err)
	if e.LogTail != "" {
		msg += "\n--- last lines of its log ---\n" + e.LogTail
	}
	return msg
}

func (e *ExitError) Unwrap() error { return ErrExited }

// process is one child in its own process group. Signals go to the whole
// group, so anything the child spawns goes with it. Pdeathsig makes the
// kernel kill the child if this process dies without cleaning up (a test
// binary killed by its timeout, say).
type process struct {
	name    string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // set before done is closed
	paused bool
}

// startProcess starts bin with args, appending its output to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logFile.Close()
		if err == nil {
			err = errors.New("exit status 0")
		}
		p.err = err
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id, which is also its process group id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// exited returns an *ExitError once the process has ended, nil before.
func (p *process) Exited() error {
	select {
	case <-p.done:
		return &ExitError{Name: p.name, Err: p.err, LogTail: tail(p.logPath, 20)}
	default:
		return nil
	}
}

func (p *process) signal(sig syscall.Signal) error {
	if p.Exited() != nil {
		return nil
	}
	err := syscall.Kill(-p.Pid(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// kill sends SIGKILL to the group and waits until the child is reaped.
func (p *process) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.done
	p.setPaused(false)
	return nil
}

// terminate asks the group to stop with SIGTERM (resuming it first if it is
// paused) and kills it if it has not exited within grace.
func (p *process) Terminate(grace time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("terminate %s: %w", p.name, err)
	}
	_ = p.signal(syscall.SIGCONT)
	select {
	case <-p.done:
		p.setPaused(false)
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

// wait blocks until the process exits or grace passes, then kills it.
func (p *process) Wait(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
		return p.Kill()
	}
}

func (p *process) Pause() error {
	if err := p.Exited(); err != nil {
		return err
	}
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", p.name, err)
	}
	p.setPaused(true)
	return nil
}

func (p *process) Resume() error {
	if err := p.Exited(); err != nil {
		return err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s: %w", p.name, err)
	}
	p.setPaused(false)
	return nil
}

func (p *process) setPaused(v bool) {
	p.mu.Lock()
	p.paused = v
	p.mu.Unlock()
}

func (p *process) Paused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// LogPath is where the child's output goes.
func (p *process) LogPath() string { return p.logPath }

// LogTail returns the last n lines of a program's log, for error
// messages.
func LogTail(path string, n int) string { return tail(path, n) }

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}
