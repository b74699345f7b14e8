package iamoidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irsa-dev/irsa/internal/iamoidc"
)

// issuerHost is the issuer's host name in these tests; a dial function
// sends its port 443 to a local TLS server.
const issuerHost = "oidc.example.com"

// keyPair is a certificate and its private key.
type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// issue signs tmpl with parent, or self-signs it when parent is nil.
func issue(t *testing.T, parent *keyPair, tmpl *x509.Certificate) *keyPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &keyPair{cert: cert, key: key}
}

func caTemplate(name string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

func leafTemplate(host string) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: host},
		DNSNames:    []string{host},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// testPKI is a root CA, an intermediate it signs, a leaf for issuerHost
// the intermediate signs, and a leaf for issuerHost the root signs.
type testPKI struct {
	root, intermediate, leaf, rootLeaf *keyPair
	roots                              *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{root: issue(t, nil, caTemplate("irsa test root"))}
	p.intermediate = issue(t, p.root, caTemplate("irsa test intermediate"))
	p.leaf = issue(t, p.intermediate, leafTemplate(issuerHost))
	p.rootLeaf = issue(t, p.root, leafTemplate(issuerHost))
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root.cert)
	return p
}

// serveTLS serves chain, leaf first, on a loopback port and returns a dial
// function that sends issuerHost:443 there.
func serveTLS(t *testing.T, key *ecdsa.PrivateKey, chain ...*x509.Certificate) iamoidc.DialFunc {
	t.Helper()
	served := tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		served.Certificate = append(served.Certificate, c.Raw)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{served}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// The handshake fails when the client refuses the chain: that
			// is the client's test to check, not the server's.
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return dialOnly(ln.Addr().String())
}

// dialOnly returns a dial function that sends issuerHost:443 to target and
// refuses any other address.
func dialOnly(target string) iamoidc.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != issuerHost+":443" {
			return nil, fmt.Errorf("test dialer: unexpected address %s", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
}

func sha1Hex(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}

func TestThumbprintIsOfLastServedCertificate(t *testing.T) {
	p := newPKI(t)
	dial := serveTLS(t, p.leaf.key, p.leaf.cert, p.intermediate.cert)
	got, err := iamoidc.Thumbprint(context.Background(), "https://"+issuerHost+"/cluster-1", dial, p.roots)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha1Hex(p.intermediate.cert); got != want {
		t.Errorf("thumbprint = %s, want the intermediate's %s", got, want)
	}
	if got == sha1Hex(p.leaf.cert) {
		t.Error("thumbprint is the leaf's, not the last served certificate's")
	}
	if len(got) != 40 || got != strings.ToLower(got) {
		t.Errorf("thumbprint %q is not 40 lower-case hex digits", got)
	}
}

func TestThumbprintOfLeafServedAlone(t *testing.T) {
	p := newPKI(t)
	dial := serveTLS(t, p.rootLeaf.key, p.rootLeaf.cert)
	got, err := iamoidc.Thumbprint(context.Background(), "https://"+issuerHost, dial, p.roots)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha1Hex(p.rootLeaf.cert); got != want {
		t.Errorf("thumbprint = %s, want the leaf's %s", got, want)
	}
}

func TestThumbprintUntrustedChain(t *testing.T) {
	p := newPKI(t)
	dial := serveTLS(t, p.leaf.key, p.leaf.cert, p.intermediate.cert)
	// The system's roots do not know the test root.
	_, err := iamoidc.Thumbprint(context.Background(), "https://"+issuerHost, dial, nil)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a certificate verification error", err)
	}
	// The message offers the thumbprint to check and give explicitly.
	if !strings.Contains(err.Error(), "does not verify") || !strings.Contains(err.Error(), sha1Hex(p.intermediate.cert)) {
		t.Errorf("err = %v", err)
	}
}

func TestThumbprintWrongHost(t *testing.T) {
	p := newPKI(t)
	other := issue(t, p.intermediate, leafTemplate("other.example.com"))
	dial := serveTLS(t, other.key, other.cert, p.intermediate.cert)
	_, err := iamoidc.Thumbprint(context.Background(), "https://"+issuerHost, dial, p.roots)
	if err == nil || !strings.Contains(err.Error(), issuerHost) {
		t.Errorf("certificate for another host: err = %v", err)
	}
}

func TestThumbprintUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, err = iamoidc.Thumbprint(context.Background(), "https://"+issuerHost, dialOnly(closed), nil)
	if err == nil || !strings.Contains(err.Error(), "reach the issuer's host "+issuerHost+":443") {
		t.Errorf("unreachable host: err = %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("err = %v does not wrap the dial error", err)
	}
}

func TestThumbprintRejectsBadIssuer(t *testing.T) {
	dial := func(context.Context, string, string) (net.Conn, error) {
		t.Error("dialled for a bad issuer")
		return nil, errors.New("no")
	}
	for _, issuer := range []string{"http://" + issuerHost, "https://" + issuerHost + ":8443", "https://" + issuerHost + "/"} {
		if _, err := iamoidc.Thumbprint(context.Background(), issuer, dial, nil); err == nil {
			t.Errorf("%s: no error", issuer)
		}
	}
}
