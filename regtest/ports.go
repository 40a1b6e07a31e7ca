package regtest

import (
	"fmt"
	"net"
	"sync"
)

// portSet hands out free loopback ports and never hands the same port out
// twice in one process, so that nodes started together cannot collide
// with each other. A port taken meanwhile by another process shows up as
// a start failure, and the caller starts again on fresh ports.
type portSet struct {
	mu    sync.Mutex
	given map[int]bool
}

var ports = &portSet{given: map[int]bool{}}

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
		if !s.given[port] {
			s.given[port] = true
			return fmt.Sprintf("127.0.0.1:%d", port), nil
		}
	}
	return "", fmt.Errorf("find a free port: no new port after 100 tries")
}
