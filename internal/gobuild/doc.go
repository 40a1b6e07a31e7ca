// Package gobuild builds a command of this module once per process, for
// tests and tools that must run it as a child process: the reference
// client (./cmd/chaos, see harness/adapter.ReferenceCommand) and the
// mutants (./cmd/l402-mutant, see client/mutant.Build).
//
//	Command(ctx, "./cmd/chaos", dir, "chaos")
//	    │ (dir, name) built by this process already? ──yes──> dir/chaos
//	    └─no─> module root ──go build -o dir/chaos ./cmd/chaos──> dir/chaos
//
// The module root is found from this source file's place when the source
// is there (any package's tests, go run), else from `go env GOMOD` in the
// working directory (a binary run in a checkout); either way its go.mod
// must name this module. A binary left by an earlier process is built
// again, since the source may have changed; the Go build cache makes that
// cheap. Builds are serialised by one mutex: two callers asking for the
// same binary at once build it once.
package gobuild
