package iamoidc

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/irsa-dev/irsa/internal/oidc"
)

// DialFunc opens a network connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// thumbprintTimeout bounds connecting and the TLS handshake together, so a
// host that accepts but never answers does not hang the command.
const thumbprintTimeout = 30 * time.Second

var thumbprintPattern = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// ValidateThumbprint reports why s is not a certificate thumbprint IAM
// accepts: 40 hexadecimal digits, the SHA-1 of a DER certificate.
func ValidateThumbprint(s string) error {
	if !thumbprintPattern.MatchString(s) {
		return fmt.Errorf("thumbprint %q is not 40 hexadecimal digits (the SHA-1 of a certificate, without colons)", s)
	}
	return nil
}

// Thumbprint returns the thumbprint IAM wants for issuer: the lower-case
// hex SHA-1 of the last certificate of the chain its host serves on port
// 443. The chain is verified against roots (nil: the system's).
func Thumbprint(ctx context.Context, issuer string, dial DialFunc, roots *x509.CertPool) (string, error) {
	if err := oidc.ValidateIssuer(issuer); err != nil {
		return "", err
	}
	u, _ := url.Parse(issuer)
	host := u.Hostname()
	addr := net.JoinHostPort(host, "443")
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, thumbprintTimeout)
	defer cancel()
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("reach the issuer's host %s for its TLS thumbprint: %w", addr, err)
	}
	conn := tls.Client(raw, &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12})
	defer conn.Close()
	err = conn.HandshakeContext(ctx)
	var unverified *tls.CertificateVerificationError
	if errors.As(err, &unverified) && len(unverified.UnverifiedCertificates) > 0 {
		last := unverified.UnverifiedCertificates[len(unverified.UnverifiedCertificates)-1]
		return "", fmt.Errorf("the certificate chain %s serves does not verify against trusted roots, and AWS trusts such a server "+
			"only through the provider's thumbprint; if you trust it, its last certificate (%s) has thumbprint %s: give that thumbprint explicitly: %w",
			addr, last.Subject, certThumbprint(last), err)
	}
	if err != nil {
		return "", fmt.Errorf("TLS handshake with the issuer's host %s: %w", addr, err)
	}
	certs := conn.ConnectionState().PeerCertificates
	return certThumbprint(certs[len(certs)-1]), nil
}

func certThumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return hex.EncodeToString(sum[:])
}
