package interop_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// published is what the test reads of a certificate.
type published struct {
	Seed  int64 `json:"seed"`
	Rules []struct {
		ID      string `json:"id"`
		Result  string `json:"result"`
		Witness *struct {
			Case    string `json:"case"`
			Checker string `json:"checker"`
		} `json:"witness"`
	} `json:"rules"`
}

// TestApertureInterceptorCertificate reruns, from the published
// certificate's seed, every case that witnesses a failed rule of aperture's
// l402.ClientInterceptor, and requires each of those rules to fail again,
// judged by the same checker: the certificate is measured, not assumed.
func TestApertureInterceptorCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the adapter and runs certification cases on lnd and btcd")
	}
	data, err := os.ReadFile("../docs/certificates/aperture-l402-interceptor/certificate.json")
	require.NoError(t, err)
	var cert published
	require.NoError(t, json.Unmarshal(data, &cert))
	want := map[string]string{} // rule -> checker
	var cases []string
	for _, r := range cert.Rules {
		if r.Result != "fail" {
			continue
		}
		require.NotNil(t, r.Witness, r.ID)
		want[r.ID] = r.Witness.Checker
		if !slices.Contains(cases, r.Witness.Case) {
			cases = append(cases, r.Witness.Case)
		}
	}
	require.NotEmpty(t, want, "the published certificate has findings")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	adapter, chaos := filepath.Join(dir, "aperture-l402-adapter"), filepath.Join(dir, "chaos")
	build := exec.CommandContext(ctx, "go", "build", "-o", adapter, "./cmd/aperture-l402-adapter")
	build.Dir = "aperture-interceptor"
	build.Env = append(os.Environ(), "GOWORK=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build the adapter: %s", out)
	build = exec.CommandContext(ctx, "go", "build", "-o", chaos, "./cmd/chaos")
	build.Dir = ".."
	out, err = build.CombinedOutput()
	require.NoError(t, err, "build chaos: %s", out)

	quoted := make([]string, len(cases))
	for i, c := range cases {
		quoted[i] = regexp.QuoteMeta(c)
	}
	certDir := filepath.Join(dir, "cert")
	run := exec.CommandContext(ctx, chaos, "certify", "-client-cmd", adapter, "-seed", strconv.FormatInt(cert.Seed, 10),
		"-case", "^("+strings.Join(quoted, "|")+")$", "-out", certDir)
	run.Dir = dir
	out, err = run.CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit) && exit.ExitCode() == 1, "certify exits 1 (a rule failed): %v\n%s", err, out)

	data, err = os.ReadFile(filepath.Join(certDir, "certificate.json"))
	require.NoError(t, err)
	var again published
	require.NoError(t, json.Unmarshal(data, &again))
	for _, r := range again.Rules {
		checker, ok := want[r.ID]
		if !ok {
			continue
		}
		delete(want, r.ID)
		require.Equal(t, "fail", r.Result, "%s fails again from the replay (%d cases)\n%s", r.ID, len(cases), out)
		require.Equal(t, checker, r.Witness.Checker, "%s is failed by the same checker", r.ID)
	}
	require.Empty(t, want, "rules of the published certificate missing from the rerun")
}
