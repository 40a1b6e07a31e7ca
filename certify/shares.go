package certify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/reports"
)

// FileShare is what one share of a sharded certification (chaos
// certify -shard K/N) writes instead of a certificate: its cases, as run
// and judged, for MergeShares to join into the certificate. A share
// alone certifies nothing.
const FileShare = "share.json"

// Share is one share of a sharded certification.
type Share struct {
	Format      int        `json:"format"`
	Client      ClientInfo `json:"client"`
	ToolVersion string     `json:"tool_version"`
	Seed        int64      `json:"seed"`
	Backend     string     `json:"backend"`
	Provider    string     `json:"provider,omitempty"`
	Started     time.Time  `json:"started"`
	// Partial: the selection itself is part of the suite (-case,
	// -dialect), or the share was interrupted.
	Partial bool `json:"partial,omitempty"`
	Index   int  `json:"index"`
	Count   int  `json:"count"`
	// Selection names every case of the plan, in order: every share
	// lists the same.
	Selection []string      `json:"selection"`
	Cases     []SharedCase  `json:"cases"`
	Duration  time.Duration `json:"duration_ns"`
}

// SharedCase is a case with its run as results.json records runs.
type SharedCase struct {
	CaseResult
	Run *reports.RunReport `json:"run,omitempty"`
}

// NewShare records cases run as share index/count of selection.
func NewShare(m Meta, index, count int, selection []string, cases []CaseResult) Share {
	s := Share{
		Format: Format, Client: m.Client, ToolVersion: m.ToolVersion, Seed: m.Seed, Backend: m.Backend, Provider: m.Provider,
		Started: m.Started.UTC(), Partial: m.Partial, Index: index, Count: count, Selection: selection,
		Duration: time.Since(m.Started).Round(time.Millisecond),
	}
	for _, c := range cases {
		sc := SharedCase{CaseResult: c}
		if c.Run != nil {
			r := reports.New([]*check.RunResult{c.Run}, reports.Meta{})
			sc.Run = &r.Runs[0]
		}
		s.Cases = append(s.Cases, sc)
	}
	return s
}

// WriteShare writes s as dir/share.json (the cases' records are already
// under dir/cases).
func (s Share) WriteShare(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return history.WriteAtomic(filepath.Join(dir, FileShare), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
}

// IsShare reports whether dir holds a certification share.
func IsShare(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, FileShare))
	return err == nil
}

func readShare(dir string) (Share, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileShare))
	if err != nil {
		return Share{}, err
	}
	var s Share
	if err := json.Unmarshal(b, &s); err != nil {
		return Share{}, fmt.Errorf("%s: %w", filepath.Join(dir, FileShare), err)
	}
	if s.Format != Format {
		return Share{}, fmt.Errorf("%s: share format %d, this version reads %d", dir, s.Format, Format)
	}
	return s, nil
}

// MergeShares joins the N shares of one sharded certification into its
// certificate, written to out with every case's record under out/cases.
// It refuses, as reports.MergeDirs does (its errors), unless the
// directories are exactly the N shares of one certification: each share
// once, each case of the selection exactly once, the same client,
// version, seed, backend, provider and selection.
func MergeShares(out string, dirs []string) (*Certificate, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no directories", reports.ErrShardMissing)
	}
	shares := make([]Share, len(dirs))
	for i, d := range dirs {
		if abs(d) == abs(out) {
			return nil, fmt.Errorf("%w: the output %s is also an input", reports.ErrShardMismatch, out)
		}
		s, err := readShare(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", reports.ErrShardMissing, d, err)
		}
		shares[i] = s
	}
	first := shares[0]
	placed := make([]reports.Share, len(shares))
	for i, s := range shares {
		placed[i] = reports.Share{Dir: dirs[i], Index: s.Index, Count: s.Count, Same: []reports.Field{
			{Name: "client", Value: s.Client.Name + " " + s.Client.Version + " " + s.Client.Command},
			{Name: "tool version", Value: s.ToolVersion}, {Name: "seed", Value: fmt.Sprint(s.Seed)},
			{Name: "backend", Value: s.Backend}, {Name: "provider", Value: s.Provider},
			{Name: "selection", Value: strings.Join(s.Selection, ",")},
		}}
	}
	if _, err := reports.CheckShares(placed); err != nil {
		return nil, err
	}
	type located struct {
		c   SharedCase
		dir string
	}
	byName := map[string]located{}
	partial := false
	var started time.Time
	var longest time.Duration
	for i, s := range shares {
		partial = partial || s.Partial
		if started.IsZero() || s.Started.Before(started) {
			started = s.Started
		}
		longest = max(longest, s.Started.Add(s.Duration).Sub(started))
		for _, c := range s.Cases {
			if !slices.Contains(first.Selection, c.Name) {
				return nil, fmt.Errorf("%w: %s ran %s, which the selection does not hold", reports.ErrShardMismatch, dirs[i], c.Name)
			}
			if prev, dup := byName[c.Name]; dup {
				return nil, fmt.Errorf("%w: %s ran in both %s and %s", reports.ErrShardDuplicate, c.Name, prev.dir, dirs[i])
			}
			byName[c.Name] = located{c, dirs[i]}
		}
	}
	for _, name := range first.Selection {
		if _, ok := byName[name]; !ok {
			return nil, fmt.Errorf("%w: no share ran %s (was one interrupted?)", reports.ErrShardMissing, name)
		}
	}
	var cases []CaseResult
	for _, name := range first.Selection {
		l := byName[name]
		cr := l.c.CaseResult
		if rr := l.c.Run; rr != nil {
			run := &check.RunResult{
				Scenario: rr.Scenario, Description: rr.Description, Seed: rr.Seed, Replay: rr.Replay, Client: rr.Client,
				Started: rr.Started, Duration: rr.Duration, Coverage: rr.Coverage, Results: rr.Results,
			}
			if rr.Error != "" {
				run.Err = errors.New(rr.Error)
			}
			src := filepath.Join(l.dir, "cases", filepath.Base(rr.Dir))
			if rr.Dir != "" && history.IsRecord(src) {
				dst := filepath.Join(out, "cases", filepath.Base(rr.Dir))
				if err := history.CopyDir(src, dst); err != nil {
					return nil, fmt.Errorf("merge: %s: %w", name, err)
				}
				run.Dir = dst
			}
			cr.Run = run
		}
		cases = append(cases, cr)
	}
	cert := NewCertificate(Meta{
		Client: first.Client, ToolVersion: first.ToolVersion, Seed: first.Seed, Backend: first.Backend, Provider: first.Provider,
		Started: started, Partial: partial,
	}, cases)
	// The certification's span is its longest share's, not now minus
	// the first start.
	cert.Duration = longest.Round(time.Millisecond)
	if err := cert.WriteDir(out); err != nil {
		return nil, err
	}
	return cert, nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
