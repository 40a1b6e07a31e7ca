package containers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/docker/docker/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/l402chaos/l402chaos/regtest"
)

// ErrNoEngine: no Docker engine answered. The message says where it was
// looked for and that the process backend needs none.
var ErrNoEngine = errors.New("no Docker engine reachable")

// pingTimeout bounds the first question to the engine.
const pingTimeout = 10 * time.Second

// Engine is a connection to the Docker engine, made through
// testcontainers-go's client (API version negotiated: this works with
// engines from API 1.41 on).
type Engine struct {
	cli *testcontainers.DockerClient
	api string
}

var setupOnce sync.Once

// setup makes the process's environment what testcontainers-go needs
// here: no Ryuk (its image cannot be pulled; this package cleans up by
// label instead) and a Docker configuration of its own, empty, so that no
// credential helper of the user's runs. testcontainers-go reads both once,
// from the environment, on first use.
func setup() {
	setupOnce.Do(func() {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		// An empty client configuration of our own, in the cache beside
		// the binaries and images it serves (the temp dir without one).
		base, err := regtest.CacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir := filepath.Join(base, "docker-config")
		if os.MkdirAll(dir, 0o700) == nil {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600)
			os.Setenv("DOCKER_CONFIG", dir)
		}
		tclog.SetDefault(quiet{})
	})
}

// quiet drops testcontainers-go's log lines: progress is this package's
// to report.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// Connect finds the Docker engine (DOCKER_HOST, else the default socket)
// and checks that it answers. Without one the error is ErrNoEngine, and
// says what was tried.
func Connect(ctx context.Context) (*Engine, error) {
	setup()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = client.DefaultDockerHost
	}
	// testcontainers-go panics when it finds no engine: ask first with
	// the plain client.
	plain, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w (the process backend needs no Docker: -backend process)", ErrNoEngine, host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := plain.Ping(pctx)
	plain.Close()
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w (the process backend needs no Docker: -backend process)", ErrNoEngine, host, err)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrNoEngine, host, err)
	}
	return &Engine{cli: cli, api: ping.APIVersion}, nil
}

// APIVersion is the engine's API version.
func (e *Engine) APIVersion() string { return e.api }

// Client is the Docker client.
func (e *Engine) Client() *testcontainers.DockerClient { return e.cli }

// Close closes the connection.
func (e *Engine) Close() error { return e.cli.Close() }
