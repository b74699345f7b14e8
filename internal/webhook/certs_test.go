package webhook

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pemPair is a self-signed serving certificate and its key, PEM-encoded.
type pemPair struct {
	cert, key []byte
	der       []byte
}

func newPair(t *testing.T, cn string) pemPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{cn},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemPair{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		der:  der,
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// watchedPair writes a fresh pair to a temporary folder and returns a
// watcher for it that has not loaded yet.
func watchedPair(t *testing.T) (*CertWatcher, pemPair) {
	t.Helper()
	dir := t.TempDir()
	p := newPair(t, "irsa.test")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, p.cert)
	writeFile(t, keyFile, p.key)
	return NewCertWatcher(certFile, keyFile, slog.New(slog.DiscardHandler), nil), p
}

// loads records the onLoad calls of a watcher.
type loads struct{ results []error }

func (l *loads) record(err error) { l.results = append(l.results, err) }

func (l *loads) count() (ok, failed int) {
	for _, err := range l.results {
		if err == nil {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

func servedDER(t *testing.T, w *CertWatcher) []byte {
	t.Helper()
	c, err := w.GetCertificate(&tls.ClientHelloInfo{ServerName: "irsa.test"})
	if err != nil {
		t.Fatalf("GetCertificate: %v", err)
	}
	return c.Certificate[0]
}

func TestCertWatcherReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	var l loads
	w := NewCertWatcher(certFile, keyFile, slog.New(slog.DiscardHandler), l.record)

	if w.Loaded() {
		t.Fatal("Loaded before any Reload")
	}
	if _, err := w.GetCertificate(nil); !errors.Is(err, errNoCertificate) {
		t.Fatalf("GetCertificate before load: %v, want errNoCertificate", err)
	}

	a := newPair(t, "a.irsa.test")
	writeFile(t, certFile, a.cert)
	writeFile(t, keyFile, a.key)
	if err := w.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !w.Loaded() {
		t.Fatal("not Loaded after a good Reload")
	}
	if !bytes.Equal(servedDER(t, w), a.der) {
		t.Fatal("served certificate is not the one on disk")
	}
	// Unchanged files: nothing to do, nothing reported.
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	if ok, failed := l.count(); ok != 1 || failed != 0 {
		t.Fatalf("onLoad: %d ok, %d failed; want 1, 0", ok, failed)
	}

	// Half-written rotation: new certificate, old key.
	b := newPair(t, "b.irsa.test")
	writeFile(t, certFile, b.cert)
	err := w.Reload()
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Fatalf("Reload of a mismatched pair: %v, want a mismatch error", err)
	}
	if !w.Loaded() || !bytes.Equal(servedDER(t, w), a.der) {
		t.Fatal("mismatched pair replaced the served certificate")
	}
	// Polling the same bad pair reports it once.
	if err := w.Reload(); err == nil {
		t.Fatal("second Reload of a mismatched pair succeeded")
	}
	if ok, failed := l.count(); ok != 1 || failed != 1 {
		t.Fatalf("onLoad: %d ok, %d failed; want 1, 1", ok, failed)
	}

	// The key arrives: the new pair is served.
	writeFile(t, keyFile, b.key)
	if err := w.Reload(); err != nil {
		t.Fatalf("Reload of the completed pair: %v", err)
	}
	if !bytes.Equal(servedDER(t, w), b.der) {
		t.Fatal("new pair not served")
	}
	if ok, failed := l.count(); ok != 2 || failed != 1 {
		t.Fatalf("onLoad: %d ok, %d failed; want 2, 1", ok, failed)
	}

	// Files removed (a Secret volume being rewritten): keep serving.
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if err := w.Reload(); err == nil || !strings.Contains(err.Error(), "read --tls-cert") {
		t.Fatalf("Reload with the certificate gone: %v, want a read error", err)
	}
	if !w.Loaded() || !bytes.Equal(servedDER(t, w), b.der) {
		t.Fatal("a missing file dropped the served certificate")
	}
}

func TestCertWatcherMissingFiles(t *testing.T) {
	dir := t.TempDir()
	p := newPair(t, "irsa.test")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")

	var l loads
	w := NewCertWatcher(certFile, keyFile, slog.New(slog.DiscardHandler), l.record)
	err := w.Reload()
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "read --tls-cert") {
		t.Fatalf("Reload without files: %v, want a not-exist error naming --tls-cert", err)
	}
	if w.Loaded() {
		t.Fatal("Loaded without files")
	}

	writeFile(t, certFile, p.cert)
	err = w.Reload()
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "read --tls-key") {
		t.Fatalf("Reload without key: %v, want a not-exist error naming --tls-key", err)
	}
	if w.Loaded() {
		t.Fatal("Loaded without key")
	}

	writeFile(t, keyFile, []byte("not PEM"))
	if err := w.Reload(); err == nil || w.Loaded() {
		t.Fatalf("Reload with a garbage key: %v, Loaded %v", err, w.Loaded())
	}
	if _, failed := l.count(); failed != 3 {
		t.Errorf("onLoad failures %d, want 3 (one per distinct error)", failed)
	}

	// A nil onLoad is allowed.
	writeFile(t, keyFile, p.key)
	w = NewCertWatcher(certFile, keyFile, slog.New(slog.DiscardHandler), nil)
	if err := w.Reload(); err != nil || !w.Loaded() {
		t.Fatalf("Reload: %v, Loaded %v", err, w.Loaded())
	}
}

func TestCertWatcherRunLoadsAtOnceAndStops(t *testing.T) {
	w, _ := watchedPair(t)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { w.Run(ctx, time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !w.Loaded() {
		t.Fatal("Run did not load before waiting for the first tick")
	}
}

func TestCertWatcherServesTLS(t *testing.T) {
	w, p := watchedPair(t)
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: w.GetCertificate, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.cert)
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "irsa.test"})
	if err != nil {
		t.Fatalf("TLS handshake with the watched certificate: %v", err)
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, p.der) {
		t.Error("handshake served another certificate")
	}
}
