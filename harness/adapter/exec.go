package adapter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l402chaos/l402chaos/client"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/history"
)

// Timeouts and bounds of an exec attempt.
const (
	// DefaultTimeout is a purchase's deadline when Purchase.Timeout is
	// zero: the reference client's own default.
	DefaultTimeout = 60 * time.Second
	// DefaultGrace is how long a client may outlive its own deadline
	// (L402_TIMEOUT_SEC) before it is killed, and how long its output
	// pipes are drained after it exits.
	DefaultGrace = 5 * time.Second
	// stdoutLimit is how much of stdout is kept: its end, where the
	// report is.
	stdoutLimit = 64 << 10
	// stderrLimit bounds an attempt's stderr log file.
	stderrLimit = 16 << 20
)

// The protocol's variables (docs/adapter-protocol.md). The client sees
// these and the inherited ones below, nothing else.
var protocolEnv = [...]string{
	"L402_URL", "L402_METHOD", "L402_BODY_FILE", "L402_IDEMPOTENCY_KEY", "L402_STATE_DIR",
	"L402_MAX_COST_SAT", "L402_TIMEOUT_SEC", "L402_CRASH_AT",
	"LND_RPCSERVER", "LND_TLSCERTPATH", "LND_MACAROONPATH", "LND_NETWORK",
}

// inheritedEnv is what the client inherits from the harness's own
// environment: enough to find programs and run `go run` (the Go
// toolchain's caches and proxy settings), and nothing that could carry
// the harness's state or secrets. ExecConfig.ExtraEnv adds more.
var inheritedEnv = [...]string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL", "TZ", "XDG_CACHE_HOME",
	"GOROOT", "GOPATH", "GOCACHE", "GOMODCACHE", "GOENV", "GOFLAGS", "GOTOOLCHAIN", "GOTMPDIR",
	"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOINSECURE", "CGO_ENABLED",
}

// envName is what a variable's name may be.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckExtraEnv checks one ExecConfig.ExtraEnv entry: NAME=value, NAME
// a variable's name and none of the protocol's own (L402_*, LND_*).
func CheckExtraEnv(kv string) error {
	name, _, ok := strings.Cut(kv, "=")
	switch {
	case !ok || name == "":
		return fmt.Errorf("extra env %q: want NAME=value", kv)
	case !envName.MatchString(name):
		return fmt.Errorf("extra env %q: %q is not a variable name", kv, name)
	case slices.Contains(protocolEnv[:], name):
		return fmt.Errorf("extra env %q: %s is a protocol variable, set by the harness", kv, name)
	}
	return nil
}

// ExecConfig is where an exec client keeps its state and which LND node it
// pays with.
type ExecConfig struct {
	// StateRoot holds one state directory per client instance,
	// StateRoot/instance-<n> (L402_STATE_DIR), and the attempts' stderr
	// logs, StateRoot/logs/instance-<n>/.
	StateRoot string `json:"state_root"`
	// The payer's LND (LND_RPCSERVER, LND_TLSCERTPATH, LND_MACAROONPATH).
	RPCServer    string `json:"rpc_server"`
	TLSCertPath  string `json:"tls_cert_path"`
	MacaroonPath string `json:"macaroon_path"`
	// ExtraEnv is added to the client's environment, NAME=value. It may
	// not set a protocol variable.
	ExtraEnv []string `json:"extra_env,omitempty"`
	// CrashPoints says the client has crash points: it dies where
	// L402_CRASH_AT names (its descriptor declares crash-points). Without
	// it, a purchase with a crash point is refused.
	CrashPoints bool `json:"crash_points,omitempty"`
}

// CrashMarker starts the stderr line of a client dying at a crash point,
// followed by the point's name (docs/adapter-protocol.md).
const CrashMarker = client.CrashMarker

// ExecOption configures an Exec.
type ExecOption func(*Exec) error

// WithDir runs the command in dir. Default: the harness's working
// directory.
func WithDir(dir string) ExecOption {
	return func(e *Exec) error {
		if dir == "" {
			return errors.New("empty dir")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("dir: %w", err)
		}
		e.dir = abs
		return nil
	}
}

// WithGrace sets how long a client may outlive its own deadline before it
// is killed. Default DefaultGrace.
func WithGrace(d time.Duration) ExecOption {
	return func(e *Exec) error {
		if d <= 0 {
			return fmt.Errorf("grace must be positive, got %s", d)
		}
		e.grace = d
		return nil
	}
}

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) ExecOption {
	return func(e *Exec) error {
		if l == nil {
			return errors.New("nil logger")
		}
		e.log = l
		return nil
	}
}

// Exec is a client under test driven through the exec adapter protocol
// v1: one run of its command per purchase attempt. It implements
// harness.Client and harness.Killer, and is safe for concurrent use:
// attempts of the same key run side by side when asked to.
type Exec struct {
	path  string // command[0], resolved
	args  []string
	root  string
	rpc   string
	cert  string
	mac   string
	base  []string // inherited environment and ExtraEnv
	dir   string
	crash bool // ExecConfig.CrashPoints
	grace time.Duration
	log   *slog.Logger

	seq atomic.Int64

	mu      sync.Mutex
	running map[string]map[*attempt]struct{}
	logs    map[string][]string
	closed  bool
}

var (
	_ harness.Client = (*Exec)(nil)
	_ harness.Killer = (*Exec)(nil)
)

// killCause is why the harness killed an attempt; the first one wins.
type killCause uint8

const (
	notKilled killCause = iota
	killedByKill
	killedByContext
	killedByTimeout
	killedByClose
)

// attempt is one running process.
type attempt struct {
	pid   int // 0 until started
	cause killCause
}

// NewExec prepares to run command (its first element is looked up in
// PATH, or taken as a path from the harness's working directory) as the
// client under test.
func NewExec(command []string, cfg ExecConfig, opts ...ExecOption) (*Exec, error) {
	if len(command) == 0 || command[0] == "" {
		return nil, errors.New("new exec adapter: empty command")
	}
	if cfg.StateRoot == "" {
		return nil, errors.New("new exec adapter: no state root")
	}
	if cfg.RPCServer == "" || cfg.TLSCertPath == "" || cfg.MacaroonPath == "" {
		return nil, errors.New("new exec adapter: the payer's RPCServer, TLSCertPath and MacaroonPath are all required")
	}
	path, err := exec.LookPath(command[0])
	if err != nil {
		return nil, fmt.Errorf("new exec adapter: command %q: %w", command[0], err)
	}
	e := &Exec{
		args: slices.Clone(command[1:]), rpc: cfg.RPCServer,
		grace: DefaultGrace, log: slog.New(slog.DiscardHandler),
		running: map[string]map[*attempt]struct{}{}, logs: map[string][]string{},
	}
	// The client may run elsewhere (WithDir): every path it is given is
	// absolute.
	for _, p := range []struct {
		dst  *string
		name string
		src  string
	}{{&e.path, "command", path}, {&e.root, "state root", cfg.StateRoot}, {&e.cert, "tls cert", cfg.TLSCertPath}, {&e.mac, "macaroon", cfg.MacaroonPath}} {
		if *p.dst, err = filepath.Abs(p.src); err != nil {
			return nil, fmt.Errorf("new exec adapter: %s: %w", p.name, err)
		}
	}
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		return nil, fmt.Errorf("new exec adapter: state root: %w", err)
	}
	for _, kv := range cfg.ExtraEnv {
		if err := CheckExtraEnv(kv); err != nil {
			return nil, fmt.Errorf("new exec adapter: %w", err)
		}
	}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, fmt.Errorf("new exec adapter: %w", err)
		}
	}
	for _, name := range inheritedEnv {
		if v, ok := os.LookupEnv(name); ok {
			e.base = append(e.base, name+"="+v)
		}
	}
	e.base = append(e.base, cfg.ExtraEnv...)
	e.crash = cfg.CrashPoints
	return e, nil
}

// StateDir is an instance's state directory (L402_STATE_DIR).
func (e *Exec) StateDir(instance int) string {
	return filepath.Join(e.root, fmt.Sprintf("instance-%d", instance))
}

// Logs lists the stderr log files of a key's attempts, oldest first.
func (e *Exec) Logs(key string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.logs[key])
}

// Running is how many attempts of key are running now.
func (e *Exec) Running(key string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.running[key])
}

// Kill sends SIGKILL to the process group of every running attempt of
// key, as a crash would, and returns how many it killed. Their Purchase
// calls return Results with Killed set and ErrKilled. An attempt still
// starting is killed as soon as it has started.
func (e *Exec) Kill(key string) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.killLocked(e.running[key], killedByKill)
}

func (e *Exec) killLocked(as map[*attempt]struct{}, cause killCause) (int, error) {
	var errs []error
	for a := range as {
		if a.cause == notKilled {
			a.cause = cause
		}
		if err := killGroup(a.pid); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("kill process group %d: %w", a.pid, err))
		}
	}
	return len(as), errors.Join(errs...)
}

// Close kills every running attempt and refuses new ones. It is
// idempotent.
func (e *Exec) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	var errs []error
	for _, as := range e.running {
		_, err := e.killLocked(as, killedByClose)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Purchase runs the client once for p and reads its report. An error
// means the attempt reported nothing usable (see ProtocolError); the
// Result then holds only the exit code and whether it was killed.
func (e *Exec) Purchase(ctx context.Context, p harness.Purchase) (history.Result, error) {
	res, err := e.purchase(ctx, p)
	if err != nil {
		return res, fmt.Errorf("purchase %.64q: %w", p.Key, err)
	}
	return res, nil
}

func (e *Exec) purchase(ctx context.Context, p harness.Purchase) (history.Result, error) {
	method, err := checkPurchase(p)
	if err != nil {
		return history.Result{}, err
	}
	if p.CrashAt != "" && !e.crash {
		return history.Result{}, fmt.Errorf("crash point %s: %w", p.CrashAt, harness.ErrNeedsCrashPoints)
	}
	if err := ctx.Err(); err != nil {
		return history.Result{}, err
	}
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// Whole seconds, rounded up: clients in any language can parse them.
	secs := max(int64(math.Ceil(timeout.Seconds())), 1)

	state := e.StateDir(p.Instance)
	logDir := filepath.Join(e.root, "logs", fmt.Sprintf("instance-%d", p.Instance))
	for _, d := range []string{state, logDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return history.Result{}, err
		}
	}
	base := filepath.Join(logDir, fmt.Sprintf("%06d-%s", e.seq.Add(1), fileSafe(p.Key)))
	bodyFile := ""
	if len(p.Body) > 0 {
		bodyFile = base + ".body"
		if err := os.WriteFile(bodyFile, p.Body, 0o600); err != nil {
			return history.Result{}, fmt.Errorf("body file: %w", err)
		}
		defer os.Remove(bodyFile)
	}
	logPath := base + ".stderr"
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return history.Result{}, fmt.Errorf("stderr log: %w", err)
	}
	stderr := &limitedFile{f: f, limit: stderrLimit}
	stdout := &tailBuffer{limit: stdoutLimit}

	a, err := e.register(p.Key, logPath)
	if err != nil {
		stderr.Close()
		os.Remove(logPath)
		return history.Result{}, err
	}
	runCtx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+e.grace)
	defer cancel()
	cmd := exec.CommandContext(runCtx, e.path, e.args...)
	cmd.Dir = e.dir
	cmd.Env = e.environ(p, method, state, bodyFile, secs)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = e.grace
	cmd.Cancel = func() error {
		cause := killedByTimeout
		if ctx.Err() != nil {
			cause = killedByContext
		}
		e.mu.Lock()
		if a.cause == notKilled {
			a.cause = cause
		}
		e.mu.Unlock()
		return killGroup(cmd.Process.Pid)
	}

	// Pdeathsig is tied to the thread that forks: keep this goroutine on
	// it until the child is reaped.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		e.finish(p.Key, a)
		stderr.Close()
		return history.Result{ExitCode: -1}, &ProtocolError{Reason: ErrNotStarted, ExitCode: -1, Log: logPath, Err: fmt.Errorf("start %s: %w", e.path, err)}
	}
	pid := cmd.Process.Pid
	e.started(a, pid)
	log := e.log.With("key", p.Key, "instance", p.Instance, "pid", pid)
	log.Debug("attempt started", "stderr", logPath)
	waitErr := cmd.Wait()
	cause := e.finish(p.Key, a)
	// Whatever the client left running in its group goes with it.
	_ = killGroup(pid)
	if err := stderr.Close(); err != nil {
		log.Warn("stderr log", "err", err)
	}
	if cmd.ProcessState == nil {
		return history.Result{}, fmt.Errorf("wait %s: %w", e.path, waitErr)
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		log.Warn("client left processes holding its output", "err", waitErr)
	}
	if p.CrashAt != "" && cause == notKilled && killedBySignal(cmd.ProcessState) && crashedAt(logPath, p.CrashAt) {
		log.Info("attempt died at its crash point", "point", p.CrashAt)
		return history.Result{ExitCode: -1, Killed: true, CrashPoint: p.CrashAt},
			&ProtocolError{Reason: ErrCrashed, ExitCode: -1, Stdout: string(stdout.Bytes()), Log: logPath, Err: fmt.Errorf("at %s", p.CrashAt)}
	}
	res, err := classify(cmd.ProcessState, cause, stdout.Bytes())
	if err != nil {
		var pe *ProtocolError
		if errors.As(err, &pe) {
			pe.Log = logPath
			switch cause {
			case killedByContext:
				pe.Err = context.Cause(ctx)
			case killedByTimeout:
				pe.Err = fmt.Errorf("still running %s after its %ds deadline", e.grace, secs)
			case killedByClose:
				pe.Err = ErrClosed
			}
		}
		log.Info("attempt without a report", "exit", res.ExitCode, "killed", res.Killed, "err", err)
		return res, err
	}
	log.Debug("attempt reported", "outcome", res.Outcome, "exit", res.ExitCode)
	return res, nil
}

// crashedAt reports whether the stderr log ends with the crash marker of
// point: the client's last words before its SIGKILL.
func crashedAt(logPath, point string) bool {
	f, err := os.Open(logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	const tail = 4096
	if st, err := f.Stat(); err == nil && st.Size() > tail {
		if _, err := f.Seek(st.Size()-tail, io.SeekStart); err != nil {
			return false
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, tail))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1] == CrashMarker+point
}

// CrashPoints reports whether the client has crash points
// (harness.CrashPointer).
func (e *Exec) CrashPoints() bool { return e.crash }

// classify turns how the process ended and its stdout into a Result, or a
// ProtocolError (without its log path and detail of a kill).
func classify(ps *os.ProcessState, cause killCause, stdout []byte) (history.Result, error) {
	res := history.Result{ExitCode: ps.ExitCode()}
	pe := &ProtocolError{ExitCode: res.ExitCode, Stdout: string(stdout)}
	// A kill that came after the client exited on its own changes
	// nothing: its report stands.
	if cause != notKilled && killedBySignal(ps) {
		pe.Reason = ErrKilled
		if cause == killedByTimeout {
			pe.Reason = ErrTimeout
		} else {
			res.Killed = true
		}
		return res, pe
	}
	rep, err := parseReport(stdout)
	if err != nil {
		var bad *ProtocolError
		if errors.As(err, &bad) {
			pe.Reason, pe.Err = bad.Reason, bad.Err
		}
		return res, pe
	}
	if want, _ := exitCodeFor(rep.Outcome); want != res.ExitCode {
		pe.Reason = ErrExitMismatch
		pe.Err = fmt.Errorf("outcome %s wants exit %d", rep.Outcome, want)
		return res, pe
	}
	return rep.result(res.ExitCode), nil
}

// checkPurchase validates p and returns its method.
func checkPurchase(p harness.Purchase) (string, error) {
	switch {
	case p.Key == "":
		return "", errors.New("empty key")
	case p.URL == "":
		return "", errors.New("empty url")
	case p.Instance < 0:
		return "", fmt.Errorf("instance %d: want 0 or more", p.Instance)
	case p.MaxCostSat < 0:
		return "", fmt.Errorf("max cost %d sat: want 0 (the client's default) or more", p.MaxCostSat)
	case p.Timeout < 0:
		return "", fmt.Errorf("timeout %s: want 0 (the default) or more", p.Timeout)
	}
	switch m := strings.ToUpper(p.Method); m {
	case "":
		return http.MethodGet, nil
	case http.MethodGet, http.MethodPost:
		return m, nil
	}
	return "", fmt.Errorf("method %q: the protocol has GET and POST", p.Method)
}

// environ is the client's whole environment: the inherited variables, the
// extra ones, and the protocol's. L402_BODY_FILE is set only with a body,
// L402_MAX_COST_SAT only with a cap (the client's default applies).
func (e *Exec) environ(p harness.Purchase, method, state, bodyFile string, secs int64) []string {
	env := slices.Clip(e.base)
	set := func(k, v string) { env = append(env, k+"="+v) }
	set("L402_URL", p.URL)
	set("L402_METHOD", method)
	if bodyFile != "" {
		set("L402_BODY_FILE", bodyFile)
	}
	set("L402_IDEMPOTENCY_KEY", p.Key)
	set("L402_STATE_DIR", state)
	if p.MaxCostSat > 0 {
		set("L402_MAX_COST_SAT", strconv.FormatInt(p.MaxCostSat, 10))
	}
	set("L402_TIMEOUT_SEC", strconv.FormatInt(secs, 10))
	if p.CrashAt != "" {
		set("L402_CRASH_AT", p.CrashAt)
	}
	set("LND_RPCSERVER", e.rpc)
	set("LND_TLSCERTPATH", e.cert)
	set("LND_MACAROONPATH", e.mac)
	set("LND_NETWORK", "regtest")
	return env
}

func (e *Exec) register(key, logPath string) (*attempt, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	a := &attempt{}
	if e.running[key] == nil {
		e.running[key] = map[*attempt]struct{}{}
	}
	e.running[key][a] = struct{}{}
	e.logs[key] = append(e.logs[key], logPath)
	return a, nil
}

// started records a's process; a kill that came while it was starting is
// carried out now.
func (e *Exec) started(a *attempt, pid int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a.pid = pid
	if a.cause != notKilled {
		_ = killGroup(pid)
	}
}

// finish forgets a (Kill no longer sees it) and returns why it was killed.
func (e *Exec) finish(key string, a *attempt) killCause {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.running[key], a)
	if len(e.running[key]) == 0 {
		delete(e.running, key)
	}
	return a.cause
}

// fileSafe turns a key into a short file name part.
func fileSafe(key string) string {
	b := []byte(key)
	if len(b) > 48 {
		b = b[:48]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
