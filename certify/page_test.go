package certify_test

import (
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/internal/chromium"

	"github.com/l402chaos/l402chaos/certify"
	"github.com/l402chaos/l402chaos/harness/check"
)

// TestCertificatePageInChromium opens certificate.html in headless
// Chromium: the matrix must show, with a failed cell in the failure's
// colour (#f7b9b9) and passed cells in theirs (#d9f2df).
func TestCertificatePageInChromium(t *testing.T) {
	var cases []certify.CaseResult
	for _, d := range certify.Dialects() {
		for _, sc := range []string{"token-reuse", "token-revoked"} {
			v := check.Valid
			if d.Name == certify.DialectLSAT {
				v = check.Invalid
			}
			cases = append(cases, caseResult(sc, d.Name, true, res("at-most-once", check.Valid), res("delivered", v), res("paid-before-credential", check.Valid)))
		}
	}
	c := certify.NewCertificate(certify.Meta{Client: certify.ClientInfo{Name: "acme", Capabilities: []certify.Capability{certify.HTTP}}, Seed: 1, Backend: "process", Started: time.Now()}, cases)
	dir := t.TempDir()
	require.NoError(t, c.WriteDir(dir))
	page, err := filepath.Abs(filepath.Join(dir, certify.FileHTML))
	require.NoError(t, err)
	out := filepath.Join(dir, "certificate.png")
	if keep := os.Getenv("L402CHAOS_SCREENSHOT"); keep != "" {
		out = keep
	}
	img := chromium.Screenshot(t, page, out, 1200, 1400)
	require.Equal(t, image.Pt(1200, 1400), img.Bounds().Size())
	failed, passed := chromium.Count(img, 0xf7, 0xb9, 0xb9), chromium.Count(img, 0xd9, 0xf2, 0xdf)
	require.Greater(t, failed, 500, "a failed cell shows in red")
	require.Greater(t, passed, 20*failed/2, "passed cells show in green, many more than failed ones")
	t.Logf("screenshot %s: %d failed-cell pixels, %d passed-cell pixels", out, failed, passed)
}
