package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// TestSetupAndTeardownCommands runs `irsa setup` twice and `irsa teardown`
// against a real cluster whose issuer is the bucket, with AWS in moto
// reached through the standard endpoint variables.
func TestSetupAndTeardownCommands(t *testing.T) {
	startMoto(t)
	const bucket = "irsa-cli-setup"
	issuer, _ := s3issuer.IssuerURL(bucket, "us-east-1")
	c, err := localcluster.Start(t.TempDir(), localcluster.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	irsa := func(args ...string) (string, error) {
		t.Helper()
		out, err := runCommand(t, NewRootCommand(context.Background()), args...)
		t.Logf("irsa %s:\n%s", strings.Join(args, " "), out)
		return out, err
	}
	args := []string{"setup", "--kubeconfig", c.Kubeconfig, "--bucket", bucket, "--region", "us-east-1", "--from-cluster"}
	out, err := irsa(args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"created    phase publish", "checked    phase verify", "Issuer: " + issuer + "\n", "Provider: arn:aws:iam::"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup printed no %q", want)
		}
	}
	if out, err = irsa(args...); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "created ") || strings.Contains(out, "updated ") {
		t.Error("the second setup changed something")
	}
	if out, err = irsa("setup", "--kubeconfig", c.Kubeconfig, "--bucket", bucket, "--skip-phases", "keys,nope"); err == nil || !strings.Contains(err.Error(), `"nope" is not a phase`) {
		t.Errorf("bad --skip-phases: %v", err)
	}
	out, err = irsa("teardown", "--kubeconfig", c.Kubeconfig, "--bucket", bucket, "--region", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deleted    bucket " + bucket, "deleted    identity provider", "deleted    MutatingWebhookConfiguration irsa-webhook"} {
		if !strings.Contains(out, want) {
			t.Errorf("teardown printed no %q", want)
		}
	}
}
