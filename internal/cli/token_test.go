package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/token"
)

// tokenFixture is a signing key, its key set in a file, and a way to sign
// ServiceAccount-shaped tokens with it. The real-token cases, minted by
// kube-apiserver, are in internal/token.
type tokenFixture struct {
	dir     string
	key     *ecdsa.PrivateKey
	kid     string
	keyFile string
}

const fixtureIssuer = "https://oidc.example.com/c1"

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, err := oidc.KeySet([]crypto.PublicKey{&key.PublicKey}, oidc.KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	f := &tokenFixture{dir: t.TempDir(), key: key, kid: set.Keys[0].KeyID}
	f.keyFile = f.write(t, "keys.json", string(data))
	return f
}

func (f *tokenFixture) write(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sign returns a token for audience that expires at exp, with a trailing
// newline as in a projected token file.
func (f *tokenFixture) sign(t *testing.T, audience string, exp time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: f.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), f.kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := jwt.Claims{
		Issuer:    fixtureIssuer,
		Subject:   "system:serviceaccount:apps:app",
		Audience:  jwt.Audience{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(exp),
	}
	k8s := map[string]any{"kubernetes.io": map[string]any{
		"namespace":      "apps",
		"serviceaccount": map[string]string{"name": "app", "uid": "0b6f4d2e-7f4a-4c59-9d3e-0d1c2b3a4f5e"},
	}}
	raw, err := jwt.Signed(signer).Claims(claims).Claims(k8s).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw + "\n"
}

func runToken(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := NewRootCommand(context.Background())
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestTokenVerifyCommand(t *testing.T) {
	f := newTokenFixture(t)
	exp := time.Now().Add(time.Hour)
	good := f.write(t, "token", f.sign(t, "sts.amazonaws.com", exp))

	out, err := runToken(t, "", "token", "verify", "--token-file", good, "--jwks-file", f.keyFile, "--issuer", fixtureIssuer)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"token verified\n",
		"issuer:    " + fixtureIssuer + "\n",
		"subject:   system:serviceaccount:apps:app\n",
		"audience:  sts.amazonaws.com\n",
		"expires:   " + exp.UTC().Format(time.RFC3339) + " (in ",
		"kid:       " + f.kid + " (ES256)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// From standard input, as JSON.
	out, err = runToken(t, f.sign(t, "sts.amazonaws.com", exp), "token", "verify", "--token-file", "-", "--jwks-file", f.keyFile, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c token.Claims
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("-o json printed %s: %v", out, err)
	}
	if c.Issuer != fixtureIssuer || c.Namespace != "apps" || c.ServiceAccount != "app" || c.KeyID != f.kid || !c.Expiry.Equal(exp.Truncate(time.Second)) {
		t.Errorf("-o json printed %+v", c)
	}
}

func TestTokenVerifyCommandFailures(t *testing.T) {
	f := newTokenFixture(t)
	good := f.write(t, "token", f.sign(t, "sts.amazonaws.com", time.Now().Add(time.Hour)))
	other := f.write(t, "other-audience", f.sign(t, "x", time.Now().Add(time.Hour)))
	expired := f.write(t, "expired", f.sign(t, "sts.amazonaws.com", time.Now().Add(-time.Hour)))
	pem := f.write(t, "key.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	otherKeys := newTokenFixture(t).keyFile

	tests := []struct {
		name string
		args []string
		// prefix is how the error must start; contains what else it must say.
		prefix   string
		contains []string
	}{
		{
			name:   "wrong audience",
			args:   []string{"--token-file", other, "--jwks-file", f.keyFile},
			prefix: `token verify: audience: the token is for "x", expected "sts.amazonaws.com"`,
		},
		{
			name:   "expired",
			args:   []string{"--token-file", expired, "--jwks-file", f.keyFile},
			prefix: "token verify: expired: the token expired at ",
		},
		{
			name:     "wrong issuer",
			args:     []string{"--token-file", good, "--jwks-file", f.keyFile, "--issuer", fixtureIssuer + "/"},
			prefix:   "token verify: issuer: ",
			contains: []string{"trailing slash"},
		},
		{
			name:     "key set of another key",
			args:     []string{"--token-file", good, "--jwks-file", otherKeys},
			prefix:   "token verify: key-id: ",
			contains: []string{f.kid},
		},
		{
			name:   "empty token",
			args:   []string{"--token-file", f.write(t, "empty", "\n"), "--jwks-file", f.keyFile},
			prefix: "token verify: malformed: the token is empty",
		},
		{name: "no token file", args: []string{"--jwks-file", f.keyFile}, prefix: `required flag(s) "token-file" not set`},
		{name: "missing token file", args: []string{"--token-file", filepath.Join(f.dir, "nope")}, prefix: "--token-file: ", contains: []string{"no such file"}},
		{name: "key set in PEM", args: []string{"--token-file", good, "--jwks-file", pem}, prefix: "--jwks-file " + pem + ": ", contains: []string{"irsa oidc keys"}},
		{name: "bad output", args: []string{"--token-file", good, "-o", "yaml"}, prefix: `--output "yaml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runToken(t, "", append([]string{"token", "verify"}, tt.args...)...)
			if err == nil {
				t.Fatalf("succeeded:\n%s", out)
			}
			if !strings.HasPrefix(err.Error(), tt.prefix) {
				t.Errorf("error %q does not start with %q", err, tt.prefix)
			}
			for _, want := range tt.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
		})
	}
}
