package regtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// portQuarantine is how long a handed-out port is not handed out again,
// so that a restarted node can usually get its old ports back and long
// soaks do not run out of ports.
const portQuarantine = 10 * time.Minute

// portFloor is the lowest port handed out: above the well-known and the
// usual fixed service ports.
const portFloor = 10000

// portSet hands out free loopback ports and never hands the same port out
// twice in one process, so that nodes started together cannot collide
// with each other.
//
// Ports come from below the kernel's ephemeral range when it leaves room
// there: the kernel gives ephemeral ports to outgoing connections, and
// one could take the port of a node that is restarting, or of a link
// brought down for a while, before it listens again. A port taken
// meanwhile by another process still shows up as a start failure, and the
// caller starts again on fresh ports.
type portSet struct {
	mu    sync.Mutex
	given map[int]time.Time
	// lo and hi bound the ports drawn ([lo, hi)); hi 0: ask the kernel
	// for an ephemeral port instead.
	lo, hi int
}

var ports = newPortSet(ephemeralRange("/proc/sys/net/ipv4/ip_local_port_range"))

func newPortSet(ephemeralLo int) *portSet {
	s := &portSet{given: map[int]time.Time{}}
	if ephemeralLo-portFloor >= 1000 {
		s.lo, s.hi = portFloor, ephemeralLo
	}
	return s
}

// ephemeralRange reads the lowest ephemeral port from path (Linux's
// ip_local_port_range); 0 when it cannot be read.
func ephemeralRange(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo <= 0 || lo > 65535 {
		return 0
	}
	return lo
}

// next returns a loopback address with a port that was free a moment ago.
func (s *portSet) next() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last error
	for i := 0; i < 100; i++ {
		want := 0
		if s.hi > 0 {
			want = s.lo + rand.IntN(s.hi-s.lo)
			if s.recent(want) {
				continue
			}
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", want))
		if err != nil {
			last = err
			continue // taken: draw another
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !s.recent(port) {
			s.given[port] = time.Now()
			return fmt.Sprintf("127.0.0.1:%d", port), nil
		}
	}
	if last != nil {
		return "", fmt.Errorf("find a free port: no new port after 100 tries: %w", last)
	}
	return "", fmt.Errorf("find a free port: no new port after 100 tries")
}

// recent reports whether port was handed out within the quarantine.
func (s *portSet) recent(port int) bool {
	at, ok := s.given[port]
	return ok && time.Since(at) <= portQuarantine
}

// FreeAddr returns a loopback address whose port was free a moment ago,
// outside the kernel's ephemeral range where it can be, and that this
// process has not handed out in the last ten minutes: for runtimes that
// publish a program's ports on this machine, and for listeners that must
// get their port back after a while closed (a proxy brought down and up).
func FreeAddr() (string, error) { return ports.next() }
