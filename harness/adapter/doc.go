// Package adapter holds the harness.Client implementations: Exec drives
// any client through the exec adapter protocol v1
// (docs/adapter-protocol.md), InProcess calls the reference client
// library directly, and ReferenceCommand builds the reference client
// (`chaos client`) so that it is certified through the same exec path as
// third-party clients.
//
// # Exec: one process per purchase attempt
//
//	Purchase ──env──> command (own process group) ──stdout──> last line ──> Result
//	   │                 │  └──stderr──> StateRoot/logs/instance-<n>/<seq>-<key>.stderr
//	   │                 │
//	Kill(key) ──SIGKILL──┘  (every running attempt of the key, whole group)
//	ctx end, or L402_TIMEOUT_SEC + grace ──SIGKILL──┘
//
// The process sees exactly the protocol's variables (L402_*, LND_*,
// LND_NETWORK=regtest) on top of a small inherited set: PATH, HOME, USER,
// LOGNAME, TMPDIR, the locale and time zone, XDG_CACHE_HOME and the Go
// toolchain's variables (GOROOT, GOPATH, GOCACHE, GOMODCACHE, GOFLAGS,
// GOPROXY and friends), so that a command such as `go run ./cmd/chaos
// client` finds its compiler and caches. Nothing else of the harness's
// environment leaks in: a stray L402_URL or a credential in the harness's
// shell cannot change what the client does. ExecConfig.ExtraEnv adds
// variables, never protocol ones.
//
// L402_TIMEOUT_SEC is whole seconds, rounded up, so that clients in any
// language can parse it; L402_MAX_COST_SAT is left unset when the
// purchase has no cap (the client's default applies); L402_BODY_FILE is
// set only with a body, written to a file removed after the attempt.
//
// The state directory of instance n is StateRoot/instance-<n> and belongs
// to the client alone; stderr logs are kept beside it, under
// StateRoot/logs/, rather than inside it, so a client may treat its state
// directory as it likes. Stderr is capped at 16 MiB per attempt; of
// stdout only the last 64 KiB are kept, which must hold the report line.
//
// The report is the last non-empty line of stdout, one JSON object whose
// outcome is delivered, failed or unknown, with the matching exit code (0,
// 1, 2). Anything else returns the Result with what is known (ExitCode,
// Killed) and a *ProtocolError whose Reason is ErrNoReport, ErrBadReport,
// ErrExitMismatch, ErrKilled or ErrTimeout: the runner records the
// attempt as Info, may have happened. Result.Killed is set when the
// harness killed the process on purpose (Kill, the purchase's context
// ending, Close), not when the client outlived its own deadline
// (ErrTimeout). A kill that lands after the client exited changes
// nothing: its report stands.
//
// Each attempt is its own process group, killed whole (a shell's
// children, or the binary `go run` starts, die with it); on Linux the
// kernel also kills the client if the harness dies (Pdeathsig). Attempts
// of the same key run concurrently when the runner asks for it: two
// processes of one instance share a state directory, and serialising
// them is the client's job.
//
// # InProcess
//
// One client.Store and one LND connection per instance, opened on first
// use; a client.Client per purchase over them, so each purchase gets its
// own price cap (client options are per client; the journal, token cache
// and budget live in the store and are shared). Each purchase runs the
// attempt `chaos client` runs (client.AdapterAttempt: Recover, then Do),
// its outcome is mapped by client.ReportFor, the report `chaos client`
// prints, and that report is read into a history.Result field by field
// as the exec path reads the JSON line: both paths judge the reference
// client alike. It has no process to kill and is no harness.Killer.
package adapter
