package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the README's first command end to end: a real
// kube-apiserver, the webhook, a mutated pod and a verified token.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Out: &out}); err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{"AWS_ROLE_ARN=" + RoleARN, "sub system:serviceaccount:" + Namespace + ":" + ServiceAccount, "every step held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
