package regtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// Aperture is Lightning Labs' L402 reverse proxy, the server L402 came
// from. The harness builds it from its Go module, as it builds lnd, and
// runs it as a program of a network: in front of a backend, with the
// payee's LND minting its invoices.

// DefaultApertureVersion is the aperture release built unless told
// otherwise: the version of aperture's l402 package this module links.
const DefaultApertureVersion = "v0.5.0"

const apertureModule = "github.com/lightninglabs/aperture"

// Environment variables for Aperture.
const (
	EnvApertureBin     = "L402CHAOS_APERTURE_BIN"     // an aperture to use instead of building one
	EnvApertureVersion = "L402CHAOS_APERTURE_VERSION" // the aperture release to build
)

// ErrAperture: Aperture did not build, start or answer. The message says
// which step, with the path of its log.
var ErrAperture = errors.New("aperture failed")

// EnsureAperture returns an aperture executable and its version,
// building it with `go build` into the cache on first use (minutes on a
// cold cache; progress is printed as for lnd). It honours
// L402CHAOS_APERTURE_BIN, L402CHAOS_APERTURE_VERSION and
// L402CHAOS_CACHE_DIR; WithCacheDir and WithProgress apply.
func EnsureAperture(ctx context.Context, opts ...BuildOption) (bin, version string, err error) {
	cfg := buildConfig{progress: os.Stderr, goBin: "go"}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	if cfg.progress == nil {
		cfg.progress = io.Discard
	}
	if b := os.Getenv(EnvApertureBin); b != "" {
		abs, err := filepathAbsExecutable(b)
		if err != nil {
			return "", "", fmt.Errorf("%w: %s: %w", ErrAperture, EnvApertureBin, err)
		}
		return abs, "(" + EnvApertureBin + ")", nil
	}
	version = DefaultApertureVersion
	if v := os.Getenv(EnvApertureVersion); v != "" {
		if !strings.HasPrefix(v, "v") {
			return "", "", fmt.Errorf("%w: %s %q: want a module version such as %s", ErrInvalidConfig, EnvApertureVersion, v, DefaultApertureVersion)
		}
		version = v
	}
	if cfg.cacheDir == "" {
		if cfg.cacheDir, err = CacheDir(); err != nil {
			return "", "", err
		}
	}
	binDir := filepath.Join(cfg.cacheDir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", "", fmt.Errorf("create binary cache: %w", err)
	}
	key := fmt.Sprintf("aperture-%s-%s_%s", version, runtime.GOOS, runtime.GOARCH)
	dir := filepath.Join(binDir, key)
	bin = filepath.Join(dir, "aperture")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return bin, version, nil
	}
	unlock, err := lockFile(ctx, dir+".lock", func() {
		fmt.Fprintf(cfg.progress, "l402chaos: waiting for another process building %s\n", key)
	})
	if err != nil {
		return "", "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		return bin, version, nil
	}
	tmp, err := os.MkdirTemp(binDir, key+".build-")
	if err != nil {
		return "", "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	if err := writeModuleFor(ctx, cfg.goBin, tmp, apertureModule, version); err != nil {
		return "", "", fmt.Errorf("%w: build: %w", ErrAperture, err)
	}
	if err := goBuild(ctx, cfg, tmp, "aperture "+version, filepath.Join(tmp, "aperture"), apertureModule+"/cmd/aperture", ""); err != nil {
		return "", "", fmt.Errorf("%w: build: %w", ErrAperture, err)
	}
	m := struct {
		Version   string    `json:"aperture_version"`
		Built     time.Time `json:"built"`
		BuildTime string    `json:"build_time"`
	}{version, time.Now().UTC(), time.Since(start).Round(time.Second).String()}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "manifest.json"), data, 0o644); err != nil {
		return "", "", fmt.Errorf("write manifest: %w", err)
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		os.Remove(filepath.Join(tmp, f))
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", "", fmt.Errorf("replace cached aperture: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", "", fmt.Errorf("install aperture into cache: %w", err)
	}
	fmt.Fprintf(cfg.progress, "l402chaos: aperture %s built in %s, cached in %s\n", version, m.BuildTime, dir)
	return bin, version, nil
}

func filepathAbsExecutable(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// ApertureService is one service Aperture sells, proxied to a backend.
type ApertureService struct {
	// Name is the service's name in Aperture's macaroons (its
	// "services" caveat).
	Name string
	// PathRegexp selects the requests of the service.
	PathRegexp string
	// Backend is the backend's host:port; Protocol "http" or "https"
	// (gRPC backends must be https: Aperture reaches them over HTTP/2,
	// which it negotiates only over TLS).
	Backend  string
	Protocol string
	// PriceSat is the token's price; TimeoutSec, when positive, a
	// validity caveat on the token.
	PriceSat   int64
	TimeoutSec int64
}

// ApertureConfig is what the harness tells Aperture; it writes the whole
// aperture.yaml from it.
type ApertureConfig struct {
	// LND is the node that mints the invoices: its RPC address, TLS
	// certificate and macaroon directory (data/chain/bitcoin/regtest).
	LNDHost, LNDTLSCert, LNDMacaroonDir string
	Services                            []ApertureService
}

var apertureServiceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate checks the configuration before anything starts: every field
// Aperture needs is set, the files it reads exist, the regular
// expressions compile.
func (c ApertureConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.LNDHost); err != nil {
		return fmt.Errorf("%w: aperture: lnd host %q: %w", ErrInvalidConfig, c.LNDHost, err)
	}
	if st, err := os.Stat(c.LNDTLSCert); err != nil || st.IsDir() {
		return fmt.Errorf("%w: aperture: lnd TLS certificate %q: not a file", ErrInvalidConfig, c.LNDTLSCert)
	}
	if _, err := os.Stat(filepath.Join(c.LNDMacaroonDir, "admin.macaroon")); err != nil {
		return fmt.Errorf("%w: aperture: lnd macaroon dir %q: no admin.macaroon", ErrInvalidConfig, c.LNDMacaroonDir)
	}
	if len(c.Services) == 0 {
		return fmt.Errorf("%w: aperture: no services", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		switch {
		case !apertureServiceName.MatchString(s.Name):
			return fmt.Errorf("%w: aperture: service name %q: want lowercase letters, digits and dashes", ErrInvalidConfig, s.Name)
		case seen[s.Name]:
			return fmt.Errorf("%w: aperture: service %s twice", ErrInvalidConfig, s.Name)
		case s.Protocol != "http" && s.Protocol != "https":
			return fmt.Errorf("%w: aperture: service %s: protocol %q: want http or https", ErrInvalidConfig, s.Name, s.Protocol)
		case s.PriceSat <= 0:
			return fmt.Errorf("%w: aperture: service %s: price must be positive", ErrInvalidConfig, s.Name)
		case s.TimeoutSec < 0:
			return fmt.Errorf("%w: aperture: service %s: negative timeout", ErrInvalidConfig, s.Name)
		}
		if _, _, err := net.SplitHostPort(s.Backend); err != nil {
			return fmt.Errorf("%w: aperture: service %s: backend %q: %w", ErrInvalidConfig, s.Name, s.Backend, err)
		}
		if _, err := regexp.Compile(s.PathRegexp); err != nil || s.PathRegexp == "" {
			return fmt.Errorf("%w: aperture: service %s: path regexp %q: %v", ErrInvalidConfig, s.Name, s.PathRegexp, err)
		}
		seen[s.Name] = true
	}
	return nil
}

// yamlString quotes s for YAML: a JSON string is a YAML double-quoted
// scalar.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// render is aperture.yaml: plain HTTP on listen, the sqlite database in
// dir, no static files, no profiling, no admin API, no hashmail.
func (c ApertureConfig) render(listen, dir string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "listenaddr: %s\n", yamlString(listen))
	fmt.Fprintf(&b, "basedir: %s\n", yamlString(dir))
	b.WriteString("insecure: true\nservestatic: false\ndebuglevel: \"debug\"\n")
	b.WriteString("authenticator:\n  network: \"regtest\"\n")
	fmt.Fprintf(&b, "  lndhost: %s\n  tlspath: %s\n  macdir: %s\n", yamlString(c.LNDHost), yamlString(c.LNDTLSCert), yamlString(c.LNDMacaroonDir))
	// The keys are aperture's field names in lower case (yaml.v2), which
	// is not always what its sample configuration says (dbfile).
	b.WriteString("dbbackend: \"sqlite\"\nsqlite:\n")
	fmt.Fprintf(&b, "  databasefilename: %s\n", yamlString(filepath.Join(dir, "aperture.db")))
	b.WriteString("services:\n")
	for _, s := range c.Services {
		fmt.Fprintf(&b, "  - name: %s\n    hostregexp: \".*\"\n    pathregexp: %s\n    address: %s\n    protocol: %s\n    price: %d\n",
			yamlString(s.Name), yamlString(s.PathRegexp), yamlString(s.Backend), yamlString(s.Protocol), s.PriceSat)
		if s.TimeoutSec > 0 {
			fmt.Fprintf(&b, "    timeout: %d\n", s.TimeoutSec)
		}
	}
	return []byte(b.String())
}

// ApertureProcess is a running Aperture.
type ApertureProcess struct {
	// Endpoint is its listener (plain HTTP/1.1 and h2c: HTTP and gRPC
	// clients alike).
	Endpoint Endpoint
	// Dir holds aperture.yaml, its database and aperture.log; it is
	// removed by Close.
	Dir     string
	Version string
	proc    Proc
}

// apertureReady bounds Aperture's start (its database migrations and its
// first calls to LND).
const apertureReady = time.Minute

// StartAperture starts Aperture as a program of n's sandbox, with cfg,
// and waits until it answers. Its files live in a directory of the run
// directory, removed by Close.
func StartAperture(ctx context.Context, n *Network, bin, version string, cfg ApertureConfig) (*ApertureProcess, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(n.Dir(), "aperture-")
	if err != nil {
		return nil, fmt.Errorf("%w: create its directory: %w", ErrAperture, err)
	}
	ep, err := n.Sandbox().Endpoint("aperture", 8081)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: allocate its port: %w", ErrAperture, err)
	}
	confPath := filepath.Join(dir, "aperture.yaml")
	if err := os.WriteFile(confPath, cfg.render(ep.Listen, dir), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: write its configuration: %w", ErrAperture, err)
	}
	logPath := filepath.Join(dir, "aperture.log")
	proc, err := n.Sandbox().Start(ctx, Spec{
		Name: "aperture", Bin: bin, Args: []string{"--configfile=" + confPath},
		Dir: dir, LogPath: logPath, Endpoints: []Endpoint{ep},
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: start (log %s): %w", ErrAperture, logPath, err)
	}
	a := &ApertureProcess{Endpoint: ep, Dir: dir, Version: version, proc: proc}
	if err := a.waitReady(ctx); err != nil {
		// One line says the step and the log; the log's last lines follow
		// (an exit error carries them already).
		msg := fmt.Errorf("%w: start (log %s): %w", ErrAperture, logPath, err)
		if !errors.Is(err, ErrExited) {
			msg = fmt.Errorf("%w\n%s", msg, LogTail(logPath, 15))
		}
		a.Close()
		return nil, msg
	}
	return a, nil
}

// waitReady waits until Aperture answers HTTP: any answer will do (a
// request for no service is a 404 of its own).
func (a *ApertureProcess) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, apertureReady)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if err := a.proc.Exited(); err != nil {
			return fmt.Errorf("it exited: %w", err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.Endpoint.Host+"/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer within %s", apertureReady)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL is Aperture's base URL.
func (a *ApertureProcess) URL() string { return "http://" + a.Endpoint.Host }

// LogPath is Aperture's log.
func (a *ApertureProcess) LogPath() string { return filepath.Join(a.Dir, "aperture.log") }

// Close stops Aperture and removes its directory: its database, its
// root keys and its configuration.
func (a *ApertureProcess) Close() error {
	var errs []error
	if a.proc != nil {
		if err := a.proc.Terminate(5 * time.Second); err != nil && !errors.Is(err, ErrExited) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, os.RemoveAll(a.Dir))
	return errors.Join(errs...)
}
