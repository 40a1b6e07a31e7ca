package live

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestRecorderReconnectsPromptly stops the node behind the recorder (a
// gRPC server with a certificate of its own, standing for LND's RPC
// port), keeps calling through the recorder while it is down, as a
// client tracking its payment does, and brings it back on the same
// address: the first call after that reaches it. With gRPC's default
// backoff the recorder's connection would wait seconds before trying the
// node again and fail that call (seen as a payment whose outcome a
// restarted client could not read: payer-lnd-killed-in-flight).
func TestRecorderReconnectsPromptly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	certPath, keyPath := selfSignedFiles(t, t.TempDir())
	serve := func(ln net.Listener) *grpc.Server {
		creds, err := credentials.NewServerTLSFromFile(certPath, keyPath)
		require.NoError(t, err)
		s := grpc.NewServer(grpc.Creds(creds))
		healthpb.RegisterHealthServer(s, health.NewServer())
		go func() { _ = s.Serve(ln) }()
		return s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	node := serve(ln)
	defer func() { node.Stop() }()

	rec, err := StartRecorder(addr, certPath, keyPath, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer rec.Close()
	creds, err := credentials.NewClientTLSFromFile(certPath, "")
	require.NoError(t, err)
	conn, err := grpc.NewClient(rec.Addr(), grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	defer conn.Close()
	check := func() error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	require.NoError(t, check())

	node.Stop()
	// Six seconds of failed calls: gRPC's default backoff would by now
	// leave about four seconds between the recorder's attempts.
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		require.Error(t, check(), "calls fail while the node is down")
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err, "the node's address is free again")
	node = serve(ln)
	require.NoError(t, check(), "the first call after the node is back reaches it")
}

// selfSignedFiles writes a certificate for 127.0.0.1 and its key, as
// LND keeps its tls.cert and tls.key.
func selfSignedFiles(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
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
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certPath, keyPath = filepath.Join(dir, "tls.cert"), filepath.Join(dir, "tls.key")
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600))
	return certPath, keyPath
}
