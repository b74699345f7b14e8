package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
)

// TestRoleCommands runs `irsa role create` and `irsa role delete` against a
// real cluster, with AWS in moto reached through the standard endpoint
// variables and the cluster's provider made by `irsa aws provider create`.
func TestRoleCommands(t *testing.T) {
	srv := startMoto(t)
	c, err := localcluster.Start(t.TempDir(), localcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx := context.Background()
	if _, err := runAWS(t, "provider", "create", "--issuer", c.Issuer, "--thumbprint", strings.Repeat("ab", 20)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := srv.Config(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	// moto_server holds no AWS managed policy: a customer managed one.
	managed, err := iam.NewFromConfig(cfg).CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("shop-read"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	policyARN := aws.ToString(managed.Policy.Arn)
	policy := filepath.Join(t.TempDir(), "queue.json")
	if err := os.WriteFile(policy, []byte(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	role := func(args ...string) (string, error) {
		t.Helper()
		out, err := runCommand(t, NewRoleCommand(), append(args, "--kubeconfig", c.Kubeconfig)...)
		t.Logf("irsa role %s:\n%s", strings.Join(args, " "), out)
		return out, err
	}
	create := []string{"create", "-n", "shop", "--service-account", "cart", "--s3-bucket", "shop-carts", "--policy-file", policy, "--policy-arn", policyARN}
	roleARN := "arn:aws:iam::" + motoserver.Account + ":role/irsa-shop-cart"

	// -o json prints the result alone on stdout; the steps go to stderr.
	out, err := role(append(create, "-o", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		RoleARN     string `json:"roleARN"`
		TrustPolicy struct {
			Statement []struct {
				Principal struct{ Federated string }
				Condition struct{ StringEquals map[string]string }
			}
		} `json:"trustPolicy"`
		InlinePolicies  map[string]json.RawMessage `json:"inlinePolicies"`
		ManagedPolicies []string                   `json:"managedPolicies"`
		Annotations     map[string]string          `json:"annotations"`
		PodsToRestart   []any                      `json:"podsToRestart"`
		Changed         bool                       `json:"changed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("-o json printed no JSON document: %v", err)
	}
	st := res.TrustPolicy.Statement
	if res.RoleARN != roleARN || !res.Changed || len(st) != 1 ||
		st[0].Principal.Federated != "arn:aws:iam::"+motoserver.Account+":oidc-provider/irsa.test/cluster" ||
		st[0].Condition.StringEquals["irsa.test/cluster:sub"] != "system:serviceaccount:shop:cart" ||
		st[0].Condition.StringEquals["irsa.test/cluster:aud"] != "sts.amazonaws.com" ||
		res.InlinePolicies["irsa-s3-shop-carts"] == nil || res.InlinePolicies["irsa-policy"] == nil ||
		len(res.ManagedPolicies) != 1 || res.ManagedPolicies[0] != policyARN ||
		res.Annotations["eks.amazonaws.com/role-arn"] != roleARN || res.PodsToRestart == nil {
		t.Errorf("create -o json:\n%s", out)
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "cart-1"},
		Spec:       corev1.PodSpec{ServiceAccountName: "cart", Containers: []corev1.Container{{Name: "cart", Image: "registry.invalid/cart:1"}}},
	}
	if _, err := c.Client.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err = role(create...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"unchanged  role irsa-shop-cart", "unchanged  trust policy (sub system:serviceaccount:shop:cart, aud sts.amazonaws.com)",
		"\nRole: " + roleARN + "\n", "(kubectl delete pod -n shop cart-1) and create them again"} {
		if !strings.Contains(out, want) {
			t.Errorf("second create printed no %q", want)
		}
	}
	if strings.Contains(out, "created ") || strings.Contains(out, "updated ") {
		t.Error("the second create changed something")
	}

	out, err = role("create", "-n", "shop", "--service-account", "reports", "--s3-bucket", "shop-data", "--read-only", "--dry-run", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var dry map[string]any
	if err := yaml.Unmarshal([]byte(out), &dry); err != nil || dry["dryRun"] != true || dry["changed"] != false || !strings.Contains(out, "- s3:GetObject\n") || strings.Contains(out, "s3:PutObject") {
		t.Errorf("dry run -o yaml (%v):\n%s", err, out)
	}

	out, err = role("delete", "-n", "shop", "--service-account", "cart")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deleted    attachment of managed policy " + policyARN + " (the policy itself is kept)", "deleted    inline policy irsa-s3-shop-carts", "deleted    role irsa-shop-cart", "deleted    ServiceAccount shop/cart (irsa created it)"} {
		if !strings.Contains(out, want) {
			t.Errorf("delete printed no %q", want)
		}
	}
	if out, err = role("delete", "-n", "shop", "--service-account", "cart"); err != nil || strings.Contains(out, "deleted ") || !strings.Contains(out, "unchanged  role irsa-shop-cart (not found)") {
		t.Errorf("second delete (%v):\n%s", err, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "-n", "shop", "--service-account", "cart"}, "give at least one of --policy-arn, --policy-file or --s3-bucket"},
		{[]string{"create", "-n", "shop", "--service-account", "cart", "--s3-bucket", "b1", "-o", "xml"}, `--output "xml"`},
		{[]string{"create", "-n", "shop", "--service-account", "cart", "--policy-file", filepath.Join(t.TempDir(), "missing.json")}, "--policy-file:"},
		{[]string{"create", "-n", "shop", "--service-account", "cart", "--s3-bucket", "shop-carts", "--issuer", "https://oidc.nowhere.example.com"}, "irsa aws provider create --issuer https://oidc.nowhere.example.com"},
		{[]string{"delete", "-n", "Shop", "--service-account", "cart"}, `namespace: "Shop"`},
	} {
		if _, err := role(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
