package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"rafka/arrowflight"
	"rafka/config"
)

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rafka test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestFlightTLS: with a certificate, Flight serves TLS clients only.
func TestFlightTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	resolved, err := (&config.Config{Settings: config.Settings{FlightTLSCert: certFile, FlightTLSKey: keyFile}}).Resolve()
	if err != nil {
		t.Fatal(err)
	}
	tf := startFlight(t, func(c *arrowflight.Config) { c.TLS = resolved.FlightTLS })
	topic := newTopic(t, 1)
	produceDirect(t, topic, 0, "secure")

	c, err := flight.NewClientWithMiddleware(tf.addr, nil, nil,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.GetFlightInfo(context.Background(), pathDesc(topic))
	if err != nil {
		t.Fatalf("TLS client: %v", err)
	}
	_, rows, _, err := doGet(context.Background(), t, c, info.Endpoint[0].Ticket)
	if err != nil || len(rows) != 1 || string(rows[0].value) != "secure" {
		t.Fatalf("TLS read: %v %v", rows, err)
	}

	plain := dialFlight(t, tf.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := plain.GetFlightInfo(ctx, pathDesc(topic)); err == nil {
		t.Fatal("a plaintext client was served by a TLS listener")
	}
}
