package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	return WriteAtomic(filepath.Join(dir, TruthFile), func(w io.Writer) error {
		b, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	})
}

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
// required.
func ReadRecord(dir string) (History, *Truth, error) {
	h, err := ReadHistory(dir)
	if err != nil {
		return nil, nil, err
	}
	t, err := ReadTruth(filepath.Join(dir, TruthFile))
	if err != nil {
		return nil, nil, err
	}
	return h, t, nil
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
