package adapter

import (
	"context"
	"fmt"

	"github.com/l402chaos/l402chaos/internal/gobuild"
)

// ReferenceCommand builds the reference client (`go build -o dir/chaos
// ./cmd/chaos`, in this module's root) once per dir and process, and
// returns the command that speaks the exec adapter protocol with it:
// dir/chaos client. It works from any package's tests in this module, and
// from a binary run in a checkout of it. A binary left by an earlier
// process is built again: the source may have changed since (the Go
// build cache makes it cheap).
func ReferenceCommand(ctx context.Context, dir string) ([]string, error) {
	bin, err := gobuild.Command(ctx, "./cmd/chaos", dir, "chaos")
	if err != nil {
		return nil, fmt.Errorf("reference client: %w", err)
	}
	return []string{bin, "client"}, nil
}
