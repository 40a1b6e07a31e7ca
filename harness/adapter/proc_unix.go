//go:build unix

package adapter

import (
	"errors"
	"os"
	"syscall"
)

// killGroup sends SIGKILL to the process group led by pid. A group that
// is gone already is os.ErrProcessDone.
func killGroup(pid int) error {
	if pid <= 0 {
		return nil
	}
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// killedBySignal reports whether a process ended by SIGKILL.
func killedBySignal(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
