package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/l402chaos/l402chaos"

// pkg is what go list says of one package of the module: its direct
// imports and every package it depends on, test files excluded.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func load(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	return pkgs
}

// rule: package From must not depend (directly or not) on anything whose
// path starts with one of Not; or, with Only, must import of this module
// nothing but Only.
type rule struct {
	from string
	not  []string // forbidden dependency prefixes, anywhere below
	only []string // the module's packages it may import directly; nil: any
	why  string
}

var rules = []rule{
	{from: "fakeprovider", not: []string{module + "/regtest", module + "/harness"},
		why: "the standalone provider runs on any LND: it must not link the regtest network or the harness"},
	{from: "client", not: []string{module + "/harness", module + "/regtest", module + "/fakeprovider"},
		why: "the reference client is a library for any L402 server"},
	{from: "harness/sim", not: []string{"github.com/Shopify/toxiproxy", module + "/harness/live"},
		why: "the simulator models the network: no toxiproxy, no live backend"},
	{from: "harness/history", only: []string{},
		why: "history is the leaf: the standard library only"},
	{from: "harness/check", only: []string{"harness/history"},
		why: "checkers read a history and a truth, nothing else of the harness"},
	{from: "reports", only: []string{"harness/history", "harness/check"},
		why: "reports render a run record; they do not know the runner"},
	{from: "harness", not: []string{"github.com/Shopify/toxiproxy", "github.com/lightningnetwork/lnd", module + "/regtest"},
		why: "the run loop and its seams never import toxiproxy, lnd or the network"},
	{from: "regtest", not: []string{"github.com/testcontainers", "github.com/docker/docker", module + "/regtest/containers"},
		why: "the process backend needs no Docker: only regtest/containers links a Docker client"},
	{from: "harness/live", not: []string{"github.com/testcontainers", "github.com/docker/docker", module + "/regtest/containers"},
		why: "the live backend runs on any regtest.Runtime; the CLI and the tests choose containers"},
	{from: "harness/metrics", only: []string{"harness/history", "harness/check"},
		why: "metrics count what a driver tells them and read /proc; they do not know the harness"},
	{from: "harness/soak", not: []string{module + "/harness/live", "github.com/Shopify/toxiproxy"},
		why: "the soak is a driver of the run loop on any harness.Environment; the CLI chooses the backend"},
	{from: "harness/property", not: []string{module + "/internal/rapidflags", module + "/harness/live"},
		why: "library code runs rapid under the process's settings and never sets them; the property does not know the live tier"},
}

func TestArrowsPointDown(t *testing.T) {
	pkgs := load(t)
	for _, r := range rules {
		p, ok := pkgs[r.from]
		if !ok {
			t.Errorf("rule for %s: no such package", r.from)
			continue
		}
		for _, d := range p.Deps {
			for _, n := range r.not {
				if d == n || strings.HasPrefix(d, n+"/") {
					t.Errorf("%s depends on %s (through its imports %v): %s", r.from, d, p.Imports, r.why)
				}
			}
		}
		if r.only == nil {
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if rel := strings.TrimPrefix(imp, module+"/"); !slices.Contains(r.only, rel) {
				t.Errorf("%s imports %s: %s", r.from, rel, r.why)
			}
		}
	}
}
