package certify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// DescriptorVersion is the descriptor format this package reads.
const DescriptorVersion = 1

// MaxDescriptor bounds a descriptor's size.
const MaxDescriptor = 64 << 10

// Descriptor is what a client says of itself: its name and version for
// the certificate, and what it speaks. An exec adapter prints it on
// `--describe` (docs/adapter-protocol.md), or it sits in a JSON file
// beside the command.
type Descriptor struct {
	// Adapter is the descriptor format, DescriptorVersion; its presence
	// tells a descriptor from a purchase report.
	Adapter      int          `json:"l402chaos_adapter"`
	Name         string       `json:"name"`
	Version      string       `json:"version,omitempty"`
	Capabilities []Capability `json:"capabilities"`
}

// DefaultDescriptor is what a client that describes nothing is taken to
// speak: the adapter protocol v1, GET and POST over HTTP (not gRPC).
func DefaultDescriptor(name string) Descriptor {
	return Descriptor{Adapter: DescriptorVersion, Name: name, Capabilities: []Capability{HTTP, Post}}
}

// Has reports whether the client declares c.
func (d Descriptor) Has(c Capability) bool { return slices.Contains(d.Capabilities, c) }

// DescriptorError is a malformed descriptor: the field and why.
type DescriptorError struct {
	Field string
	Why   string
}

func (e *DescriptorError) Error() string {
	if e.Field == "" {
		return "descriptor: " + e.Why
	}
	return fmt.Sprintf("descriptor: %s: %s", e.Field, e.Why)
}

// Is makes errors.Is(err, ErrDescriptor) hold.
func (e *DescriptorError) Is(target error) bool { return target == ErrDescriptor }

// ParseDescriptor reads a descriptor strictly: one JSON object, no
// unknown fields, every field checked. The error is a *DescriptorError
// naming the field.
func ParseDescriptor(b []byte) (Descriptor, error) {
	if len(b) > MaxDescriptor {
		return Descriptor{}, &DescriptorError{Why: fmt.Sprintf("%d bytes, over the %d allowed", len(b), MaxDescriptor)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Descriptor{}, &DescriptorError{Why: "not a JSON object: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d Descriptor
	if err := dec.Decode(&d); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return Descriptor{}, &DescriptorError{Field: ute.Field, Why: fmt.Sprintf("want a %s, got a JSON %s", ute.Type, ute.Value)}
		}
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Descriptor{}, &DescriptorError{Field: strings.Trim(f, `"`), Why: "unknown field"}
		}
		return Descriptor{}, &DescriptorError{Why: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Descriptor{}, &DescriptorError{Why: "more than one JSON value"}
	}
	if _, ok := raw["l402chaos_adapter"]; !ok {
		return Descriptor{}, &DescriptorError{Field: "l402chaos_adapter", Why: fmt.Sprintf("missing: want %d", DescriptorVersion)}
	}
	return d, d.Validate()
}

// Validate checks every field.
func (d Descriptor) Validate() error {
	if d.Adapter != DescriptorVersion {
		return &DescriptorError{Field: "l402chaos_adapter", Why: fmt.Sprintf("format %d: this version reads %d", d.Adapter, DescriptorVersion)}
	}
	if err := text("name", d.Name, true); err != nil {
		return err
	}
	if err := text("version", d.Version, false); err != nil {
		return err
	}
	if len(d.Capabilities) == 0 {
		return &DescriptorError{Field: "capabilities", Why: fmt.Sprintf("empty: declare at least one of %s", capabilityList())}
	}
	seen := map[Capability]bool{}
	for i, c := range d.Capabilities {
		if !slices.Contains(Capabilities(), c) {
			return &DescriptorError{Field: fmt.Sprintf("capabilities[%d]", i), Why: fmt.Sprintf("unknown capability %q (want one of %s)", c, capabilityList())}
		}
		if seen[c] {
			return &DescriptorError{Field: fmt.Sprintf("capabilities[%d]", i), Why: fmt.Sprintf("%q twice", c)}
		}
		seen[c] = true
	}
	if seen[Post] && !seen[HTTP] {
		return &DescriptorError{Field: "capabilities", Why: fmt.Sprintf("%q needs %q", Post, HTTP)}
	}
	return nil
}

// text checks a short printable field.
func text(field, s string, required bool) error {
	switch {
	case s == "" && required:
		return &DescriptorError{Field: field, Why: "empty"}
	case len(s) > 100:
		return &DescriptorError{Field: field, Why: fmt.Sprintf("%d bytes, over 100", len(s))}
	case strings.TrimSpace(s) != s:
		return &DescriptorError{Field: field, Why: "leading or trailing blanks"}
	case strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }):
		return &DescriptorError{Field: field, Why: "unprintable characters"}
	}
	return nil
}

func capabilityList() string {
	var s []string
	for _, c := range Capabilities() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}
