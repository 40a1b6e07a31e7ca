package metrics

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l402chaos/l402chaos/harness/history"
)

// WatchProcess adds a node's process to the resource series and to every
// sample: its resident memory, its open files and the size of dataDir
// (empty: none). pid is called at each reading; 0 (or a nil pid) means
// the node is not running, and then, as for a process that has vanished, memory and open
// files read 0 (never an error that stops the sampling). The data
// directory is measured whether the node runs or not, walked again at
// most every WithDataEvery. Watching a name again replaces it.
func (m *Metrics) WatchProcess(name string, pid func() int, dataDir string) {
	if pid == nil {
		pid = func() int { return 0 }
	}
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	m.watching[name] = &watched{name: name, pid: pid, dir: dataDir}
}

// watched returns the watched processes.
func (m *Metrics) watched() []*watched {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	out := make([]*watched, 0, len(m.watching))
	for _, w := range m.watching {
		out = append(out, w)
	}
	return out
}

// watched is one node's process and its data directory, with the last
// size of that directory.
type watched struct {
	name string
	pid  func() int
	dir  string

	mu       sync.Mutex // held through a walk: one walk at a time
	size     int64
	measured time.Time
}

// usage reads the process's use now, and whether it runs.
func (w *watched) usage(now func() time.Time, every time.Duration) (history.Usage, bool) {
	u, up := processUsage(w.pid())
	u.DataBytes = w.dataBytes(now, every)
	return u, up
}

// dataBytes is the size of the data directory, walked again when the
// last walk is older than every.
func (w *watched) dataBytes(now func() time.Time, every time.Duration) int64 {
	if w.dir == "" {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t := now()
	if !w.measured.IsZero() && t.Sub(w.measured) < every {
		return w.size
	}
	w.size, w.measured = dirSize(w.dir), t
	return w.size
}

// dirSize sums the sizes of the regular files under dir. Files that
// vanish during the walk (a node rotating its logs) and unreadable
// entries are skipped: the size is a reading, not a check.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += info.Size()
		}
		return nil
	})
	return n
}

// processUsage reads a process's resident memory (VmRSS and RssAnon in
// /proc/PID/status) and its open files (the entries of /proc/PID/fd).
// A pid of 0, a process that is gone or a zombie reads zero and not
// running.
func processUsage(pid int) (history.Usage, bool) {
	if pid <= 0 {
		return history.Usage{}, false
	}
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(proc, "status"))
	if err != nil {
		return history.Usage{}, false
	}
	rss, anon, alive := parseStatus(status)
	if !alive {
		return history.Usage{}, false
	}
	return history.Usage{RSSBytes: rss, AnonBytes: anon, OpenFiles: countDir(filepath.Join(proc, "fd"))}, true
}

// parseStatus reads VmRSS and RssAnon (in bytes) from /proc/PID/status,
// and whether the process is alive (not a zombie or dead).
func parseStatus(b []byte) (rss, anon int64, alive bool) {
	alive = true
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		fields := bytes.Fields(val)
		if len(fields) == 0 {
			continue
		}
		switch string(key) {
		case "State":
			if s := fields[0][0]; s == 'Z' || s == 'X' {
				alive = false
			}
		case "VmRSS", "RssAnon":
			n, err := strconv.ParseInt(string(fields[0]), 10, 64)
			if err != nil {
				continue
			}
			if len(fields) > 1 && string(fields[1]) == "kB" {
				n *= 1024
			}
			if string(key) == "VmRSS" {
				rss = n
			} else {
				anon = n
			}
		}
	}
	return rss, anon, alive
}

// countDir counts the entries of dir, 0 when it cannot be read.
func countDir(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

// nodeCollector reads every watched process when scraped.
type nodeCollector struct {
	m                          *Metrics
	up, rss, anon, files, data *prometheus.Desc
}

func newNodeCollector(m *Metrics) *nodeCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "node", name), help, []string{"node"}, nil)
	}
	return &nodeCollector{
		m:     m,
		up:    desc("up", "Whether the node's process is running (1) or not (0)."),
		rss:   desc("resident_memory_bytes", "Resident memory of the node's process (VmRSS), 0 when it is not running."),
		anon:  desc("anon_memory_bytes", "The anonymous part of the node's resident memory (RssAnon: heap and stacks), 0 when it is not running."),
		files: desc("open_fds", "Open file descriptors of the node's process, 0 when it is not running."),
		data:  desc("data_bytes", "Size of the node's data directory, walked again at most every interval (30s by default)."),
	}
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.rss
	ch <- c.anon
	ch <- c.files
	ch <- c.data
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.m.watched() {
		u, up := w.usage(c.m.now, c.m.dataEvery)
		running := 0.0
		if up {
			running = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, running, w.name)
		ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(u.RSSBytes), w.name)
		ch <- prometheus.MustNewConstMetric(c.anon, prometheus.GaugeValue, float64(u.AnonBytes), w.name)
		ch <- prometheus.MustNewConstMetric(c.files, prometheus.GaugeValue, float64(u.OpenFiles), w.name)
		ch <- prometheus.MustNewConstMetric(c.data, prometheus.GaugeValue, float64(u.DataBytes), w.name)
	}
}
