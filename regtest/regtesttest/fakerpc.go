package regtesttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/macaroon.v2"

	"github.com/l402chaos/l402chaos/regtest"
)

// FakeRPC is a gRPC server standing for a node's RPC port in tests of
// what connects to one: TLS with a certificate for 127.0.0.1 and its key
// (tls.cert and tls.key, as LND keeps them), an admin.macaroon file for
// dialers that send one, and the gRPC health service. It can be stopped
// and started again on the same address, as a killed node is, or on a
// fresh port, as a node restarted on fresh ports is.
type FakeRPC struct {
	t                           testing.TB
	CertPath, KeyPath, Macaroon string
	srv                         *grpc.Server

	mu   sync.Mutex
	addr string
}

// Addr is where it listens (or listened last, while stopped).
func (f *FakeRPC) Addr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// StartFakeRPC starts a FakeRPC on a free loopback port; it is stopped
// when the test ends.
func StartFakeRPC(t testing.TB) *FakeRPC {
	t.Helper()
	dir := t.TempDir()
	f := &FakeRPC{t: t, CertPath: filepath.Join(dir, "tls.cert"), KeyPath: filepath.Join(dir, "tls.key"), Macaroon: filepath.Join(dir, "admin.macaroon")}
	writeSelfSigned(t, f.CertPath, f.KeyPath)
	mac, err := macaroon.New([]byte("fake root key"), []byte("fake"), "lnd", macaroon.LatestVersion)
	must(t, err)
	data, err := mac.MarshalBinary()
	must(t, err)
	must(t, os.WriteFile(f.Macaroon, data, 0o600))
	ln, err := listenFree()
	must(t, err)
	f.serve(ln)
	t.Cleanup(f.Stop)
	return f
}

// Stop closes the listener and every connection at once, as a kill does.
func (f *FakeRPC) Stop() {
	if f.srv != nil {
		f.srv.Stop()
		f.srv = nil
	}
}

// Check calls the health service through conn (a connection to the
// FakeRPC, or to something in front of it), bounded by 10 s.
func Check(ctx context.Context, conn grpc.ClientConnInterface) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// Outage stops f for d, calling check every 100 ms meanwhile and
// requiring each call to fail, as a client tracking its payment keeps
// calling a node that is down; f is not started again.
func (f *FakeRPC) Outage(ctx context.Context, d time.Duration, check func() error) {
	f.t.Helper()
	f.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if check() == nil {
			f.t.Fatal("a call succeeded while the node was down")
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			f.t.Fatal(ctx.Err())
		}
	}
}

// Start listens again on the same address.
func (f *FakeRPC) Start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.Addr())
	must(f.t, err)
	f.serve(ln)
}

// Move stops f and starts it again on a fresh loopback port: Addr
// changes, as a node's RPC address does when it is restarted on fresh
// ports (its old port was taken meanwhile).
func (f *FakeRPC) Move() {
	f.t.Helper()
	f.Stop()
	ln, err := listenFree()
	must(f.t, err)
	f.serve(ln)
}

// listenFree listens where regtest's nodes do: below the kernel's
// ephemeral range, so that an outgoing connection cannot take the port
// while the server is stopped.
func listenFree() (net.Listener, error) {
	addr, err := regtest.FreeAddr()
	if err != nil {
		return nil, err
	}
	return net.Listen("tcp", addr)
}

func (f *FakeRPC) serve(ln net.Listener) {
	f.mu.Lock()
	f.addr = ln.Addr().String()
	f.mu.Unlock()
	creds, err := credentials.NewServerTLSFromFile(f.CertPath, f.KeyPath)
	must(f.t, err)
	f.srv = grpc.NewServer(grpc.Creds(creds))
	healthpb.RegisterHealthServer(f.srv, health.NewServer())
	go func(s *grpc.Server) { _ = s.Serve(ln) }(f.srv)
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t testing.TB, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"l402chaos test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	must(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
