package certify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// DescribeTimeout bounds a client's answer to --describe.
const DescribeTimeout = 15 * time.Second

// EnvDescribe is set (to 1) in the environment of the --describe probe,
// so that an adapter can tell it from a purchase.
const EnvDescribe = "L402_DESCRIBE"

// Described is what Describe learnt of a client.
type Described struct {
	Descriptor Descriptor
	// FromClient: the client gave a descriptor; otherwise the adapter
	// protocol v1 defaults stand.
	FromClient bool
	// Note says, when it did not, why the defaults stand.
	Note string
}

// Describe asks an exec adapter what it speaks: the descriptor file when
// one is given (file), otherwise the command run once with --describe
// (and L402_DESCRIBE=1). An adapter that does not know --describe (the
// protocol v1) gets the defaults, with a note why. A malformed descriptor
// is an ErrDescriptor naming the field; a command that cannot be started
// at all is an ErrAdapter.
func Describe(ctx context.Context, command []string, file string) (Described, error) {
	if len(command) == 0 {
		return Described{}, fmt.Errorf("%w: empty command", ErrAdapter)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return Described{}, fmt.Errorf("%w: %w", ErrDescriptor, err)
		}
		d, err := ParseDescriptor(b)
		if err != nil {
			return Described{}, fmt.Errorf("%s: %w", file, err)
		}
		return Described{Descriptor: d, FromClient: true}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, DescribeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, command[0], append(command[1:], "--describe")...)
	cmd.Env = append(os.Environ(), EnvDescribe+"=1")
	cmd.WaitDelay = 2 * time.Second
	var out limited
	cmd.Stdout = &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return Described{}, fmt.Errorf("%w: %s: %w", ErrAdapter, command[0], err)
	}
	line := lastLine(out.String())
	var probe map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &probe) == nil {
		if _, ok := probe["l402chaos_adapter"]; ok {
			d, derr := ParseDescriptor([]byte(line))
			if derr != nil {
				return Described{}, fmt.Errorf("%s --describe: %w", command[0], derr)
			}
			return Described{Descriptor: d, FromClient: true}, nil
		}
	}
	why := "printed no descriptor"
	switch {
	case ctx.Err() != nil:
		why = "did not answer within " + DescribeTimeout.String()
	case err != nil:
		why = fmt.Sprintf("exited %d and printed no descriptor", exitErr.ExitCode())
	}
	return Described{Descriptor: DefaultDescriptor(""), Note: fmt.Sprintf("%s --describe %s: adapter protocol v1 assumed (GET and POST over HTTP)", command[0], why)}, nil
}

// limited keeps the first MaxDescriptor bytes written to it.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if room := MaxDescriptor - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
