package cli

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/irsa-dev/irsa/internal/motoserver"
)

func runAWS(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(t, NewAWSCommand(), args...)
}

func TestProviderCreateCommand(t *testing.T) {
	srv := startMoto(t)
	args := []string{"provider", "create", "--issuer", "https://oidc.example.com/cli",
		"--audience", "extra", "--thumbprint", strings.Repeat("ab", 20)}
	arn := "arn:aws:iam::" + motoserver.Account + ":oidc-provider/oidc.example.com/cli"
	first, err := runAWS(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"created    identity provider oidc.example.com/cli",
		"created    client IDs (sts.amazonaws.com, extra)",
		"\nProvider: " + arn + "\n",
		"oidc.example.com/cli:sub",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first run lacks %q:\n%s", want, first)
		}
	}
	second, err := runAWS(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(second, "created") || strings.Contains(second, "updated") || !strings.Contains(second, "Provider: "+arn) {
		t.Errorf("second run:\n%s", second)
	}

	cfg, err := srv.Config(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	list, err := iam.NewFromConfig(cfg).ListOpenIDConnectProviders(context.Background(), &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.OpenIDConnectProviderList) != 1 || aws.ToString(list.OpenIDConnectProviderList[0].Arn) != arn {
		t.Errorf("providers after two runs: %+v", list.OpenIDConnectProviderList)
	}
}

func TestProviderCreateRejectsFlags(t *testing.T) {
	// No emulator: the flags are refused before AWS is configured or called.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--issuer", "https://oidc.example.com/cli", "--thumbprint", "ab:cd"}, "40 hexadecimal digits"},
		{[]string{"--issuer", "https://oidc.example.com/cli", "--thumbprint", strings.Repeat("g", 40)}, "thumbprint"},
		{[]string{"--issuer", "https://oidc.example.com/cli/", "--thumbprint", strings.Repeat("ab", 20)}, "ends in a slash"},
		{[]string{"--thumbprint", strings.Repeat("ab", 20)}, `"issuer" not set`},
	} {
		_, err := runAWS(t, append([]string{"provider", "create"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestLoadAWSConfigRegion(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	ctx := context.Background()
	for _, tc := range []struct{ env, flag, want string }{
		{"", "", iamDefaultRegion},
		{"eu-west-1", "", "eu-west-1"},
		{"eu-west-1", "cn-north-1", "cn-north-1"},
	} {
		t.Setenv("AWS_REGION", tc.env)
		cfg, err := loadAWSConfig(ctx, tc.flag, iamDefaultRegion)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Region; got != tc.want {
			t.Errorf("AWS_REGION=%q --region=%q: region %q, want %q", tc.env, tc.flag, got, tc.want)
		}
	}
	// Without a fallback, no region is an error that says what to do.
	t.Setenv("AWS_REGION", "")
	if _, err := loadAWSConfig(ctx, "", ""); err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("no region: err = %v", err)
	}
}
