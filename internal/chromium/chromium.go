// Package chromium opens a page in headless Chromium and screenshots it,
// for the tests that check the pages people look at (the soak page, the
// certificate). Without Chromium on PATH the test is skipped, unless
// L402CHAOS_REQUIRE_CHROMIUM is set (CI sets it), which makes it a
// failure.
package chromium

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// EnvRequire makes a missing Chromium a failure instead of a skip.
const EnvRequire = "L402CHAOS_REQUIRE_CHROMIUM"

// Screenshot opens page (an absolute path) in a width x height window,
// writes the screenshot to out and returns it decoded.
func Screenshot(t testing.TB, page, out string, width, height int) image.Image {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv(EnvRequire) != "" {
			t.Fatal(EnvRequire + " is set and neither chromium nor chromium-browser is on PATH")
		}
		t.Skip("no chromium on PATH (set " + EnvRequire + " to make this a failure)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--hide-scrollbars", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--screenshot="+out, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height), "file://"+page)
	cmd.WaitDelay = 5 * time.Second // its helpers may hold the pipes
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v: %s", err, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("no screenshot; chromium said: %s", stderr.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", out, err)
	}
	return img
}

// Count is how many pixels of img have exactly the colour r, g, b
// (8 bits each): how much of a page shows in that colour.
func Count(img image.Image, r, g, b uint32) int {
	n := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if pr>>8 == r && pg>>8 == g && pb>>8 == b {
				n++
			}
		}
	}
	return n
}
