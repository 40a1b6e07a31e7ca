package regtest

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// portQuarantine is how long a handed-out port is not handed out again,
// so that a restarted node can usually get its old ports back and long
// soaks do not run out of ports.
const portQuarantine = 10 * time.Minute

// portSet hands out free loopback ports and never hands the same port out
// twice in one process, so that nodes started together cannot collide
// with each other. A port taken meanwhile by another process shows up as
// a start failure, and the caller starts again on fresh ports.
type portSet struct {
	mu    sync.Mutex
	given map[int]time.Time
}

var ports = &portSet{given: map[int]time.Time{}}

// next returns a loopback address with a port that was free a moment ago.
func (s *portSet) next() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < 100; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if at, ok := s.given[port]; !ok || time.Since(at) > portQuarantine {
			s.given[port] = time.Now()
			return fmt.Sprintf("127.0.0.1:%d", port), nil
		}
	}
	return "", fmt.Errorf("find a free port: no new port after 100 tries")
}

// FreeAddr returns a loopback address whose port was free a moment ago
// and that this process has not handed out in the last ten minutes: for
// runtimes that publish a program's ports on this machine.
func FreeAddr() (string, error) { return ports.next() }
