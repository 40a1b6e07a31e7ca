package regtest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/mod/modfile"
)

// DefaultLNDVersion is the lnd release the network runs unless told
// otherwise. It is the lnd version in this module's go.mod, so the node
// and the lnrpc/routerrpc/invoicesrpc clients speak the same protocol.
const DefaultLNDVersion = "v0.20.2-beta"

// LNDTags are the build tags lnd is built with: the sub-servers the
// harness drives (invoicesrpc for hold invoices, routerrpc for payments),
// integration for fast wallet scrypt and dev for the --dev.* flags.
var LNDTags = []string{"dev", "integration", "invoicesrpc", "routerrpc", "walletrpc", "signrpc", "chainrpc", "peersrpc"}

// Environment variables that select binaries without code changes.
const (
	EnvLNDBin     = "L402CHAOS_LND_BIN"     // path of an lnd to use instead of building one
	EnvBtcdBin    = "L402CHAOS_BTCD_BIN"    // path of a btcd to use instead of building one
	EnvLNDVersion = "L402CHAOS_LND_VERSION" // lnd release to build, e.g. v0.20.1-beta
	EnvCacheDir   = "L402CHAOS_CACHE_DIR"   // where built binaries and snapshots are kept
)

const (
	lndModule  = "github.com/lightningnetwork/lnd"
	btcdModule = "github.com/btcsuite/btcd"
)

// Binaries names the executables a network runs.
type Binaries struct {
	LND         string `json:"lnd"`
	Btcd        string `json:"btcd"`
	LNDVersion  string `json:"lnd_version"`
	BtcdVersion string `json:"btcd_version"`
}

// identity is what snapshots are keyed by: a snapshot made by one lnd build
// must not be opened by another.
func (b Binaries) identity() string {
	return fileIdentity(b.LND) + "/" + fileIdentity(b.Btcd)
}

func fileIdentity(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s:%d:%d", path, st.Size(), st.ModTime().UnixNano())
}

type buildConfig struct {
	lndVersion string
	lndBin     string
	btcdBin    string
	cacheDir   string
	progress   io.Writer
	goBin      string
}

// BuildOption adjusts EnsureBinaries.
type BuildOption func(*buildConfig) error

// WithLNDVersion selects the lnd release to build (a module version such as
// v0.20.1-beta). btcd is built at the version that release pins.
func WithLNDVersion(v string) BuildOption {
	return func(c *buildConfig) error {
		if !strings.HasPrefix(v, "v") {
			return fmt.Errorf("lnd version %q: want a module version such as %s", v, DefaultLNDVersion)
		}
		c.lndVersion = v
		return nil
	}
}

// WithLNDBinary uses an existing lnd instead of building one. It must have
// been built with at least the invoicesrpc and routerrpc tags.
func WithLNDBinary(path string) BuildOption {
	return func(c *buildConfig) error { c.lndBin = path; return nil }
}

// WithBtcdBinary uses an existing btcd instead of building one.
func WithBtcdBinary(path string) BuildOption {
	return func(c *buildConfig) error { c.btcdBin = path; return nil }
}

// WithCacheDir sets where built binaries are kept.
func WithCacheDir(dir string) BuildOption {
	return func(c *buildConfig) error { c.cacheDir = dir; return nil }
}

// WithProgress sets where build progress is written (default stderr);
// nil silences it.
func WithProgress(w io.Writer) BuildOption {
	return func(c *buildConfig) error { c.progress = w; return nil }
}

// CacheDir is where binaries and snapshots are kept: $L402CHAOS_CACHE_DIR,
// or l402chaos under the user cache directory.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache dir (set %s): %w", EnvCacheDir, err)
	}
	return filepath.Join(base, "l402chaos"), nil
}

// EnsureBinaries returns lnd and btcd executables, building them with
// `go build` into the cache on first use. Without options it honours
// L402CHAOS_LND_BIN, L402CHAOS_BTCD_BIN, L402CHAOS_LND_VERSION and
// L402CHAOS_CACHE_DIR; options override the environment.
func EnsureBinaries(ctx context.Context, opts ...BuildOption) (Binaries, error) {
	cfg := buildConfig{
		lndVersion: DefaultLNDVersion,
		lndBin:     os.Getenv(EnvLNDBin),
		btcdBin:    os.Getenv(EnvBtcdBin),
		progress:   os.Stderr,
		goBin:      "go",
	}
	if v := os.Getenv(EnvLNDVersion); v != "" {
		if err := WithLNDVersion(v)(&cfg); err != nil {
			return Binaries{}, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, EnvLNDVersion, err)
		}
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return Binaries{}, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.progress == nil {
		cfg.progress = io.Discard
	}
	if cfg.cacheDir == "" {
		d, err := CacheDir()
		if err != nil {
			return Binaries{}, err
		}
		cfg.cacheDir = d
	}

	var bins Binaries
	if cfg.lndBin == "" || cfg.btcdBin == "" {
		built, err := buildCached(ctx, cfg)
		if err != nil {
			return Binaries{}, err
		}
		bins = built
	}
	if cfg.lndBin != "" {
		v, err := binaryVersion(ctx, cfg.lndBin)
		if err != nil {
			return Binaries{}, fmt.Errorf("lnd binary: %w", err)
		}
		bins.LND, bins.LNDVersion = cfg.lndBin, v
	}
	if cfg.btcdBin != "" {
		v, err := binaryVersion(ctx, cfg.btcdBin)
		if err != nil {
			return Binaries{}, fmt.Errorf("btcd binary: %w", err)
		}
		bins.Btcd, bins.BtcdVersion = cfg.btcdBin, v
	}
	return bins, nil
}

// binaryVersion runs `bin --version`, which both lnd and btcd answer, to
// check that the path is an executable of the right kind.
func binaryVersion(ctx context.Context, bin string) (string, error) {
	abs, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%s: %w", bin, err)
	}
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, abs, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", abs, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// manifest is written next to cached binaries.
type manifest struct {
	LNDVersion  string    `json:"lnd_version"`
	BtcdVersion string    `json:"btcd_version"`
	Tags        []string  `json:"tags"`
	GoVersion   string    `json:"go_version"`
	Built       time.Time `json:"built"`
	BuildTime   string    `json:"build_time"`
}

func cacheKey(version string) string {
	sum := sha256.Sum256([]byte(strings.Join(LNDTags, ",")))
	return fmt.Sprintf("lnd-%s-%s_%s-%s", version, runtime.GOOS, runtime.GOARCH, hex.EncodeToString(sum[:4]))
}

func buildCached(ctx context.Context, cfg buildConfig) (Binaries, error) {
	binDir := filepath.Join(cfg.cacheDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("create binary cache: %w", err)
	}
	key := cacheKey(cfg.lndVersion)
	dir := filepath.Join(binDir, key)
	if b, err := readCached(dir); err == nil {
		return b, nil
	}

	unlock, err := lockFile(ctx, dir+".lock", func() {
		fmt.Fprintf(cfg.progress, "l402chaos: waiting for another process building %s\n", key)
	})
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if b, err := readCached(dir); err == nil {
		return b, nil // built by the process we waited for
	}

	tmp, err := os.MkdirTemp(binDir, key+".build-")
	if err != nil {
		return Binaries{}, fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	start := time.Now()
	if err := writeBuildModule(ctx, cfg, tmp); err != nil {
		return Binaries{}, err
	}
	tags := strings.Join(LNDTags, ",")
	if err := goBuild(ctx, cfg, tmp, "lnd "+cfg.lndVersion, filepath.Join(tmp, "lnd"), lndModule+"/cmd/lnd", tags); err != nil {
		return Binaries{}, err
	}
	btcdVersion, err := goListVersion(ctx, cfg, tmp, btcdModule)
	if err != nil {
		return Binaries{}, err
	}
	if err := goBuild(ctx, cfg, tmp, "btcd "+btcdVersion, filepath.Join(tmp, "btcd"), btcdModule, ""); err != nil {
		return Binaries{}, err
	}
	goVersion, _ := exec.CommandContext(ctx, cfg.goBin, "env", "GOVERSION").Output()
	m := manifest{
		LNDVersion:  cfg.lndVersion,
		BtcdVersion: btcdVersion,
		Tags:        LNDTags,
		GoVersion:   strings.TrimSpace(string(goVersion)),
		Built:       time.Now().UTC(),
		BuildTime:   time.Since(start).Round(time.Second).String(),
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o644); err != nil {
		return Binaries{}, fmt.Errorf("write manifest: %w", err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		os.Remove(filepath.Join(tmp, f))
	}
	if err := os.RemoveAll(dir); err != nil { // a broken earlier build
		return Binaries{}, fmt.Errorf("replace cached binaries: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return Binaries{}, fmt.Errorf("install binaries into cache: %w", err)
	}
	fmt.Fprintf(cfg.progress, "l402chaos: lnd %s and btcd %s built in %s, cached in %s\n",
		cfg.lndVersion, btcdVersion, m.BuildTime, dir)
	return readCached(dir)
}

func readCached(dir string) (Binaries, error) {
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return Binaries{}, err
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Binaries{}, fmt.Errorf("read %s: %w", dir, err)
	}
	b := Binaries{
		LND: filepath.Join(dir, "lnd"), Btcd: filepath.Join(dir, "btcd"),
		LNDVersion: m.LNDVersion, BtcdVersion: m.BtcdVersion,
	}
	for _, p := range []string{b.LND, b.Btcd} {
		if _, err := os.Stat(p); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// writeBuildModule writes a throwaway module that requires the chosen lnd
// release with the replace directives of that release's own go.mod; lnd
// does not build without them, which is why `go install lnd@v` fails.
func writeBuildModule(ctx context.Context, cfg buildConfig, dir string) error {
	return writeModuleFor(ctx, cfg.goBin, dir, lndModule, cfg.lndVersion)
}

// writeModuleFor writes a throwaway module in dir that requires module at
// version with the replace directives of that version's own go.mod.
func writeModuleFor(ctx context.Context, goBin, dir, module, version string) error {
	name := path.Base(module)
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", module+"@"+version)
	cmd.Dir = dir
	cmd.Env = buildEnv()
	out, err := cmd.Output()
	var info struct{ GoMod, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Error != "" || info.GoMod == "" {
		return fmt.Errorf("download %s %s: %w %s", name, version, err, info.Error)
	}
	modData, err := os.ReadFile(info.GoMod)
	if err != nil {
		return fmt.Errorf("read %s's go.mod: %w", name, err)
	}
	src, err := modfile.Parse("go.mod", modData, nil)
	if err != nil {
		return fmt.Errorf("parse %s %s go.mod: %w", name, version, err)
	}
	f := &modfile.File{}
	if err := f.AddModuleStmt("l402chaos.local/build"); err != nil {
		return err
	}
	if src.Go != nil {
		if err := f.AddGoStmt(src.Go.Version); err != nil {
			return err
		}
	}
	if err := f.AddRequire(module, version); err != nil {
		return err
	}
	for _, r := range src.Replace {
		if r.New.Version == "" {
			return fmt.Errorf("%s %s replaces %s with a local path; build it yourself and pass its binary", name, version, r.Old.Path)
		}
		if err := f.AddReplace(r.Old.Path, r.Old.Version, r.New.Path, r.New.Version); err != nil {
			return err
		}
	}
	data, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "go.mod"), data, 0o644)
}

func buildEnv() []string {
	return append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
}

func goListVersion(ctx context.Context, cfg buildConfig, dir, module string) (string, error) {
	cmd := exec.CommandContext(ctx, cfg.goBin, "list", "-m", "-f", "{{.Version}}", module)
	cmd.Dir = dir
	cmd.Env = buildEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("resolve %s version: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goBuild runs `go build -v` and reports which binary is building, how long
// it has run and how many packages it has compiled.
func goBuild(ctx context.Context, cfg buildConfig, dir, what, out, pkg, tags string) error {
	args := []string{"build", "-v", "-trimpath", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, cfg.goBin, args...)
	cmd.Dir = dir
	cmd.Env = buildEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	fmt.Fprintf(cfg.progress, "l402chaos: building %s (cold builds take minutes; cached afterwards)\n", what)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("build %s: %w", what, err)
	}
	var compiled atomic.Int64
	var other strings.Builder
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			// -v prints one import path per compiled package.
			if !strings.ContainsAny(line, " \t:") {
				compiled.Add(1)
				continue
			}
			if other.Len() < 64<<10 {
				other.WriteString(line + "\n")
			}
		}
	}()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	waitDone := make(chan error, 1)
	go func() { <-scanDone; waitDone <- cmd.Wait() }()
	for {
		select {
		case err := <-waitDone:
			if err != nil {
				return fmt.Errorf("build %s: %w\n%s", what, err, other.String())
			}
			fmt.Fprintf(cfg.progress, "l402chaos: built %s in %s (%d packages)\n",
				what, time.Since(start).Round(time.Second), compiled.Load())
			return nil
		case <-tick.C:
			fmt.Fprintf(cfg.progress, "l402chaos: building %s: %s elapsed, %d packages compiled\n",
				what, time.Since(start).Round(time.Second), compiled.Load())
		}
	}
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait. waiting is called once if the lock is held by someone else.
// The returned function releases the lock and closes the file.
func lockFile(ctx context.Context, path string, waiting func()) (func(), error) {
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))
	ok, err := fl.TryLock()
	if err == nil && !ok {
		if waiting != nil {
			waiting()
		}
		ok, err = fl.TryLockContext(ctx, 200*time.Millisecond)
	}
	if ok {
		return func() { _ = fl.Unlock() }, nil
	}
	// flock has closed the file: a try that fails leaves nothing open.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err == nil {
		err = ctx.Err()
	}
	return nil, fmt.Errorf("lock %s: %w", path, err)
}
