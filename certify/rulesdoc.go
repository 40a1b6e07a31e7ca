package certify

import (
	"fmt"
	"io"
	"strings"

	"github.com/l402chaos/l402chaos/client"
)

// WriteRulesDoc writes docs/rules.md: the rule catalogue, the dialects
// and the capabilities, generated from the tables (TestRulesDoc keeps the
// file in step).
func WriteRulesDoc(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Certification rules\n\n")
	b.WriteString("<!-- Generated from certify.Rules() by `go test ./certify -run TestRulesDoc -update`; do not edit. -->\n\n")
	b.WriteString("`chaos certify` judges a client against these rules and writes a certificate. IDs are stable: a rule\n")
	b.WriteString("that changes meaning gets a new ID. Levels: **MUST** (the L402 protocol requires it), **SHOULD**\n")
	b.WriteString("(recommended; reported, does not fail the certificate) and **SAFETY** (this project's at-most-once\n")
	b.WriteString("rules, judged against LND's ledgers). A client is certified when every MUST and SAFETY rule passes.\n\n")
	b.WriteString("A rule's result: **pass** (every case that judged it passed, and at least one reached its dangerous\n")
	b.WriteString("moment), **fail** (a case broke it: the witness and the replay line say where), **unknown** (the\n")
	b.WriteString("harness could not judge: an adapter error, a harness error, a checker that could not see, no case\n")
	b.WriteString("reached its dangerous moment; never a verdict against the client) or **not applicable** (the client\n")
	b.WriteString("does not declare the capability the rule is about).\n\n")
	b.WriteString("| ID | level | requirement | judged by | cases | source |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range Rules() {
		cases := "every case"
		switch {
		case len(r.Scenarios) > 0 && len(r.Dialects) > 0:
			cases = strings.Join(r.Scenarios, ", ") + " in " + strings.Join(r.Dialects, ", ")
		case len(r.Scenarios) > 0:
			cases = strings.Join(r.Scenarios, ", ") + " (every dialect they run in)"
		case len(r.Dialects) > 0:
			cases = "every case in " + strings.Join(r.Dialects, ", ")
		}
		if len(r.Needs) > 0 {
			var needs []string
			for _, n := range r.Needs {
				needs = append(needs, string(n))
			}
			cases += "; the cases using " + strings.Join(needs, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Level, r.Title, "`"+strings.Join(r.Checkers, "`, `")+"`", cases, r.Source)
	}
	b.WriteString("\n## Dialects\n\nA correct L402 server may speak any of these. Certification runs the whole scenario catalogue in\n")
	fmt.Fprintf(&b, "the current dialect (`%s`) and the dialect scenarios (%s) in every other; a case is named\n", DialectL402, strings.Join(dialectScenarios, ", "))
	b.WriteString("`scenario@dialect` outside the current one. A client that speaks gRPC and not HTTP buys over gRPC in\n")
	fmt.Fprintf(&b, "every dialect and runs the whole catalogue in `%s` instead, so its safety is judged on the same\nfaults as an HTTP client's.\n\n", DialectGRPC)
	b.WriteString("| dialect | what the server does |\n| --- | --- |\n")
	for _, d := range Dialects() {
		fmt.Fprintf(&b, "| `%s` | %s |\n", d.Name, strings.ReplaceAll(d.Title, "|", `\|`))
	}
	b.WriteString("\n## Capabilities\n\nA client declares what it speaks in its descriptor (`--describe`, see docs/adapter-protocol.md).\n")
	b.WriteString("A case whose traffic needs a capability the client lacks does not run, and a rule about it is not\n")
	b.WriteString("applicable: never passed.\n\n| capability | meaning |\n| --- | --- |\n")
	b.WriteString("| `http` | buys over HTTP(S) with GET: the adapter protocol v1 purchase |\n")
	b.WriteString("| `post` | buys with POST, a body and an Idempotency-Key (the paid operations with side effects) |\n")
	b.WriteString("| `grpc` | buys with unary gRPC calls: `L402_URL` is `grpc://host:port/package.Service/Method` (plaintext), the challenge comes as status Internal \"payment required\" with the WWW-Authenticate trailer, the credential goes in the `authorization` metadata |\n")
	b.WriteString("| `crash-points` | dies where `L402_CRASH_AT` says: at that named point of its critical section it writes `" + client.CrashMarker + "<point>` to stderr and sends itself SIGKILL (the `crash-at-*` cases; the reference client does it with gofail failpoints) |\n")
	b.WriteString("\n## Checkers of certification\n\nBesides the harness's ten checkers (docs in harness/check), certification judges with its own:\n\n")
	for _, c := range Checkers() {
		fmt.Fprintf(&b, "- `%s`\n", c.Name())
	}
	_, err := io.WriteString(w, b.String())
	return err
}
