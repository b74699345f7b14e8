package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/irsa-dev/irsa/internal/motoserver"
)

// startMoto runs moto_server for one test and points the AWS SDK at it
// through the environment, as a user would.
func startMoto(t *testing.T) *motoserver.Server {
	t.Helper()
	srv, err := motoserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	for k, v := range srv.Env() {
		t.Setenv(k, v)
	}
	return srv
}

func TestOIDCPublishCommand(t *testing.T) {
	startMoto(t)
	key := filepath.Join("..", "oidc", "testdata", "keys", "rsa.pub")
	args := []string{"publish", "--bucket", "irsa-cli", "--region", "us-east-1", "--public-key", key}
	first, err := runOIDC(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, "created    bucket irsa-cli") || !strings.Contains(first, "Issuer: https://irsa-cli.s3.us-east-1.amazonaws.com\n") {
		t.Errorf("first run printed:\n%s", first)
	}
	second, err := runOIDC(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(second, "created") || strings.Contains(second, "updated") {
		t.Errorf("second run changed something:\n%s", second)
	}
	if _, err := runOIDC(t, "publish", "--bucket", "irsa-cli", "--region", "us-east-1"); err == nil || !strings.Contains(err.Error(), "--public-key") {
		t.Errorf("no keys: err = %v", err)
	}

	private, err := runOIDC(t, "publish", "--bucket", "irsa-cli-private", "--region", "us-east-1", "--public-key", key, "--private")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(private, "created    CloudFront distribution") || !regexp.MustCompile(`Issuer: https://[a-z0-9]+\.cloudfront\.net\n`).MatchString(private) {
		t.Errorf("--private printed:\n%s", private)
	}
}
