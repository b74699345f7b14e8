// Package oidc builds the documents of an OIDC issuer for ServiceAccount
// tokens: the JSON Web Key Set and the discovery document, as pure
// functions of the signing keys and the issuer URL.
package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ErrNoKeys is returned for input that holds no usable key.
var ErrNoKeys = errors.New("no public key found")

// ParsePublicKeys reads every public key in PEM data: public keys (PKIX or
// PKCS #1), certificates, and private keys (PKCS #1, SEC 1 or PKCS #8),
// whose public halves are kept. RSA and ECDSA P-256, P-384 and P-521 keys
// are accepted, as kube-apiserver accepts them for ServiceAccount tokens.
func ParsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := parseBlock(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		if key != nil {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: want PEM blocks of type PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE or a private key", ErrNoKeys)
	}
	return keys, nil
}

func parseBlock(block *pem.Block) (crypto.PublicKey, error) {
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, nil // e.g. EC PARAMETERS next to an EC key
	}
	if err != nil {
		return nil, err
	}
	if signer, ok := key.(crypto.Signer); ok {
		key = signer.Public()
	}
	if _, err := Algorithm(key); err != nil {
		return nil, err
	}
	return key, nil
}

// Algorithm returns the JWS algorithm kube-apiserver signs with for key.
func Algorithm(key crypto.PublicKey) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return jose.RS256, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jose.ES256, nil
		case elliptic.P384():
			return jose.ES384, nil
		case elliptic.P521():
			return jose.ES512, nil
		}
		return "", fmt.Errorf("ECDSA curve %s is not used for ServiceAccount tokens", k.Curve.Params().Name)
	}
	return "", fmt.Errorf("%T keys are not used for ServiceAccount tokens: want RSA or ECDSA", key)
}

// KeyID returns the key id kube-apiserver puts in the tokens it signs with
// key: the unpadded base64url SHA-256 of the key's DER SubjectPublicKeyInfo.
func KeyID(key crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// KeySetOptions shape a key set.
type KeySetOptions struct {
	// LegacyEmptyKeyID adds a copy of each key without a key id, for
	// tokens from Kubernetes before 1.16, which carry none.
	LegacyEmptyKeyID bool
}

// KeySet returns the JSON Web Key Set publishing keys, one entry per
// distinct key, ordered by key id so the output is the same on every run.
func KeySet(keys []crypto.PublicKey, opts KeySetOptions) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	seen := map[string]bool{}
	for _, key := range keys {
		kid, err := KeyID(key)
		if err != nil {
			return set, err
		}
		if seen[kid] {
			continue
		}
		seen[kid] = true
		alg, err := Algorithm(key)
		if err != nil {
			return set, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(alg), Use: "sig"})
	}
	slices.SortFunc(set.Keys, func(a, b jose.JSONWebKey) int { return strings.Compare(a.KeyID, b.KeyID) })
	if opts.LegacyEmptyKeyID {
		for _, k := range slices.Clone(set.Keys) {
			k.KeyID = ""
			set.Keys = append(set.Keys, k)
		}
	}
	return set, nil
}

// ParseKeySet parses a JSON Web Key Set of public keys, such as keys.json,
// and says what the data is instead when it is not one.
func ParseKeySet(data []byte) (*jose.JSONWebKeySet, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		if strings.Contains(string(data), "-----BEGIN") {
			return nil, errors.New("this is PEM, not a JSON Web Key Set: build one with irsa oidc keys --public-key FILE")
		}
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if _, ok := probe["keys"]; !ok {
		switch {
		case probe["kty"] != nil:
			return nil, errors.New(`this is a single JSON Web Key, not a key set: wrap it as {"keys": [...]}`)
		case probe["jwks_uri"] != nil:
			return nil, errors.New("this is a discovery document, not a key set: use the document at its jwks_uri")
		}
		return nil, errors.New(`not a JSON Web Key Set: no "keys" member`)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no keys")
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, fmt.Errorf("the key set holds the private key %q: publish public keys only, and replace this one", k.KeyID)
		}
	}
	return &set, nil
}

// Signing key files in a key directory, as kube-apiserver's
// --service-account-signing-key-file and --service-account-key-file take them.
const (
	SigningKeyFile = "sa-signer.key"
	PublicKeyFile  = "sa-signer.pub"
)

// EnsureSigningKey returns the public key of the signing key pair in dir,
// creating a 2048-bit RSA pair there first when dir has none. created says
// whether it did; an existing pair is never replaced.
func EnsureSigningKey(dir string) (key crypto.PublicKey, created bool, err error) {
	privateFile, publicFile := filepath.Join(dir, SigningKeyFile), filepath.Join(dir, PublicKeyFile)
	if data, err := os.ReadFile(publicFile); err == nil {
		keys, err := ParsePublicKeys(data)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", publicFile, err)
		}
		if _, err := os.Stat(privateFile); err != nil {
			return nil, false, fmt.Errorf("%s exists but its private key %s does not: %w", publicFile, privateFile, err)
		}
		return keys[0], false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if _, err := os.Stat(privateFile); err == nil {
		return nil, false, fmt.Errorf("%s exists without %s: refusing to replace a signing key kube-apiserver may use; write its public key there (openssl rsa -in %s -pubout) and run again", privateFile, publicFile, privateFile)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	private, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKIXPublicKey(&private.PublicKey)
	if err != nil {
		return nil, false, err
	}
	// The private key first: a public key file alone means an
	// interrupted run that cannot be resumed.
	privatePEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(private)})
	if err := os.WriteFile(privateFile, privatePEM, 0o600); err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(publicFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return nil, false, err
	}
	return &private.PublicKey, true, nil
}

// ReadKeyFiles reads every public key in the PEM files, in order; an
// error names the file.
func ReadKeyFiles(files []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		k, err := ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		keys = append(keys, k...)
	}
	return keys, nil
}
