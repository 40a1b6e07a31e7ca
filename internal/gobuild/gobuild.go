package gobuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/mod/modfile"
)

// ModulePath is the module whose commands Command builds.
const ModulePath = "github.com/l402chaos/l402chaos"

// ErrNoModule: the module root could be found neither from this source
// file's place nor from `go env GOMOD`.
var ErrNoModule = errors.New("not inside module " + ModulePath)

// ErrPackage: the package is not a command of this module named by a
// path relative to its root (./cmd/chaos).
var ErrPackage = errors.New("not a command of this module")

// builds remembers which binaries this process built: the package each
// path was built from.
var builds struct {
	mu   sync.Mutex
	done map[string]string
}

// Command builds the command pkg of this module (a path relative to the
// module root, such as "./cmd/chaos") as dir/name, with `go build -o
// dir/name pkg` in the module root, and returns the binary's absolute
// path. It builds once per (dir, name) for the life of the process: a
// second call returns the same path without building. Asking for a path
// already built from another package is an error.
func Command(ctx context.Context, pkg, dir, name string) (string, error) {
	clean := path.Clean(pkg)
	if !strings.HasPrefix(pkg, "./") || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("build %s: %w: %q", name, ErrPackage, pkg)
	}
	return build(ctx, "./"+clean, dir, name, nil)
}

// Static is Command for a binary that must run on an empty filesystem
// (an image FROM scratch): built with CGO_ENABLED=0, so statically
// linked. pkg is a command of this module ("./cmd/chaos") or of a module
// this one requires, by import path ("github.com/Shopify/toxiproxy/v2/cmd/server").
func Static(ctx context.Context, pkg, dir, name string) (string, error) {
	clean := path.Clean(pkg)
	switch {
	case strings.HasPrefix(pkg, "./") && clean != "." && clean != ".." && !strings.HasPrefix(clean, "../"):
		pkg = "./" + clean
	case !strings.HasPrefix(pkg, ".") && !path.IsAbs(pkg) && strings.Contains(clean, "."):
		pkg = clean
	default:
		return "", fmt.Errorf("build %s: %w: %q", name, ErrPackage, pkg)
	}
	return build(ctx, pkg, dir, name, []string{"CGO_ENABLED=0"})
}

func build(ctx context.Context, pkg, dir, name string, env []string) (string, error) {
	if name == "" || filepath.Base(name) != name {
		return "", fmt.Errorf("build %s: bad binary name %q", pkg, name)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	bin := filepath.Join(abs, name)

	builds.mu.Lock()
	defer builds.mu.Unlock()
	if built, ok := builds.done[bin]; ok {
		if built != pkg {
			return "", fmt.Errorf("build %s: %s was built from %s by this process", pkg, bin, built)
		}
		return bin, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	// go build -o of a package that is not a command writes its archive
	// there without complaint: ask first.
	out, err := goCmd(ctx, root, env, "list", "-f", "{{.Name}}", pkg)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	if out != "main" {
		return "", fmt.Errorf("build %s: %w: package %s is not a command", pkg, ErrPackage, out)
	}
	if _, err := goCmd(ctx, root, env, "build", "-o", bin, pkg); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	if builds.done == nil {
		builds.done = map[string]string{}
	}
	builds.done[bin] = pkg
	return bin, nil
}

// goCmd runs the go command in dir and returns its trimmed output.
func goCmd(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s in %s: %w: %s", args[0], dir, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// moduleRoot finds this module's root: from this source file's place
// when the source is there, else from `go env GOMOD` in the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
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
		return "", fmt.Errorf("%w: the working directory is in no module", ErrNoModule)
	}
	root := filepath.Dir(gomod)
	if !isModuleRoot(root) {
		return "", fmt.Errorf("%w: %s names another module", ErrNoModule, gomod)
	}
	return root, nil
}

// isModuleRoot: dir holds the go.mod of this module.
func isModuleRoot(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && modfile.ModulePath(data) == ModulePath
}
