//go:build unix && !linux

package adapter

import "syscall"

// sysProcAttr puts the client in its own process group, so that the whole
// tree it starts is killed with it. There is no parent-death signal
// outside Linux.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
