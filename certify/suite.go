package certify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/l402chaos/l402chaos/fakeprovider"
	"github.com/l402chaos/l402chaos/harness"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/fault"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/scenarios"
)

// Errors of certification.
var (
	// ErrUsage: bad input from the caller (a pattern, a dialect, a
	// shard).
	ErrUsage = errors.New("usage")
	// ErrDescriptor: a malformed client descriptor (see
	// DescriptorError for the field).
	ErrDescriptor = errors.New("malformed descriptor")
	// ErrAdapter: the client's command could not be used at all (it does
	// not start, or answers nothing): every rule is unknown.
	ErrAdapter = errors.New("adapter error")
)

// Case is one run of certification: a scenario in a dialect.
type Case struct {
	Scenario harness.Scenario
	Dialect  Dialect
}

// Name is the case's name: the scenario's, with "@dialect" outside the
// current dialect (token-reuse@lsat).
func (c Case) Name() string {
	if c.Dialect.Name == DialectL402 {
		return c.Scenario.Name
	}
	return c.Scenario.Name + "@" + c.Dialect.Name
}

// Needs are the capabilities the case's traffic uses.
func (c Case) Needs() []Capability {
	if c.Dialect.Transport == harness.TransportGRPC {
		return []Capability{GRPC}
	}
	needs := []Capability{HTTP}
	for _, t := range c.Scenario.Traffic {
		if t.Service == harness.ServiceOps || strings.EqualFold(t.Method, "POST") {
			needs = append(needs, Post)
			break
		}
	}
	if c.Scenario.NeedsCrashPoints {
		needs = append(needs, CrashPoints)
	}
	return needs
}

// Planned is a case with why it does not run, if it does not.
type Planned struct {
	Case
	// Skip says why the case does not apply (a capability the client
	// does not declare, a backend that cannot isolate a node); empty
	// when it runs.
	Skip string `json:"skip,omitempty"`
}

// PlanConfig says what a certification runs.
type PlanConfig struct {
	Descriptor Descriptor
	// Isolation: the backend can cut a node off as a whole (containers).
	Isolation bool
	// Cases, when set, selects cases by name; the others are left out
	// (not run, so the rules they judge may be unknown).
	Cases *regexp.Regexp
	// Dialects, when set, limits the dialects.
	Dialects []string
	// Provider is the L402 server: "" (the fake provider) or
	// ProviderAperture (real Aperture in front of the provider). Aperture
	// speaks one dialect, and mints the challenges itself: the whole
	// catalogue runs in the aperture dialect (grpc for a gRPC-only
	// client), the other dialects and the scenarios that need the fake
	// provider's challenges or tokens are not applicable.
	Provider string
}

// ProviderAperture: real Aperture sells the provider's services.
const ProviderAperture = "aperture"

// Plan lists the cases of a certification, in the order they run: the
// catalogue in the current dialect, then the dialect scenarios in each
// other dialect.
func Plan(cfg PlanConfig) ([]Planned, error) {
	for _, d := range cfg.Dialects {
		if _, err := DialectByName(d); err != nil {
			return nil, err
		}
	}
	byName := map[string]harness.Scenario{}
	for _, sc := range scenarios.All() {
		byName[sc.Name] = sc
	}
	// A client that speaks gRPC and not HTTP buys over gRPC in every
	// dialect, and runs the whole catalogue in the gRPC dialect: its
	// safety is judged on the same faults as an HTTP client's, and its
	// reading of each challenge form on the dialect scenarios.
	grpcOnly := !cfg.Descriptor.Has(HTTP) && cfg.Descriptor.Has(GRPC)
	var cases []Case
	for _, d := range Dialects() {
		if len(cfg.Dialects) > 0 && !slices.Contains(cfg.Dialects, d.Name) {
			continue
		}
		whole := d.Name == DialectL402
		if cfg.Provider == ProviderAperture {
			whole = d.Name == DialectAperture
		}
		if grpcOnly {
			whole, d.Transport = d.Name == DialectGRPC, harness.TransportGRPC
		}
		if whole {
			for _, sc := range scenarios.All() {
				cases = append(cases, Case{Scenario: sc, Dialect: d})
			}
			continue
		}
		for _, name := range dialectScenarios {
			sc, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("dialect scenario %q is not in the catalogue", name)
			}
			cases = append(cases, Case{Scenario: sc, Dialect: d})
		}
	}
	var out []Planned
	for _, c := range cases {
		if cfg.Cases != nil && !cfg.Cases.MatchString(c.Name()) {
			continue
		}
		p := Planned{Case: c}
		for _, n := range c.Needs() {
			if !cfg.Descriptor.Has(n) {
				p.Skip = fmt.Sprintf("not applicable: the client does not declare %q", n)
				break
			}
		}
		if p.Skip == "" && c.Scenario.NeedsIsolation && !cfg.Isolation {
			p.Skip = "not applicable on this backend: it isolates a node (run it with -backend containers)"
		}
		if p.Skip == "" && cfg.Provider == ProviderAperture {
			p.Skip = apertureSkip(c)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no case matches %q", ErrUsage, cfg.Cases)
	}
	return out, nil
}

// CaseResult is one case as run and judged.
type CaseResult struct {
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	Dialect  string `json:"dialect"`
	// Needs are the capabilities the case's traffic uses.
	Needs []Capability `json:"needs"`
	// Skip says why the case did not run ("not applicable: ..." when it
	// does not apply to the client or backend); Run is nil then.
	Skip string `json:"skip,omitempty"`
	// AdapterError is the first attempt of the case whose client broke
	// the adapter protocol: what went wrong.
	AdapterError string `json:"adapter_error,omitempty"`
	// Attempts counts the client's attempts; AdapterFaults those that
	// broke the adapter protocol.
	Attempts      int              `json:"attempts"`
	AdapterFaults int              `json:"adapter_faults,omitempty"`
	Run           *check.RunResult `json:"-"`
}

// Unusable reports whether the case ran and every attempt of the client
// broke the adapter protocol: it said nothing at all.
func (c CaseResult) Unusable() bool {
	return c.Run != nil && c.AdapterFaults > 0 && c.AdapterFaults == c.Attempts
}

// Verdict is the case's own verdict: the run's, Unknown on an adapter
// error without a violation.
func (c CaseResult) Verdict() check.Validity {
	if c.Run == nil {
		return check.Unknown
	}
	if c.AdapterError == "" {
		return c.Run.Verdict()
	}
	// The client's reports were garbage: only the ledgers' verdicts
	// stand.
	for _, r := range c.Run.Results {
		if r.Validity == check.Invalid && !claimBased[r.Checker] {
			return check.Invalid
		}
	}
	return check.Unknown
}

// Runner runs cases of a certification.
type Runner struct {
	runner *harness.Runner
	replay func(c string, seed int64) string
}

// NewRunner runs cases on r. replay writes the command line that reruns
// one case with a seed (nil: no replay line).
func NewRunner(r *harness.Runner, replay func(c string, seed int64) string) *Runner {
	return &Runner{runner: r, replay: replay}
}

// Run runs one planned case (a skipped one is only recorded) and judges
// it with the harness's checkers and with those of certification's own
// that a rule applying to the case needs.
func (r *Runner) Run(ctx context.Context, p Planned, seed int64) CaseResult {
	cr := CaseResult{Name: p.Name(), Scenario: p.Scenario.Name, Dialect: p.Dialect.Name, Needs: p.Needs(), Skip: p.Skip}
	if p.Skip != "" {
		return cr
	}
	sc := p.Scenario
	sc.Name = p.Name()
	sc.Network = p.Dialect.apply(sc.Network)
	sc.Traffic = p.Dialect.applyTraffic(sc.Traffic)
	run := r.runner.Run(ctx, sc, seed)
	if errors.Is(run.Err, harness.ErrNeedsKiller) {
		cr.Skip = "not applicable: the scenario crashes the client, and this client cannot be killed (an in-process client)"
		return cr
	}
	if errors.Is(run.Err, harness.ErrNeedsCrashPoints) {
		cr.Skip = "not applicable: the scenario crashes the client at a point inside it, and this client has no crash points"
		return cr
	}
	run.Scenario = cr.Name
	if r.replay != nil {
		run.Replay = r.replay(cr.Name, seed)
	}
	if run.Truth != nil {
		run.Results = append(run.Results, check.Run(run.History, run.Truth, ownCheckers(p.Case))...)
	}
	for _, e := range run.History {
		if e.F != history.Purchase || !e.Type.Completes() {
			continue
		}
		cr.Attempts++
		if e.Value != nil && e.Value.AdapterError {
			cr.AdapterFaults++
			if cr.AdapterError == "" {
				cr.AdapterError = fmt.Sprintf("attempt %d of %s: %s", e.Attempt, e.Key, e.Detail)
			}
		}
	}
	cr.Run = run
	return cr
}

// ownCheckers are certification's checkers that the rules applying to c
// need.
func ownCheckers(c Case) []check.Checker {
	need := map[string]bool{}
	for _, r := range Rules() {
		if r.AppliesTo(c) {
			for _, n := range r.Checkers {
				need[n] = true
			}
		}
	}
	var out []check.Checker
	for _, ch := range Checkers() {
		if need[ch.Name()] {
			out = append(out, ch)
		}
	}
	return out
}

// Outcome is a rule's result on a certificate.
type Outcome string

const (
	Pass          Outcome = "pass"
	Fail          Outcome = "fail"
	Unknown       Outcome = "unknown"
	NotApplicable Outcome = "not-applicable"
)

// Witness is the evidence for a failed or unknown rule: the case, the
// checker's message and the line that reruns it.
type Witness struct {
	Case    string `json:"case"`
	Checker string `json:"checker,omitempty"`
	Message string `json:"message"`
	Replay  string `json:"replay,omitempty"`
	Dir     string `json:"dir,omitempty"`
}

// RuleResult is one rule's result.
type RuleResult struct {
	Rule
	Result Outcome `json:"result"`
	// Why is one line: what passed it, or why it is not a pass.
	Why     string   `json:"why"`
	Witness *Witness `json:"witness,omitempty"`
	// Dialects is the result per dialect, for the dialects where a case
	// judged the rule.
	Dialects map[string]Outcome `json:"dialects"`
	// Cases counts the cases that judged the rule; NotExercised those
	// among them that never reached their dangerous moment (coverage).
	Cases        int `json:"cases"`
	NotExercised int `json:"not_exercised,omitempty"`
	// Unjudged: no case that judges the rule ran (a partial run left
	// them out); the result is Unknown.
	Unjudged bool `json:"unjudged,omitempty"`
}

// Judge folds the cases into a result per rule.
func Judge(d Descriptor, cases []CaseResult) []RuleResult {
	var out []RuleResult
	for _, r := range Rules() {
		out = append(out, judgeRule(r, d, cases))
	}
	return out
}

func judgeRule(r Rule, d Descriptor, cases []CaseResult) RuleResult {
	rr := RuleResult{Rule: r, Dialects: map[string]Outcome{}}
	for _, n := range r.Needs {
		if !d.Has(n) {
			rr.Result, rr.Why = NotApplicable, fmt.Sprintf("the client does not declare %q", n)
			return rr
		}
	}
	type tally struct {
		fail, unknown               *Witness
		pass, notExercised, skipped int
		skip                        string
	}
	all := &tally{}
	per := map[string]*tally{}
	var dialects []string
	for _, c := range cases {
		if !r.judges(c.Scenario, c.Dialect, c.Needs) {
			continue
		}
		t := per[c.Dialect]
		if t == nil {
			t = &tally{}
			per[c.Dialect] = t
			dialects = append(dialects, c.Dialect)
		}
		if c.Run == nil {
			for _, x := range []*tally{all, t} {
				x.skipped++
				x.skip = c.Skip
			}
			continue
		}
		rr.Cases++
		o, w := evidence(r, c)
		for _, x := range []*tally{all, t} {
			switch o {
			case Fail:
				if x.fail == nil {
					x.fail = w
				}
			case Unknown:
				if x.unknown == nil {
					x.unknown = w
				}
			case Pass:
				x.pass++
			default:
				x.notExercised++
			}
		}
	}
	fold := func(t *tally) (Outcome, string, *Witness) {
		switch {
		case t.fail != nil:
			return Fail, t.fail.Message, t.fail
		case t.unknown != nil:
			return Unknown, t.unknown.Message, t.unknown
		case t.pass > 0:
			why := fmt.Sprintf("passed in %s", plural(t.pass, "case"))
			if t.notExercised > 0 {
				why += fmt.Sprintf(" (%d more did not reach their dangerous moment)", t.notExercised)
			}
			return Pass, why, nil
		case t.notExercised > 0:
			return Unknown, fmt.Sprintf("none of its %d cases reached its dangerous moment", t.notExercised), nil
		case t.skipped > 0 && strings.HasPrefix(t.skip, "not applicable"):
			return NotApplicable, t.skip, nil
		case t.skipped > 0:
			return Unknown, t.skip, nil
		}
		return Unknown, "no case judged it (left out of this run)", nil
	}
	for _, dn := range dialects {
		rr.Dialects[dn], _, _ = fold(per[dn])
	}
	rr.Result, rr.Why, rr.Witness = fold(all)
	rr.NotExercised = all.notExercised
	rr.Unjudged = rr.Cases == 0 && all.skipped == 0
	return rr
}

// evidence is what one case says of a rule: Fail with a witness, Unknown
// with why, Pass, or "" when the case ran but never reached its
// dangerous moment.
func evidence(r Rule, c CaseResult) (Outcome, *Witness) {
	run := c.Run
	w := func(checker, msg string) *Witness {
		return &Witness{Case: c.Name, Checker: checker, Message: fmt.Sprintf("%s: %s", c.Name, msg), Replay: run.Replay, Dir: run.Dir}
	}
	var unknown *Witness
	found := false
	for _, name := range r.Checkers {
		for _, res := range run.Results {
			if res.Checker != name {
				continue
			}
			found = true
			switch res.Validity {
			case check.Invalid:
				if c.AdapterError != "" && claimBased[name] {
					// What the client reported was garbage, so a verdict
					// on its reports is no verdict on the client.
					if unknown == nil {
						unknown = w(name, "adapter error: "+c.AdapterError)
					}
					continue
				}
				return Fail, w(name, name+": "+res.Message)
			case check.Unknown:
				if unknown == nil {
					unknown = w(name, name+" could not judge: "+res.Message)
				}
			}
		}
	}
	switch {
	case run.Err != nil:
		return Unknown, w("", "harness error: "+run.Err.Error())
	case c.AdapterError != "":
		return Unknown, w("", "adapter error: "+c.AdapterError)
	case unknown != nil:
		return Unknown, unknown
	case !found:
		return Unknown, w("", "its checkers did not run")
	case !run.Covered():
		return "", nil
	}
	for _, name := range r.Checkers {
		for _, res := range run.Results {
			if res.Checker == name && res.Validity == check.Valid && strings.HasPrefix(res.Message, NotExercised) {
				return "", nil
			}
		}
	}
	return Pass, nil
}

// claimBased are the checkers that judge what the client reported (its
// outcomes), not only the ledgers: in a case where the client broke the
// adapter protocol, their violations are adapter errors, unknown. The
// others judge LND's and the provider's ledgers, whatever the client
// printed, and stand.
var claimBased = map[string]bool{
	Delivered{}.Name(): true, Rechallenged{}.Name(): true, "eventual-resolution": true, "truthful-outcome": true, "no-lost-payment": true,
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Counts tallies rule results.
type Counts struct {
	Pass          int `json:"pass"`
	Fail          int `json:"fail"`
	Unknown       int `json:"unknown"`
	NotApplicable int `json:"not_applicable"`
}

// Verdict folds the rules that gate a certification (MUST and SAFETY):
// Fail if one failed, Unknown if one is unknown, Pass otherwise.
func Verdict(rules []RuleResult) Outcome {
	v := Pass
	for _, r := range rules {
		if !r.Level.Gates() {
			continue
		}
		switch r.Result {
		case Fail:
			return Fail
		case Unknown:
			v = Unknown
		}
	}
	return v
}

// count tallies rules.
func count(rules []RuleResult) Counts {
	var c Counts
	for _, r := range rules {
		switch r.Result {
		case Pass:
			c.Pass++
		case Fail:
			c.Fail++
		case Unknown:
			c.Unknown++
		case NotApplicable:
			c.NotApplicable++
		}
	}
	return c
}

// adapterErrors lists the cases with adapter errors.
func adapterErrors(cases []CaseResult) []string {
	var out []string
	for _, c := range cases {
		if c.AdapterError != "" {
			out = append(out, c.Name+": "+c.AdapterError)
		}
	}
	return out
}

// durationOf sums the cases' run times.
func durationOf(cases []CaseResult) time.Duration {
	var d time.Duration
	for _, c := range cases {
		if c.Run != nil {
			d += c.Run.Duration
		}
	}
	return d
}

// apertureSkip says why a case does not apply with real Aperture as the
// provider, or "".
func apertureSkip(c Case) string {
	if c.Dialect.Header.Generation != fakeprovider.GenAperture {
		return "not applicable with real Aperture: it writes its own challenges (the aperture dialect)"
	}
	if c.Scenario.Network.InvoiceExpiry != 0 {
		return "not applicable with real Aperture: its invoices have an expiry of their own"
	}
	for _, f := range append(slices.Clone(c.Scenario.Setup), c.Scenario.Faults...) {
		if why := fault.FakeProviderOnly(f); why != "" {
			return "not applicable with real Aperture: " + why
		}
	}
	return ""
}
