package localcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/irsa-dev/irsa/internal/servingcert"
)

// CA is a throwaway certificate authority for test serving certificates.
type CA struct{ *servingcert.CA }

// NewCA returns a fresh CA valid for a day.
func NewCA() (*CA, error) {
	ca, err := servingcert.NewCA("irsa-test-ca", 24*time.Hour)
	return &CA{ca}, err
}

// ServingPair returns a PEM certificate and key for 127.0.0.1 and localhost.
func (ca *CA) ServingPair() (certPEM, keyPEM []byte, err error) {
	return ca.Issue("127.0.0.1", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, 24*time.Hour)
}

// WriteServingPair writes a new serving pair to certFile and keyFile, each
// replaced atomically by rename, as a Secret volume update would.
func (ca *CA) WriteServingPair(certFile, keyFile string) error {
	certPEM, keyPEM, err := ca.ServingPair()
	if err != nil {
		return err
	}
	if err := writeAtomic(certFile, certPEM); err != nil {
		return err
	}
	return writeAtomic(keyFile, keyPEM)
}

// NewSigningKey returns an RSA key pair for ServiceAccount tokens, written as
// PEM files in dir.
func NewSigningKey(dir string) (key *rsa.PrivateKey, privateFile, publicFile string, err error) {
	key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, "", "", err
	}
	privateFile = filepath.Join(dir, "sa-signing.key")
	publicFile = filepath.Join(dir, "sa-signing.pub")
	if err := os.WriteFile(privateFile, pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)), 0o600); err != nil {
		return nil, "", "", err
	}
	if err := os.WriteFile(publicFile, pemBlock("PUBLIC KEY", pub), 0o644); err != nil {
		return nil, "", "", err
	}
	return key, privateFile, publicFile, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
