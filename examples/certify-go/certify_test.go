package acme_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/certify/certifytest"
)

// TestCertify certifies acme-adapter from this module's own go test: the
// dialect scenarios in every dialect and the catalogue's token cases
// (CERTIFY_CASES selects others; CERTIFY_OUT keeps the certificate).
func TestCertify(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "acme-adapter")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/acme-adapter").CombinedOutput()
	if err != nil {
		t.Fatalf("build the adapter: %v: %s", err, out)
	}
	described, err := certify.Describe(ctx, []string{bin}, "")
	if err != nil || !described.FromClient {
		t.Fatalf("describe: %v %+v", err, described)
	}
	cases := os.Getenv("CERTIFY_CASES")
	if cases == "" {
		cases = `^token-(reuse|revoked)`
	}
	opts := []certifytest.Option{certifytest.WithDescriptor(described.Descriptor), certifytest.WithCases(cases)}
	if dir := os.Getenv("CERTIFY_OUT"); dir != "" {
		opts = append(opts, certifytest.WithOut(dir))
	}
	cert := certifytest.Run(t, certifytest.Exec(bin), opts...)
	if cert == nil {
		return // a -run filter left cases out
	}
	for _, r := range cert.Rules {
		if r.Result == certify.Fail {
			t.Errorf("%s failed: %s", r.ID, r.Why)
		}
	}
	t.Log(cert.Headline())
}
