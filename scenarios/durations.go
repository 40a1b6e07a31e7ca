package scenarios

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// durationsJSON is each scripted scenario's duration, in seconds, as a
// serial `chaos run` of the reference client on the process backend
// measured it (two cores). Refresh it from a run's report with
// `chaos report durations DIR > scenarios/durations.json`.
//
//go:embed durations.json
var durationsJSON []byte

// defaultExpected is the expectation of a scenario the table lacks.
const defaultExpected = 15 * time.Second

var durations = sync.OnceValues(func() (map[string]float64, error) {
	var m map[string]float64
	if err := json.Unmarshal(durationsJSON, &m); err != nil {
		return nil, fmt.Errorf("scenarios/durations.json: %w", err)
	}
	return m, nil
})

// Expected is how long scenario name is expected to take on the process
// backend, from the measured table: what -shard balances its shares by,
// and the order -parallel starts them in (longest first). A name the
// table lacks (a dialect variant: token-reuse@lsat) takes its
// scenario's; an unknown one a default.
func Expected(name string) time.Duration {
	if d, ok := Measured(name); ok {
		return d
	}
	return defaultExpected
}

// Measured is the table's duration of scenario name (or of a case's
// scenario), and whether the table has one.
func Measured(name string) (time.Duration, bool) {
	m, err := durations()
	if err != nil {
		return 0, false
	}
	for _, n := range []string{name, baseName(name)} {
		if secs, ok := m[n]; ok && secs > 0 {
			return time.Duration(secs * float64(time.Second)), true
		}
	}
	return 0, false
}

// baseName is a case's scenario: token-reuse@lsat is token-reuse.
func baseName(name string) string {
	for i := range len(name) {
		if name[i] == '@' {
			return name[:i]
		}
	}
	return name
}

// DurationsTable renders measured durations as durations.json: the
// scenarios of the catalogue in its order, each with its seconds
// (rounded to 0.1 s), the others dropped.
func DurationsTable(measured map[string]time.Duration) ([]byte, error) {
	names := make([]string, 0, len(measured))
	for _, sc := range All() {
		if _, ok := measured[sc.Name]; ok {
			names = append(names, sc.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no scenario of the catalogue among the %d measured", len(measured))
	}
	var b []byte
	b = append(b, "{\n"...)
	for i, n := range names {
		secs := float64(measured[n].Round(100*time.Millisecond)) / float64(time.Second)
		line := fmt.Sprintf("  %q: %.1f", n, secs)
		if i < len(names)-1 {
			line += ","
		}
		b = append(b, line+"\n"...)
	}
	b = append(b, "}\n"...)
	if !json.Valid(b) || slices.Contains(names, "") {
		return nil, fmt.Errorf("durations table: not valid JSON")
	}
	return b, nil
}
