package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func readKeys(t *testing.T, names ...string) []crypto.PublicKey {
	t.Helper()
	var keys []crypto.PublicKey
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join("testdata", "keys", name))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ParsePublicKeys(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys = append(keys, k...)
	}
	return keys
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update to accept):\n%s", path, got)
	}
}

func TestParsePublicKeys(t *testing.T) {
	for name, want := range map[string]string{
		"rsa-pkcs1.key": "rsa", "rsa.pub": "rsa", "rsa-pkcs1.pub": "rsa",
		"ec-p256-sec1.key": "ES256", "ec-p384-pkcs8.key": "ES384", "ec-p521.crt": "ES512",
	} {
		keys := readKeys(t, name)
		if len(keys) != 1 {
			t.Fatalf("%s: %d keys", name, len(keys))
		}
		switch k := keys[0].(type) {
		case *rsa.PublicKey:
			if want != "rsa" {
				t.Errorf("%s: RSA key, want %s", name, want)
			}
		case *ecdsa.PublicKey:
			if alg, _ := Algorithm(k); string(alg) != want {
				t.Errorf("%s: %s, want %s", name, alg, want)
			}
		default:
			t.Errorf("%s: %T", name, k)
		}
	}

	// The three spellings of one RSA key have one key id.
	ids := map[string]bool{}
	for _, k := range readKeys(t, "rsa-pkcs1.key", "rsa.pub", "rsa-pkcs1.pub") {
		id, err := KeyID(k)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if len(ids) != 1 {
		t.Errorf("one key, %d key ids", len(ids))
	}
}

func TestParsePublicKeysRejects(t *testing.T) {
	ed, err := os.ReadFile(filepath.Join("testdata", "keys", "ed25519.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePublicKeys(ed); err == nil || !strings.Contains(err.Error(), "not used for ServiceAccount tokens") {
		t.Errorf("ed25519: err = %v", err)
	}
	if _, err := ParsePublicKeys([]byte("not a key")); !errors.Is(err, ErrNoKeys) {
		t.Errorf("garbage: err = %v, want ErrNoKeys", err)
	}
	bad := []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	if _, err := ParsePublicKeys(bad); err == nil || !strings.Contains(err.Error(), "PEM block 1 (PUBLIC KEY)") {
		t.Errorf("corrupt block: err = %v", err)
	}
}

var allKeys = []string{"rsa-pkcs1.key", "rsa.pub", "rsa-pkcs1.pub", "ec-p256-sec1.key", "ec-p384-pkcs8.key", "ec-p521.crt"}

func TestKeySetGolden(t *testing.T) {
	set, err := KeySet(readKeys(t, allKeys...), KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 4 {
		t.Errorf("%d keys, want 4 (the RSA key once)", len(set.Keys))
	}
	golden(t, "jwks.json", set)

	legacy, err := KeySet(readKeys(t, allKeys...), KeySetOptions{LegacyEmptyKeyID: true})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "jwks-legacy.json", legacy)

	// Deterministic: the order of the inputs does not matter.
	reversed := readKeys(t, "ec-p521.crt", "ec-p384-pkcs8.key", "ec-p256-sec1.key", "rsa.pub")
	again, err := KeySet(reversed, KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "jwks.json", again)
}

func TestDiscoveryGolden(t *testing.T) {
	d, err := NewDiscovery("https://oidc.example.com/clusters/prod", readKeys(t, allKeys...))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "discovery.json", d)
}

func TestValidateIssuer(t *testing.T) {
	for _, ok := range []string{"https://oidc.example.com", "https://bucket.s3.eu-west-1.amazonaws.com/cluster-a", "https://d111111abcdef8.cloudfront.net"} {
		if err := ValidateIssuer(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for issuer, want := range map[string]string{
		"http://oidc.example.com":          "must use https",
		"https://oidc.example.com/":        `ends in a slash: tokens, the IAM provider and trust policies would disagree; use "https://oidc.example.com"`,
		"https://oidc.example.com/a/":      "ends in a slash",
		"https://oidc.example.com:8443":    "must not name a port",
		"https://oidc.example.com?x=1":     "must not have a query",
		"https://oidc.example.com/#frag":   "must not have a fragment",
		"https://oidc.example.com#frag":    "must not have a fragment",
		"https://user:pw@oidc.example.com": "must not carry credentials",
		"https://OIDC.example.com":         "upper-case letters",
		"oidc.example.com":                 "must use https",
		"https://":                         "has no host",
		"":                                 "must use https",
	} {
		err := ValidateIssuer(issuer)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to say %q", issuer, err, want)
		}
	}
}

func TestParseKeySet(t *testing.T) {
	public, err := os.ReadFile(filepath.Join("testdata", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := ParseKeySet(public)
	if err != nil || len(set.Keys) != 4 {
		t.Fatalf("ParseKeySet(jwks.json) = %+v, %v", set, err)
	}
	privateKeys := readKeys(t, "rsa-pkcs1.key")
	pemData, err := os.ReadFile(filepath.Join("testdata", "keys", "rsa.pub"))
	if err != nil {
		t.Fatal(err)
	}
	keyPair, err := os.ReadFile(filepath.Join("testdata", "keys", "rsa-pkcs1.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPair)
	rsaPrivate, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	private, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: rsaPrivate, KeyID: "k"}}})
	if err != nil {
		t.Fatal(err)
	}
	single, err := json.Marshal(jose.JSONWebKey{Key: privateKeys[0], KeyID: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, data, want string
	}{
		{"PEM", string(pemData), "irsa oidc keys"},
		{"single key", string(single), "single JSON Web Key"},
		{"discovery document", `{"issuer":"https://x","jwks_uri":"https://x/keys.json"}`, "jwks_uri"},
		{"no keys member", `{"a":1}`, `no "keys"`},
		{"empty", `{"keys":[]}`, "no keys"},
		{"private key", string(private), `private key "k"`},
		{"not JSON", "hello", "not a JSON Web Key Set"},
		{"bad key", `{"keys":[{"kty":"RSA","n":1}]}`, "not a JSON Web Key Set"},
	} {
		if _, err := ParseKeySet([]byte(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to say %q", tt.name, err, tt.want)
		}
	}
}

func TestEnsureSigningKey(t *testing.T) {
	dir := t.TempDir()
	key, created, err := EnsureSigningKey(dir)
	if err != nil || !created {
		t.Fatalf("first: %v, created %v", err, created)
	}
	again, created, err := EnsureSigningKey(dir)
	if err != nil || created {
		t.Fatalf("second: %v, created %v", err, created)
	}
	a, _ := KeyID(key)
	b, _ := KeyID(again)
	if a != b {
		t.Error("the second call made a new key")
	}
	// A private key alone may be the one kube-apiserver signs with: never
	// replaced.
	if err := os.Remove(filepath.Join(dir, PublicKeyFile)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	if _, _, err := EnsureSigningKey(dir); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("private key alone: err = %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	if !bytes.Equal(before, after) {
		t.Error("the private key was replaced")
	}
}
