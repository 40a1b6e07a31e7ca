package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Secrets a run directory must never hold, found by their shape:
var (
	// hex64 finds hashes and preimages alike; a preimage is told by its
	// hash appearing in the same directory (the truth's payments).
	hex64 = regexp.MustCompile(`\b[0-9a-fA-F]{64}\b`)
	// macaroonB64 is a v2 macaroon in base64 (it starts 0x02 0x01): an
	// L402 token or an LND macaroon.
	macaroonB64 = regexp.MustCompile(`AgE[A-Za-z0-9+/_-]{40,}`)
	// macaroonHex is an LND macaroon in hex (0x02 0x01 0x03 "lnd").
	macaroonHex = regexp.MustCompile(`(?i)0201036c6e64[0-9a-f]{20,}`)
)

// secretsIn lists what looks like a secret in the files under dir: a
// preimage (a 64-hex string whose SHA-256 is another 64-hex string of the
// directory) or a macaroon, by file.
func secretsIn(t *testing.T, dir string) []string {
	t.Helper()
	files := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files[path] = b
		return err
	}))
	seen := map[string]bool{}
	for _, b := range files {
		for _, m := range hex64.FindAll(b, -1) {
			seen[strings.ToLower(string(m))] = true
		}
	}
	var found []string
	for path, b := range files {
		rel, _ := filepath.Rel(dir, path)
		for _, m := range hex64.FindAll(b, -1) {
			raw, _ := hex.DecodeString(string(m))
			sum := sha256.Sum256(raw)
			if seen[hex.EncodeToString(sum[:])] {
				found = append(found, rel+": preimage "+string(m[:8])+"...")
			}
		}
		for _, re := range []*regexp.Regexp{macaroonB64, macaroonHex} {
			if m := re.Find(b); m != nil {
				found = append(found, rel+": macaroon "+string(m[:12])+"...")
			}
		}
	}
	return found
}

// TestSecretsInSpotsWhatItLooksFor keeps the scan honest: a preimage
// beside its hash, and a macaroon, are found.
func TestSecretsInSpotsWhatItLooksFor(t *testing.T) {
	dir := t.TempDir()
	pre := bytes.Repeat([]byte{7}, 32)
	sum := sha256.Sum256(pre)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "truth.json"), []byte(`{"hash":"`+hex.EncodeToString(sum[:])+`"}`), 0o600))
	require.Empty(t, secretsIn(t, dir))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leak.log"), []byte("preimage="+hex.EncodeToString(pre)+" mac=AgEDbG5kAvgBAwoQ"+strings.Repeat("x", 40)), 0o600))
	require.Len(t, secretsIn(t, dir), 2)
}

// TestRunDirHoldsNoSecrets runs scenarios that pay, reuse a token, have
// it revoked, and crash the client with its preimage and token in hand,
// then scans every file of the run directory (reports, histories,
// truths, the client's logs) for preimages and macaroons.
func TestRunDirHoldsNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs scenarios on regtest networks")
	}
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"run", "-seed", "5",
		"-scenario", "^(token-revoked|crash-at-settled|crash-at-credential-sent|5xx-after-processing)$",
		"-parallel", "2", "-reports", dir}, &out, &errOut)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	runs, err := filepath.Glob(filepath.Join(dir, "*", "history.jsonl"))
	require.NoError(t, err)
	require.Len(t, runs, 4)
	logs, err := filepath.Glob(filepath.Join(dir, "*", "client-logs", "*", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, logs, "the client's logs are part of the run directory")
	require.Empty(t, secretsIn(t, dir))
}
