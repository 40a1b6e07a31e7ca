package reports_test

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/l402chaos/l402chaos/harness/check"
	"github.com/l402chaos/l402chaos/internal/chromium"
	"github.com/l402chaos/l402chaos/reports"
)

// TestHTMLMatrix: the page opens with a scenario x checker matrix, the
// failing scenarios first, one cell per verdict linking to the
// scenario, the witness in its title; and it reads at a glance in a real
// browser: red, yellow and green cells where the verdicts are.
func TestHTMLMatrix(t *testing.T) {
	var runs []*check.RunResult
	for _, name := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"} {
		runs = append(runs, validRun(name))
	}
	runs = append(runs, invalidRun("zulu-invalid"), brokenRun("yankee-broken"))
	r := reports.New(runs, reports.Meta{Version: "v1", Seed: 8123})
	var buf bytes.Buffer
	require.NoError(t, reports.WriteHTML(&buf, r, nil))
	out := buf.String()

	matrix := out[strings.Index(out, `<table class="matrix">`):]
	matrix = matrix[:strings.Index(matrix, "</table>")]
	// Columns: every checker once, in order of first appearance, then
	// the coverage.
	require.Equal(t, []string{"at-most-once", "side-effects", "price-cap", reports.CaseCoverage},
		submatches(`<th class="ck">([^<]+)</th>`, matrix))
	// Rows: the invalid scenario first, then the unknown, then the valid
	// ones in the report's order.
	require.Equal(t, []string{"zulu-invalid", "yankee-broken", "alpha", "bravo", "charlie", "delta", "echo", "foxtrot"},
		submatches(`<tr><td><a href="#s\d+">([^<]+)</a>`, matrix))
	require.Contains(t, matrix, `<td class="cell c-invalid" title="at-most-once: invalid: purchase k1 paid twice: aaaaaaaa bbbbbbbb"><a href="#s6">&#10007;</a></td>`)
	require.Contains(t, matrix, `<td class="cell c-none" title="price-cap: not run"></td>`)
	require.Contains(t, matrix, `title="harness: start backend: lnd did not become ready"`)
	require.Less(t, strings.Index(out, `<table class="matrix">`), strings.Index(out, `<h2>Verdicts</h2>`), "the matrix comes first")

	dir := t.TempDir()
	page := filepath.Join(dir, reports.FileHTML)
	require.NoError(t, os.WriteFile(page, buf.Bytes(), 0o644))
	shot := filepath.Join(dir, "matrix.png")
	if keep := os.Getenv("L402CHAOS_SCREENSHOT"); keep != "" {
		shot = keep
	}
	img := chromium.Screenshot(t, page, shot, 1200, 700)
	require.Equal(t, image.Pt(1200, 700), img.Bounds().Size())
	red, yellow, green := chromium.Count(img, 0xff, 0x81, 0x82), chromium.Count(img, 0xfa, 0xe1, 0x7d), chromium.Count(img, 0xda, 0xfb, 0xe1)
	t.Logf("screenshot %s: %d red, %d yellow, %d green cell pixels", shot, red, yellow, green)
	require.Greater(t, red, 100, "an invalid cell shows in red")
	require.Greater(t, yellow, 100, "an unknown cell shows in yellow")
	require.Greater(t, green, 4*red, "valid cells show in green, many more than invalid ones")
}

func submatches(pattern, s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
