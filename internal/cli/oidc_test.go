package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runOIDC(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, NewOIDCCommand(), args...)
}

// runCommand runs cmd with args and returns what it printed on stdout.
func runCommand(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs(args)
	cmd.SetContext(context.Background())
	err := cmd.Execute()
	return out.String(), err
}

func TestOIDCKeysCommand(t *testing.T) {
	key := filepath.Join("..", "oidc", "testdata", "keys")
	got, err := runOIDC(t, "keys", "--public-key", filepath.Join(key, "rsa.pub"), "--public-key", filepath.Join(key, "ec-p256-sec1.key"),
		"--public-key", filepath.Join(key, "ec-p384-pkcs8.key"), "--public-key", filepath.Join(key, "ec-p521.crt"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "oidc", "testdata", "jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("oidc keys printed\n%s\nwant testdata/jwks.json\n%s", got, want)
	}

	if _, err := runOIDC(t, "keys", "--public-key", filepath.Join(key, "ed25519.key")); err == nil || !strings.Contains(err.Error(), "ed25519.key") {
		t.Errorf("unusable key: err = %v", err)
	}
	if _, err := runOIDC(t, "keys"); err == nil || !strings.Contains(err.Error(), "public-key") {
		t.Errorf("no key: err = %v", err)
	}
}

func TestOIDCDiscoveryCommand(t *testing.T) {
	got, err := runOIDC(t, "discovery", "--issuer", "https://oidc.example.com/c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"issuer": "https://oidc.example.com/c1"`, `"jwks_uri": "https://oidc.example.com/c1/keys.json"`, `"RS256"`} {
		if !strings.Contains(got, want) {
			t.Errorf("discovery lacks %s:\n%s", want, got)
		}
	}
	if _, err := runOIDC(t, "discovery", "--issuer", "https://oidc.example.com/c1/"); err == nil || !strings.Contains(err.Error(), "ends in a slash") {
		t.Errorf("trailing slash: err = %v", err)
	}
}

func TestOIDCKeysFromClusterDown(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	// Port 1 on loopback: nothing listens, the connection is refused at once.
	err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: down, context: {cluster: down, user: u}}]
current-context: down
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runOIDC(t, "keys", "--from-cluster", "--kubeconfig", kubeconfig)
	if err == nil || !strings.Contains(err.Error(), "--from-cluster") || !strings.Contains(err.Error(), "refused") {
		t.Errorf("cluster down: err = %v", err)
	}
	_, err = runOIDC(t, "keys", "--from-cluster", "--kubeconfig", filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
}
