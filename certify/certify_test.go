package certify_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/harness/history"
	"github.com/l402chaos/l402chaos/scenarios"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md from the rule catalogue")

// The catalogue is consistent: unique IDs, a level, a source, checkers
// that exist, scenarios and dialects that exist, and every rule judged by
// at least one case of a full certification.
func TestRuleCatalogue(t *testing.T) {
	checkers := map[string]bool{}
	for _, c := range append(check.All(), certify.Checkers()...) {
		checkers[c.Name()] = true
	}
	scs := map[string]bool{}
	for _, sc := range scenarios.All() {
		scs[sc.Name] = true
	}
	plan, err := certify.Plan(certify.PlanConfig{Descriptor: certify.Descriptor{Adapter: 1, Name: "x", Capabilities: certify.Capabilities()}, Isolation: true})
	require.NoError(t, err)
	id := regexp.MustCompile(`^(L402-[A-Z]+|SAFE)-[0-9]{2}$`)
	seen := map[string]bool{}
	for _, r := range certify.Rules() {
		require.Regexp(t, id, r.ID)
		require.False(t, seen[r.ID], "%s twice", r.ID)
		seen[r.ID] = true
		require.Contains(t, []certify.Level{certify.Must, certify.Should, certify.Safety}, r.Level, r.ID)
		require.NotEmpty(t, r.Title, r.ID)
		require.NotEmpty(t, r.Source, r.ID)
		require.NotEmpty(t, r.Checkers, r.ID)
		for _, c := range r.Checkers {
			require.True(t, checkers[c], "%s: no checker %q", r.ID, c)
		}
		for _, s := range r.Scenarios {
			require.True(t, scs[s], "%s: no scenario %q", r.ID, s)
		}
		for _, d := range r.Dialects {
			_, err := certify.DialectByName(d)
			require.NoError(t, err, r.ID)
		}
		judged := 0
		for _, p := range plan {
			if r.AppliesTo(p.Case) {
				judged++
			}
		}
		require.NotZero(t, judged, "%s: no case of a full certification judges it", r.ID)
		got, err := certify.RuleByID(r.ID)
		require.NoError(t, err)
		require.Equal(t, r.ID, got.ID)
	}
	_, err = certify.RuleByID("NOPE-01")
	require.ErrorIs(t, err, certify.ErrUsage)
}

// docs/rules.md is the rule catalogue as generated; go test -update
// rewrites it.
func TestRulesDoc(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, certify.WriteRulesDoc(&b))
	path := filepath.Join("..", "docs", "rules.md")
	if *update {
		require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
	}
	have, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, b.String(), string(have), "docs/rules.md is stale: go test ./certify -run TestRulesDoc -update")
}

func TestPlan(t *testing.T) {
	all := certify.Descriptor{Adapter: 1, Name: "x", Capabilities: certify.Capabilities()}
	full, err := certify.Plan(certify.PlanConfig{Descriptor: all, Isolation: true})
	require.NoError(t, err)
	require.Len(t, full, len(scenarios.All())+2*(len(certify.Dialects())-1))
	for _, p := range full {
		require.Empty(t, p.Skip, p.Name())
	}
	require.Equal(t, scenarios.All()[0].Name, full[0].Name(), "the current dialect's cases keep the scenario's name")
	require.Equal(t, "token-revoked@grpc", full[len(full)-1].Name())
	require.Equal(t, []certify.Capability{certify.GRPC}, full[len(full)-1].Needs())

	// Without isolation the containers-only scenarios do not apply;
	// without POST, the POST scenarios.
	getOnly := certify.Descriptor{Adapter: 1, Name: "x", Capabilities: []certify.Capability{certify.HTTP}}
	p, err := certify.Plan(certify.PlanConfig{Descriptor: getOnly})
	require.NoError(t, err)
	skips := map[string]string{}
	for _, c := range p {
		skips[c.Name()] = c.Skip
	}
	require.Contains(t, skips["payee-isolated-while-held"], "backend")
	require.Contains(t, skips["5xx-after-processing"], `"post"`)
	require.Empty(t, skips["token-reuse@lsat"])
	require.Contains(t, skips["token-reuse@grpc"], `"grpc"`)

	// A gRPC-only client buys over gRPC in every dialect and runs the
	// whole catalogue in the gRPC dialect.
	grpcOnly := certify.Descriptor{Adapter: 1, Name: "x", Capabilities: []certify.Capability{certify.GRPC}}
	p, err = certify.Plan(certify.PlanConfig{Descriptor: grpcOnly, Isolation: true})
	require.NoError(t, err)
	require.Len(t, p, len(scenarios.All())+2*(len(certify.Dialects())-1))
	names := map[string]bool{}
	for _, c := range p {
		names[c.Name()] = true
		require.Empty(t, c.Skip, c.Name())
		require.Equal(t, []certify.Capability{certify.GRPC}, c.Needs(), c.Name())
	}
	require.True(t, names["crash-htlc-held@grpc"], "the catalogue runs in the gRPC dialect")
	require.True(t, names["token-reuse@lsat"] && names["token-revoked"], "every dialect runs its scenarios over gRPC")
	require.False(t, names["crash-htlc-held"])

	// With real Aperture the catalogue runs in its dialect; what needs the
	// fake provider's challenges or tokens does not apply.
	p, err = certify.Plan(certify.PlanConfig{Descriptor: all, Provider: certify.ProviderAperture})
	require.NoError(t, err)
	skips = map[string]string{}
	for _, c := range p {
		skips[c.Name()] = c.Skip
	}
	require.Empty(t, skips["response-lost-after-processing@aperture"])
	require.Empty(t, skips["crash-after-settlement@aperture"])
	require.Empty(t, skips["token-reuse@grpc"])
	require.Contains(t, skips["crash-htlc-held@aperture"], "hold-invoice knob")
	require.Contains(t, skips["token-revoked@aperture"], "revokes")
	require.Contains(t, skips["hash-mismatch@aperture"], "challenges")
	require.Contains(t, skips["token-reuse@lsat"], "writes its own challenges")
	require.NotContains(t, skips, "crash-htlc-held", "the current dialect's catalogue does not run")

	p, err = certify.Plan(certify.PlanConfig{Descriptor: getOnly, Cases: regexp.MustCompile(`@lsat$`)})
	require.NoError(t, err)
	require.Len(t, p, 2)
	_, err = certify.Plan(certify.PlanConfig{Descriptor: getOnly, Cases: regexp.MustCompile(`^nothing$`)})
	require.ErrorIs(t, err, certify.ErrUsage)
	_, err = certify.Plan(certify.PlanConfig{Descriptor: getOnly, Dialects: []string{"klingon"}})
	require.ErrorIs(t, err, certify.ErrUsage)
}

// caseResult makes a judged case from checker verdicts.
func caseResult(name, dialect string, covered bool, results ...check.Result) certify.CaseResult {
	run := &check.RunResult{Scenario: name, Results: results, Replay: "replay " + name}
	run.Coverage = []check.CoverageResult{{Name: "moment", Reached: covered}}
	full := name
	if dialect != certify.DialectL402 {
		full += "@" + dialect
	}
	needs := []certify.Capability{certify.HTTP}
	if strings.Contains(name, "5xx") || strings.Contains(name, "response-lost") {
		needs = append(needs, certify.Post)
	}
	return certify.CaseResult{Name: full, Scenario: name, Dialect: dialect, Needs: needs, Run: run}
}

func res(checker string, v check.Validity) check.Result {
	return check.Result{Checker: checker, Validity: v, Message: checker + " said " + v.String()}
}

func rule(rs []certify.RuleResult, id string) certify.RuleResult {
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	panic("no rule " + id)
}

func TestJudge(t *testing.T) {
	d := certify.DefaultDescriptor("x")
	cases := []certify.CaseResult{
		caseResult("token-reuse", certify.DialectL402, true, res("at-most-once", check.Valid), res("delivered", check.Valid), res("token-reuse", check.Valid)),
		caseResult("token-reuse", certify.DialectLSAT, true, res("at-most-once", check.Valid), res("delivered", check.Invalid), res("token-reuse", check.Valid)),
		caseResult("crash-htlc-held", certify.DialectL402, false, res("at-most-once", check.Valid), res("no-concurrent-payment", check.Valid), res("eventual-resolution", check.Valid)),
		caseResult("token-revoked", certify.DialectL402, true, res("at-most-once", check.Unknown), res("delivered", check.Valid)),
		{Name: "payee-isolated-while-held", Scenario: "payee-isolated-while-held", Dialect: certify.DialectL402, Skip: "not applicable on this backend"},
	}
	rs := certify.Judge(d, cases)

	hdr1 := rule(rs, "L402-HDR-01")
	require.Equal(t, certify.Pass, hdr1.Result, hdr1.Why)
	hdr3 := rule(rs, "L402-HDR-03")
	require.Equal(t, certify.Fail, hdr3.Result)
	require.Equal(t, "token-reuse@lsat", hdr3.Witness.Case)
	require.Equal(t, "replay token-reuse", hdr3.Witness.Replay)
	require.Equal(t, certify.Fail, hdr3.Dialects[certify.DialectLSAT])

	// A checker that could not judge makes the rule unknown, never a
	// pass, though other cases passed it.
	safe1 := rule(rs, "SAFE-01")
	require.Equal(t, certify.Unknown, safe1.Result)
	require.Contains(t, safe1.Why, "could not judge")
	require.Equal(t, certify.Pass, safe1.Dialects[certify.DialectLSAT])

	// A case that never reached its dangerous moment proves nothing.
	safe3 := rule(rs, "SAFE-03")
	require.Equal(t, certify.Unknown, safe3.Result)
	require.Contains(t, safe3.Why, "dangerous moment")

	// A rule about POST is judged on the cases that POST.
	post := certify.Judge(d, append(cases, caseResult("5xx-after-processing", certify.DialectL402, true, res("idempotent-side-effects", check.Valid))))
	require.Equal(t, certify.Pass, rule(post, "SAFE-07").Result, rule(post, "SAFE-07").Why)
	require.Equal(t, 1, rule(post, "SAFE-07").Cases)
	// A capability the client lacks: not applicable, never passed.
	getOnly := certify.Descriptor{Adapter: 1, Name: "x", Capabilities: []certify.Capability{certify.HTTP}}
	require.Equal(t, certify.NotApplicable, rule(certify.Judge(getOnly, cases), "SAFE-07").Result)
	// Rules no case judged are unknown.
	require.Equal(t, certify.Unknown, rule(rs, "L402-INV-02").Result)

	// L402-HDR-03 failed, but it is a SHOULD: the MUST and SAFETY rules
	// left unknown decide.
	require.Equal(t, certify.Unknown, certify.Verdict(rs))
}

func TestVerdictGates(t *testing.T) {
	rs := []certify.RuleResult{{Rule: certify.Rule{ID: "A", Level: certify.Should}, Result: certify.Fail}, {Rule: certify.Rule{ID: "B", Level: certify.Must}, Result: certify.Pass}}
	require.Equal(t, certify.Pass, certify.Verdict(rs), "a SHOULD rule does not gate")
	rs = append(rs, certify.RuleResult{Rule: certify.Rule{ID: "C", Level: certify.Safety}, Result: certify.Unknown})
	require.Equal(t, certify.Unknown, certify.Verdict(rs))
	rs = append(rs, certify.RuleResult{Rule: certify.Rule{ID: "D", Level: certify.Must}, Result: certify.Fail})
	require.Equal(t, certify.Fail, certify.Verdict(rs))
	rs = append(rs, certify.RuleResult{Rule: certify.Rule{ID: "E", Level: certify.Safety}, Result: certify.NotApplicable})
	require.Equal(t, certify.Fail, certify.Verdict(rs))
}

// An adapter error makes the case's evidence unknown, never a verdict
// against the client; a violation stands.
func TestAdapterErrorIsUnknown(t *testing.T) {
	c := caseResult("token-reuse", certify.DialectL402, true, res("at-most-once", check.Valid), res("delivered", check.Invalid), res("token-reuse", check.Valid))
	c.AdapterError, c.Attempts, c.AdapterFaults = "attempt 1 of k1: no report", 1, 1
	require.True(t, c.Unusable())
	require.Equal(t, check.Unknown, c.Verdict(), "what the client reported says nothing")
	rs := certify.Judge(certify.DefaultDescriptor("x"), []certify.CaseResult{c})
	require.Equal(t, certify.Unknown, rule(rs, "SAFE-01").Result)
	require.Contains(t, rule(rs, "SAFE-01").Why, "adapter error")
	require.Equal(t, certify.Unknown, rule(rs, "L402-HDR-01").Result, "delivered judges the client's reports")

	// The ledgers' verdicts stand whatever the client printed.
	c = caseResult("token-reuse", certify.DialectL402, true, res("at-most-once", check.Invalid), res("delivered", check.Invalid))
	c.AdapterError, c.Attempts, c.AdapterFaults = "attempt 2 of k1: no report", 2, 1
	require.False(t, c.Unusable())
	require.Equal(t, check.Invalid, c.Verdict())
	rs = certify.Judge(certify.DefaultDescriptor("x"), []certify.CaseResult{c})
	require.Equal(t, certify.Fail, rule(rs, "SAFE-01").Result)
	require.Equal(t, certify.Unknown, rule(rs, "L402-HDR-01").Result)

	// A case not run because the client said nothing usable is unknown,
	// not "not applicable".
	rs = certify.Judge(certify.DefaultDescriptor("x"), []certify.CaseResult{{Name: "token-reuse@case", Scenario: "token-reuse", Dialect: certify.DialectCase, Skip: "not run: adapter errors"}})
	require.Equal(t, certify.Unknown, rule(rs, "L402-HDR-05").Result)
}

func truth() *history.Truth {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &history.Truth{
		Started: t0,
		Plan: history.Plan{Purchases: []history.PlannedPurchase{
			{Key: "k1", Method: "GET", Path: "/data/p/k1"}, {Key: "k2", Method: "POST", Path: "/ops/p/k2"},
		}},
		Payments: []history.Payment{{Hash: "aa11", Status: history.PaymentSucceeded, Created: t0.Add(time.Second)}},
		Invoices: []history.Invoice{{Hash: "aa11", State: history.InvoiceSettled, Created: t0.Add(500 * time.Millisecond), Expiry: time.Minute}},
		Requests: []history.Request{
			{Seq: 1, Time: t0.Add(100 * time.Millisecond), Method: "GET", Purchase: "k1", Status: 402, InvoiceHash: "aa11"},
			{Seq: 2, Time: t0.Add(2 * time.Second), Method: "GET", Purchase: "k1", Status: 200, CredentialHash: "aa11", CredentialValid: true},
			{Seq: 3, Time: t0.Add(3 * time.Second), Method: "POST", Purchase: "k2", Status: 402, BodySHA256: "b0d1"},
		},
	}
}

func TestCheckers(t *testing.T) {
	for _, c := range certify.Checkers() {
		if c.Name() == "delivered" {
			continue
		}
		require.Equal(t, check.Valid, c.Check(nil, truth()).Validity, c.Name())
		require.Equal(t, check.Unknown, c.Check(nil, nil).Validity, c.Name())
	}

	tr := truth()
	tr.Requests[1].CredentialHash = "bb22"
	r := certify.PaidBeforeCredential{}.Check(nil, tr)
	require.Equal(t, check.Invalid, r.Validity)
	require.Contains(t, r.Message, "never paid")

	tr = truth()
	tr.Requests[1].Time = tr.Started.Add(500 * time.Millisecond)
	require.Equal(t, check.Invalid, certify.PaidBeforeCredential{}.Check(nil, tr).Validity, "a credential before its payment")

	tr = truth()
	tr.Requests = append(tr.Requests, history.Request{Seq: 4, Method: "GET", Purchase: "k2", Time: tr.Started.Add(4 * time.Second), BodySHA256: "b0d1"})
	r = certify.SameRequest{}.Check(nil, tr)
	require.Equal(t, check.Invalid, r.Validity)
	require.Contains(t, r.Message, "is a GET")

	tr = truth()
	tr.Requests = append(tr.Requests, history.Request{Seq: 4, Method: "POST", Purchase: "k2", Time: tr.Started.Add(4 * time.Second), BodySHA256: "ffff"})
	require.Contains(t, certify.SameRequest{}.Check(nil, tr).Message, "another body")

	tr = truth()
	tr.Invoices[0].Expiry = 100 * time.Millisecond
	require.Equal(t, check.Invalid, certify.NoExpiredPayment{}.Check(nil, tr).Validity)
	tr = truth()
	tr.Requests[0].ChallengeKnob = "expired-invoice"
	require.Equal(t, check.Invalid, certify.NoExpiredPayment{}.Check(nil, tr).Validity)

	h := history.History{
		{Index: 1, Type: history.Invoke, F: history.Purchase, Key: "k1"},
		{Index: 2, Type: history.OK, F: history.Purchase, Key: "k1"},
		{Index: 3, Type: history.Invoke, F: history.Purchase, Key: "k2"},
		{Index: 4, Type: history.Fail, F: history.Purchase, Key: "k2", Value: &history.Result{Outcome: history.Failed, Error: "no l402 challenge"}},
	}
	r = certify.Delivered{}.Check(h, truth())
	require.Equal(t, check.Invalid, r.Validity)
	require.Contains(t, r.Message, "no l402 challenge")
	h[3].Type, h[3].Value = history.OK, nil
	require.Equal(t, check.Valid, certify.Delivered{}.Check(h, truth()).Validity)

	// rechallenge-taken: the second purchase after the first delivered;
	// nothing to judge when the first was not.
	require.Equal(t, check.Valid, certify.Rechallenged{}.Check(h, truth()).Validity)
	h[3].Type, h[3].Value = history.Fail, &history.Result{Outcome: history.Failed, Error: "payment required"}
	r = certify.Rechallenged{}.Check(h, truth())
	require.Equal(t, check.Invalid, r.Validity)
	require.Contains(t, r.Message, "after its token stopped working")
	h[1].Type = history.Fail
	r = certify.Rechallenged{}.Check(h, truth())
	require.Equal(t, check.Valid, r.Validity)
	require.True(t, strings.HasPrefix(r.Message, certify.NotExercised), r.Message)
	rs := certify.Judge(certify.Descriptor{Adapter: 1, Name: "x", Capabilities: certify.Capabilities()},
		[]certify.CaseResult{caseResult("token-revoked", certify.DialectLSAT, true, check.Result{Checker: r.Checker, Validity: r.Validity, Message: r.Message})})
	require.Equal(t, certify.Unknown, rule(rs, "L402-AUTH-01").Result, "a case that never held a token does not pass L402-AUTH-01")
	require.Equal(t, 1, rule(rs, "L402-AUTH-01").NotExercised)
}

func TestDescriptor(t *testing.T) {
	d, err := certify.ParseDescriptor([]byte(`{"l402chaos_adapter":1,"name":"acme","version":"1.2","capabilities":["http","post"]}`))
	require.NoError(t, err)
	require.Equal(t, "acme", d.Name)
	require.True(t, d.Has(certify.Post))

	for in, field := range map[string]string{
		`{"name":"acme","capabilities":["http"]}`:                                   "l402chaos_adapter",
		`{"l402chaos_adapter":2,"name":"acme","capabilities":["http"]}`:             "l402chaos_adapter",
		`{"l402chaos_adapter":1,"capabilities":["http"]}`:                           "name",
		`{"l402chaos_adapter":1,"name":"acme","capabilities":[]}`:                   "capabilities",
		`{"l402chaos_adapter":1,"name":"acme","capabilities":["ftp"]}`:              "capabilities[0]",
		`{"l402chaos_adapter":1,"name":"acme","capabilities":["http","http"]}`:      "capabilities[1]",
		`{"l402chaos_adapter":1,"name":"acme","capabilities":["post"]}`:             "capabilities",
		`{"l402chaos_adapter":1,"name":"acme","capabilities":["http"],"x":1}`:       "x",
		`{"l402chaos_adapter":"1","name":"acme","capabilities":["http"]}`:           "l402chaos_adapter",
		`{"l402chaos_adapter":1,"name":" acme","capabilities":["http"]}`:            "name",
		`{"l402chaos_adapter":1,"name":"a\u0000b","capabilities":["http"]}`:         "name",
		`{"l402chaos_adapter":1,"name":"acme","version":7,"capabilities":["http"]}`: "version",
	} {
		_, err := certify.ParseDescriptor([]byte(in))
		var de *certify.DescriptorError
		require.ErrorAs(t, err, &de, in)
		require.Equal(t, field, de.Field, "%s: %v", in, err)
		require.ErrorIs(t, err, certify.ErrDescriptor)
	}
	for _, in := range []string{``, `[]`, `nul`, `{"l402chaos_adapter":1,"name":"a","capabilities":["http"]} {}`} {
		_, err := certify.ParseDescriptor([]byte(in))
		require.ErrorIs(t, err, certify.ErrDescriptor, in)
	}
}

func FuzzParseDescriptor(f *testing.F) {
	f.Add([]byte(`{"l402chaos_adapter":1,"name":"acme","version":"1.2","capabilities":["http","post"]}`))
	f.Add([]byte(`{"l402chaos_adapter":1,"name":"acme","capabilities":["post"]}`))
	f.Add([]byte(`{"outcome":"failed"}`))
	f.Add([]byte(`{"l402chaos_adapter":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := certify.ParseDescriptor(b)
		if err != nil {
			require.ErrorIs(t, err, certify.ErrDescriptor)
			require.NotEmpty(t, err.Error())
			return
		}
		// What parses validates, and reads back the same.
		require.NoError(t, d.Validate())
		out, err := json.Marshal(d)
		require.NoError(t, err)
		again, err := certify.ParseDescriptor(out)
		require.NoError(t, err)
		require.Equal(t, d, again)
	})
}

func TestCertificateFiles(t *testing.T) {
	cases := []certify.CaseResult{
		caseResult("token-reuse", certify.DialectL402, true, res("at-most-once", check.Valid), res("delivered", check.Valid)),
		caseResult("token-reuse", certify.DialectLSAT, true, res("at-most-once", check.Valid), res("delivered", check.Invalid)),
	}
	c := certify.NewCertificate(certify.Meta{
		Client: certify.ClientInfo{Name: "acme <script>", Version: "1.0", Capabilities: []certify.Capability{certify.HTTP, certify.Post}, Described: true},
		Seed:   42, Backend: "process", Started: time.Now(), ToolVersion: "test",
	}, cases)
	dir := t.TempDir()
	require.NoError(t, c.WriteDir(dir))

	back, err := certify.ReadCertificate(filepath.Join(dir, certify.FileJSON))
	require.NoError(t, err)
	require.Equal(t, c.Verdict, back.Verdict)
	require.Equal(t, len(certify.Rules()), len(back.Rules))
	require.Equal(t, int64(42), back.Seed)

	md, err := os.ReadFile(filepath.Join(dir, certify.FileMarkdown))
	require.NoError(t, err)
	require.Contains(t, string(md), "img.shields.io/badge/l402chaos-")
	require.Contains(t, string(md), "| L402-HDR-03 | SHOULD | **FAIL** |")

	page, err := os.ReadFile(filepath.Join(dir, certify.FileHTML))
	require.NoError(t, err)
	require.NotContains(t, string(page), "<script>", "the client's name is escaped")
	require.Contains(t, string(page), `id="matrix"`)

	raw, err := os.ReadFile(filepath.Join(dir, certify.FileJUnit))
	require.NoError(t, err)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(raw, &suites))
	require.Equal(t, len(certify.Rules()), suites.Tests)
	failed := 0
	for _, tc := range suites.Suites[0].Cases {
		require.Regexp(t, `^(L402|SAFE)-`, tc.Name, "test names start with the rule ID")
		if tc.Failure != nil {
			failed++
			require.True(t, strings.HasPrefix(tc.Name, "L402-HDR-03"), tc.Name)
		}
	}
	require.Equal(t, 1, failed)

	_, err = certify.ReadCertificate(filepath.Join(dir, "missing.json"))
	require.True(t, errors.Is(err, os.ErrNotExist))
}
