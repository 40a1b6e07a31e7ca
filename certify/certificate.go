package certify

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/reports"
)

// Certificate files, in the directory WriteDir writes.
const (
	FileJSON     = "certificate.json"
	FileMarkdown = "certificate.md"
	FileHTML     = "certificate.html"
	FileJUnit    = "certificate-junit.xml"
)

// Format is the certificate.json format version.
const Format = 1

// ClientInfo is the certified client, as it described itself.
type ClientInfo struct {
	Name         string       `json:"name"`
	Version      string       `json:"version,omitempty"`
	Command      string       `json:"command,omitempty"`
	Capabilities []Capability `json:"capabilities"`
	// Described: the client gave a descriptor; otherwise the protocol
	// v1 defaults were assumed.
	Described bool `json:"described"`
}

// Certificate is a certification's result.
type Certificate struct {
	Format      int        `json:"format"`
	Client      ClientInfo `json:"client"`
	Tool        string     `json:"tool"`
	ToolVersion string     `json:"tool_version"`
	Date        time.Time  `json:"date"`
	Seed        int64      `json:"seed"`
	Backend     string     `json:"backend"`
	// Provider is the L402 server the cases ran against: "fake" (the
	// fake provider) or "aperture" (real Aperture in front of it).
	Provider string        `json:"provider,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Verdict folds the MUST and SAFETY rules: pass certifies.
	Verdict Outcome      `json:"verdict"`
	Counts  Counts       `json:"counts"`
	Rules   []RuleResult `json:"rules"`
	// Dialects are the dialects the cases ran in, in order.
	Dialects []Dialect  `json:"dialects"`
	Cases    []CaseLine `json:"cases"`
	// AdapterErrors lists the cases where the client broke the adapter
	// protocol.
	AdapterErrors []string `json:"adapter_errors,omitempty"`
	// Partial: some cases were left out (a -case pattern), so rules they
	// judge may be unknown.
	Partial bool `json:"partial,omitempty"`
}

// CaseLine is one case on the certificate.
type CaseLine struct {
	Name         string        `json:"name"`
	Scenario     string        `json:"scenario"`
	Dialect      string        `json:"dialect"`
	Verdict      string        `json:"verdict"`
	Skip         string        `json:"skip,omitempty"`
	AdapterError string        `json:"adapter_error,omitempty"`
	Error        string        `json:"error,omitempty"`
	Duration     time.Duration `json:"duration_ns,omitempty"`
	Replay       string        `json:"replay,omitempty"`
	Dir          string        `json:"dir,omitempty"`
}

// Meta is what a certificate says besides the results.
type Meta struct {
	Client      ClientInfo
	ToolVersion string
	Seed        int64
	Backend     string
	Provider    string
	Started     time.Time
	Partial     bool
}

// NewCertificate judges the cases and makes the certificate.
func NewCertificate(m Meta, cases []CaseResult) *Certificate {
	rules := Judge(Descriptor{Adapter: DescriptorVersion, Name: m.Client.Name, Capabilities: m.Client.Capabilities}, cases)
	c := &Certificate{
		Format: Format, Client: m.Client, Tool: "l402chaos", ToolVersion: m.ToolVersion, Date: m.Started.UTC(),
		Seed: m.Seed, Backend: m.Backend, Provider: m.Provider, Duration: time.Since(m.Started).Round(time.Millisecond),
		Verdict: Verdict(rules), Counts: count(rules), Rules: rules, AdapterErrors: adapterErrors(cases), Partial: m.Partial,
	}
	if m.Started.IsZero() {
		c.Duration = durationOf(cases)
	}
	seen := map[string]bool{}
	for _, cr := range cases {
		if !seen[cr.Dialect] {
			seen[cr.Dialect] = true
			if d, err := DialectByName(cr.Dialect); err == nil {
				c.Dialects = append(c.Dialects, d)
			}
		}
		line := CaseLine{Name: cr.Name, Scenario: cr.Scenario, Dialect: cr.Dialect, Skip: cr.Skip, AdapterError: cr.AdapterError, Verdict: "not-applicable"}
		if cr.Run != nil {
			line.Verdict = cr.Verdict().String()
			line.Error, line.Duration, line.Replay, line.Dir = cr.Run.Error(), cr.Run.Duration.Round(time.Millisecond), cr.Run.Replay, cr.Run.Dir
		}
		c.Cases = append(c.Cases, line)
	}
	return c
}

// ReadCertificate reads a certificate.json.
func ReadCertificate(path string) (*Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Certificate
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Format != Format {
		return nil, fmt.Errorf("%s: certificate format %d, this version reads %d", path, c.Format, Format)
	}
	return &c, nil
}

// WriteDir writes the four outputs into dir.
func (c *Certificate) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		FileJSON: c.WriteJSON, FileMarkdown: c.WriteMarkdown, FileHTML: c.WriteHTML, FileJUnit: c.WriteJUnit,
	} {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// WriteJSON writes certificate.json.
func (c *Certificate) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// Headline is the one-line verdict.
func (c *Certificate) Headline() string {
	word := map[Outcome]string{Pass: "CERTIFIED", Fail: "NOT CERTIFIED", Unknown: "NOT JUDGED"}[c.Verdict]
	return fmt.Sprintf("%s: %s: %d rules passed, %d failed, %d unknown, %d not applicable",
		word, c.clientName(), c.Counts.Pass, c.Counts.Fail, c.Counts.Unknown, c.Counts.NotApplicable)
}

func (c *Certificate) clientName() string {
	if c.Client.Version != "" {
		return c.Client.Name + " " + c.Client.Version
	}
	return c.Client.Name
}

// Badge is a Markdown badge line for the client's README.
func (c *Certificate) Badge() string {
	label, color := "certified", "brightgreen"
	switch c.Verdict {
	case Fail:
		label, color = "not%20certified", "red"
	case Unknown:
		label, color = "not%20judged", "lightgrey"
	}
	return fmt.Sprintf("![l402chaos %s](https://img.shields.io/badge/l402chaos-%s-%s)", strings.ReplaceAll(label, "%20", " "), label, color)
}

var mark = map[Outcome]string{Pass: "pass", Fail: "**FAIL**", Unknown: "unknown", NotApplicable: "n/a"}

// WriteMarkdown writes certificate.md: a summary fit for a README.
func (c *Certificate) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", c.Badge())
	fmt.Fprintf(&b, "# l402chaos certificate: %s\n\n", c.clientName())
	fmt.Fprintf(&b, "**%s**\n\n", c.Headline())
	fmt.Fprintf(&b, "l402chaos %s, %s, seed %d, backend %s, %d cases in %s.", c.ToolVersion, c.Date.Format("2006-01-02"), c.Seed, c.Backend, len(c.Cases), c.Duration.Round(time.Second))
	if c.Provider != "" && c.Provider != "fake" {
		fmt.Fprintf(&b, " Provider: real %s.", c.Provider)
	}
	if !c.Client.Described {
		b.WriteString(" The client gave no descriptor: the adapter protocol v1 (GET and POST over HTTP) was assumed.")
	}
	if c.Partial {
		b.WriteString(" **Partial run**: some cases were left out.")
	}
	b.WriteString("\n\n| rule | level | result | |\n| --- | --- | --- | --- |\n")
	for _, r := range c.Rules {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.ID, r.Level, mark[r.Result], mdEscape(r.Title))
	}
	var bad []RuleResult
	for _, r := range c.Rules {
		if r.Result == Fail || r.Result == Unknown {
			bad = append(bad, r)
		}
	}
	if len(bad) > 0 {
		b.WriteString("\n## Findings\n")
		for _, r := range bad {
			fmt.Fprintf(&b, "\n- **%s** (%s, %s): %s\n", r.ID, r.Level, r.Result, mdEscape(r.Why))
			if r.Witness != nil && r.Witness.Replay != "" {
				fmt.Fprintf(&b, "  - replay: `%s`\n", r.Witness.Replay)
			}
		}
	}
	if len(c.AdapterErrors) > 0 {
		b.WriteString("\n## Adapter errors\n\n")
		for _, e := range c.AdapterErrors {
			fmt.Fprintf(&b, "- %s\n", mdEscape(e))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// WriteJUnit writes the rules as JUnit test cases named by their IDs: a
// failure for a failed rule (SHOULD rules included: the CI reader shows
// them), an error for an unknown one, skipped for one that does not
// apply.
func (c *Certificate) WriteJUnit(w io.Writer) error {
	s := reports.JUnitSuite{
		Name: "l402chaos certification: " + c.clientName(), Timestamp: c.Date, Time: c.Duration,
		Properties: []reports.JUnitProperty{{Name: "seed", Value: fmt.Sprint(c.Seed)}, {Name: "verdict", Value: string(c.Verdict)}, {Name: "backend", Value: c.Backend}},
	}
	for _, r := range c.Rules {
		jc := reports.JUnitCase{Classname: "l402chaos." + string(r.Level), Name: r.ID + " " + r.Title, Time: "0.000"}
		body := r.Why
		if r.Witness != nil && r.Witness.Replay != "" {
			body += "\nreplay: " + r.Witness.Replay
		}
		switch r.Result {
		case Fail:
			jc.Failure = &reports.JUnitDetail{Message: r.Why, Type: "fail", Body: body}
		case Unknown:
			jc.Error = &reports.JUnitDetail{Message: r.Why, Type: "unknown", Body: body}
		case NotApplicable:
			jc.Skipped = &reports.JUnitDetail{Message: r.Why}
		}
		s.Cases = append(s.Cases, jc)
	}
	return reports.WriteJUnitSuite(w, s)
}

//go:embed certificate.html.tmpl
var htmlSource string

var htmlPage = template.Must(template.New("certificate").Funcs(template.FuncMap{
	"cell": func(r RuleResult, dialect string) Outcome {
		if r.Result == NotApplicable {
			return NotApplicable
		}
		return r.Dialects[dialect]
	},
	"symbol": func(o Outcome) string {
		return map[Outcome]string{Pass: "✓", Fail: "✗", Unknown: "?", NotApplicable: "n/a", "": "·"}[o]
	},
	"seconds": func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
}).Parse(htmlSource))

// WriteHTML writes certificate.html: the rules against the dialects at a
// glance, then each finding with its witness and replay line.
func (c *Certificate) WriteHTML(w io.Writer) error {
	return htmlPage.Execute(w, c)
}
