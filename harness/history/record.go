package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A run's record is a directory holding its history and its ground
// truth. Every driver writes it with WriteRecord, and reports and the
// offline recheck read it with ReadRecord: this file is the only place
// that knows its layout.
const (
	// HistoryFile is the history, one event per line (WriteJSONL).
	HistoryFile = "history.jsonl"
	// TruthFile is the ground truth, indented JSON.
	TruthFile = "truth.json"
)

// ErrNoRecord: a directory holds no run record (no history.jsonl).
var ErrNoRecord = errors.New("no run record")

// IsRecord reports whether dir holds a run record.
func IsRecord(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, HistoryFile))
	return err == nil
}

// WriteRecord writes a run's record into dir, creating it: the history
// and, when t is not nil, the truth, each file in full or not at all.
func WriteRecord(dir string, h History, t *Truth) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	if err := WriteAtomic(filepath.Join(dir, HistoryFile), h.WriteJSONL); err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	return WriteTruth(dir, t)
}

// WriteTruth writes (or replaces) the truth of the record in dir, in full
// or not at all: a long run samples it as it goes.
func WriteTruth(dir string, t *Truth) error {
	return WriteAtomic(filepath.Join(dir, TruthFile), func(w io.Writer) error {
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	})
}

// Log appends a record's history to dir/history.jsonl as it happens, so
// that the record of a long run survives a harness that dies: Add
// buffers an event (it is a Recorder's sink), and the buffer is written
// and synced to disk at least every interval, and at Sync and Close. A
// harness killed between syncs loses at most an interval of events and
// may leave a torn last line, which ReadJSONL drops.
type Log struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error // the first write or sync error; later Adds are dropped

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// CreateLog creates dir (if need be) and a new, empty history.jsonl in
// it, and syncs it every interval until Close.
func CreateLog(dir string, every time.Duration) (*Log, error) {
	if every <= 0 {
		return nil, fmt.Errorf("history log: sync interval %s: want more than 0", every)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("history log: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history log: %w", err)
	}
	l := &Log{f: f, w: bufio.NewWriterSize(f, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go l.syncEvery(every)
	return l, nil
}

// Add appends e to the buffer. An error is kept for Sync and Close to
// return: a sink cannot return one.
func (l *Log) Add(e Event) {
	b, err := json.Marshal(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err == nil {
		_, err = l.w.Write(append(b, '\n'))
	}
	if err != nil {
		l.err = fmt.Errorf("history log: event %d: %w", e.Index, err)
	}
}

// Sync writes the buffer out and syncs the file.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.syncLocked()
}

func (l *Log) syncLocked() error {
	if l.err != nil {
		return l.err
	}
	if err := l.w.Flush(); err != nil {
		l.err = fmt.Errorf("history log: %w", err)
		return l.err
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("history log: %w", err)
	}
	return l.err
}

func (l *Log) syncEvery(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			_ = l.Sync()
		}
	}
}

// Close syncs what is buffered and closes the file. It is idempotent.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		err := l.syncLocked()
		if cerr := l.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("history log: %w", cerr)
		}
		if l.err == nil {
			l.err = err
		}
		if l.err == nil {
			l.err = errLogClosed
		}
		l.closeErr = err
	})
	return l.closeErr
}

// errLogClosed: an Add after Close, dropped.
var errLogClosed = errors.New("history log: closed")

// ReadHistory reads the history of the record in dir. A directory
// without one is ErrNoRecord.
func ReadHistory(dir string) (History, error) {
	f, err := os.Open(filepath.Join(dir, HistoryFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: %w", ErrNoRecord, dir, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := ReadJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return h, nil
}

// ReadRecord reads the record in dir: its history and its truth, both
// required. A sampled truth (Truth.Sampled) comes with the part of the
// history it speaks for.
func ReadRecord(dir string) (History, *Truth, error) {
	h, err := ReadHistory(dir)
	if err != nil {
		return nil, nil, err
	}
	t, err := ReadTruth(filepath.Join(dir, TruthFile))
	if err != nil {
		return nil, nil, err
	}
	retired, err := readRetired(dir)
	if err != nil {
		return nil, nil, err
	}
	t.absorb(retired)
	if t.Sampled {
		h = h.speaksFor(t)
	}
	return h, t, nil
}

// speaksFor cuts a history to what a sampled truth speaks for: the
// events before its Through, but those of its Busy purchases.
func (h History) speaksFor(t *Truth) History {
	busy := map[string]bool{}
	for _, k := range t.Busy {
		busy[k] = true
	}
	var out History
	for _, e := range h {
		if e.Index < t.Through && (e.Key == "" || !busy[e.Key]) {
			out = append(out, e)
		}
	}
	return out
}

// WriteAtomic writes a file in full or not at all: into a temporary file
// beside it, synced, then renamed over path.
func WriteAtomic(path string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after a rename, nothing left to remove
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CopyDir copies a record's directory tree (directories and regular
// files; anything else is left out) from src into dst: a merged report
// takes its shares' records, a run's record its client's logs.
func CopyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, 0o644)
		}
		return nil
	})
}
