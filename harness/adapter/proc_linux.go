package adapter

import "syscall"

// sysProcAttr puts the client in its own process group, so that the whole
// tree it starts (a shell's children, go run's binary) is killed with it,
// and has the kernel kill it if the harness dies first. Pdeathsig fires
// when the thread that started the child exits, so Purchase keeps its
// goroutine on one thread until the child is reaped.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
