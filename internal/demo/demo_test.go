package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/role"
)

// TestDemo runs the README's first command end to end: setup and role
// create against a real kube-apiserver and moto, a mutated pod, its token
// exchanged at STS, and the role's credentials allowed into one bucket
// only.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Out: &out}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	t.Logf("demo:\n%s", out.String())
	roleARN := "arn:aws:iam::" + motoserver.Account + ":role/" + role.DefaultRoleName(Namespace, ServiceAccount)
	for _, want := range []string{
		"checked   phase verify",
		"role " + roleARN,
		"AWS_ROLE_ARN=" + roleARN,
		"sub system:serviceaccount:" + Namespace + ":" + ServiceAccount,
		"caller arn:aws:sts::" + motoserver.Account + ":assumed-role/" + role.DefaultRoleName(Namespace, ServiceAccount) + "/",
		"s3://" + AppBucket + "/hello.txt written",
		"AccessDenied, as it should be",
		"every step held",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
