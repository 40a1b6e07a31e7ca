// Package owned makes temporary directories that name their owner, and
// removes those whose owner died: a run killed with kill -9 leaves its
// directories behind, and the next start on the machine sweeps them.
// The regtest network's run directories and the harness's client state
// directories use it.
package owned

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// File is the owner's pid inside an owned directory.
const File = "owner.pid"

// MkdirTemp is os.MkdirTemp(base, prefix+"*") with this process as its
// owner.
func MkdirTemp(base, prefix string) (string, error) {
	dir, err := os.MkdirTemp(base, prefix+"*")
	if err != nil {
		return "", err
	}
	if err := Claim(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Claim makes this process dir's owner.
func Claim(dir string) error {
	return os.WriteFile(filepath.Join(dir, File), []byte(strconv.Itoa(os.Getpid())), 0o600)
}

// Sweep removes the directories of base whose name starts with one of
// prefixes and whose owner no longer runs, calling removed for each.
// A directory without an owner file is left alone.
func Sweep(base string, prefixes []string, removed func(dir string)) error {
	entries, err := os.ReadDir(base)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !hasPrefix(e.Name(), prefixes) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, File))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 0 || Alive(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		if removed != nil {
			removed(dir)
		}
	}
	return errors.Join(errs...)
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Alive reports whether a process of this machine still runs. A zombie
// (killed, not yet reaped by its parent: kill -9 of an owner whose parent
// reaps late) has ended, and counts as dead.
func Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command's closing parenthesis.
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
