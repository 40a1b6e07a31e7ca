package regtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApertureConfig(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "tls.cert")
	macs := filepath.Join(dir, "macaroons")
	if err := os.MkdirAll(macs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cert, filepath.Join(macs, "admin.macaroon")} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := func() ApertureConfig {
		return ApertureConfig{LNDHost: "127.0.0.1:10009", LNDTLSCert: cert, LNDMacaroonDir: macs, Services: []ApertureService{
			{Name: "data", PathRegexp: "^/data[/.]", Backend: "127.0.0.1:9", Protocol: "https", PriceSat: 100, TimeoutSec: 3600},
		}}
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	conf := string(good().render("127.0.0.1:8081", "/run/aperture-1"))
	for _, want := range []string{
		`listenaddr: "127.0.0.1:8081"`, "insecure: true", `dbbackend: "sqlite"`,
		`databasefilename: "/run/aperture-1/aperture.db"`, `lndhost: "127.0.0.1:10009"`, `network: "regtest"`,
		`pathregexp: "^/data[/.]"`, "price: 100", "timeout: 3600", `protocol: "https"`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("aperture.yaml lacks %s:\n%s", want, conf)
		}
	}
	for name, spoil := range map[string]func(*ApertureConfig){
		"no lnd host":       func(c *ApertureConfig) { c.LNDHost = "" },
		"no certificate":    func(c *ApertureConfig) { c.LNDTLSCert = filepath.Join(dir, "none") },
		"no macaroons":      func(c *ApertureConfig) { c.LNDMacaroonDir = dir },
		"no services":       func(c *ApertureConfig) { c.Services = nil },
		"a bad name":        func(c *ApertureConfig) { c.Services[0].Name = "Data Service" },
		"a name twice":      func(c *ApertureConfig) { c.Services = append(c.Services, c.Services[0]) },
		"a bad protocol":    func(c *ApertureConfig) { c.Services[0].Protocol = "grpc" },
		"a free service":    func(c *ApertureConfig) { c.Services[0].PriceSat = 0 },
		"a bad regexp":      func(c *ApertureConfig) { c.Services[0].PathRegexp = "^/data[" },
		"no backend port":   func(c *ApertureConfig) { c.Services[0].Backend = "127.0.0.1" },
		"a negative expiry": func(c *ApertureConfig) { c.Services[0].TimeoutSec = -1 },
	} {
		c := good()
		spoil(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: got %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestEnsureApertureFromEnv(t *testing.T) {
	t.Setenv(EnvApertureBin, filepath.Join(t.TempDir(), "aperture"))
	if _, _, err := EnsureAperture(context.Background()); !errors.Is(err, ErrAperture) {
		t.Fatalf("a missing %s: got %v", EnvApertureBin, err)
	}
	t.Setenv(EnvApertureBin, "")
	t.Setenv(EnvApertureVersion, "0.5.0")
	if _, _, err := EnsureAperture(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("a version without v: got %v", err)
	}
}
