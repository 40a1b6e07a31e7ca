package adapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"
)

// modulePath is this module, whose cmd/chaos is the reference client.
const modulePath = "github.com/l402chaos/l402chaos"

// references remembers which directories hold a reference binary built
// by this process. A binary left by an earlier process is built again:
// the source may have changed since (the Go build cache makes it cheap).
var references struct {
	mu    sync.Mutex
	built map[string]bool
}

// ReferenceCommand builds the reference client (`go build -o dir/chaos
// ./cmd/chaos`, in this module's root) once per dir and process, and
// returns the command that speaks the exec adapter protocol with it:
// dir/chaos client. It works from any package's tests in this module, and
// from a binary run in a checkout of it.
func ReferenceCommand(ctx context.Context, dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	bin := filepath.Join(abs, "chaos")
	command := []string{bin, "client"}

	references.mu.Lock()
	defer references.mu.Unlock()
	if references.built[abs] {
		return command, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/chaos")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("reference client: go build in %s: %w: %s", root, err, strings.TrimSpace(out.String()))
	}
	if references.built == nil {
		references.built = map[string]bool{}
	}
	references.built[abs] = true
	return command, nil
}

// moduleRoot finds this module's root: from this source file's place
// when the source is there, else from `go env GOMOD` in the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if isModuleRoot(root) {
			return root, nil
		}
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: cannot find " + modulePath)
	}
	root := filepath.Dir(gomod)
	if !isModuleRoot(root) {
		return "", fmt.Errorf("%s is not module %s", gomod, modulePath)
	}
	return root, nil
}

func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && modfile.ModulePath(data) == modulePath
}
