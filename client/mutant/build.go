package mutant

import (
	"context"

	"github.com/l402chaos/l402chaos/internal/gobuild"
)

// BinaryName is the file Build writes.
const BinaryName = "l402-mutant"

// Build compiles the l402-mutant command (./cmd/l402-mutant, in the
// module root) into dir and returns the binary's path. It builds once
// per directory for the life of the process, and works from any
// package's tests in this module and from a binary run in a checkout of
// it.
func Build(ctx context.Context, dir string) (string, error) {
	return gobuild.Command(ctx, "./cmd/l402-mutant", dir, BinaryName)
}
