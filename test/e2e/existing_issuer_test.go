package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/cli"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/role"
)

// TestRoleSharedByTwoClusters: `irsa role create` for the same
// ServiceAccount on a second cluster adds that cluster's statement to the
// role and keeps the first cluster's; `role trust list` shows both. The
// second cluster looks like ROSA: its issuer is found in OpenShift's
// authentication config, and AWS already knows it.
func TestRoleSharedByTwoClusters(t *testing.T) {
	ctx := context.Background()
	moto, err := motoserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Stop)
	cfg, err := moto.Config(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	api := iam.NewFromConfig(cfg)

	const rosaIssuer = "https://oidc.rosa.example.com/2k4q7"
	second, err := localcluster.Start(t.TempDir(), localcluster.Options{Issuer: "https://kubernetes.default.svc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	remove, err := second.InstallOpenShiftAuthentication(ctx, rosaIssuer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)

	providers := map[string]string{}
	for _, issuer := range []string{cluster.Issuer, rosaIssuer} {
		res, err := iamoidc.Ensure(ctx, api, iamoidc.Options{Issuer: issuer, Thumbprint: strings.Repeat("ab", 20)})
		if err != nil {
			t.Fatal(err)
		}
		providers[issuer] = res.ARN
	}
	ns := newNamespace(t)
	if _, err := second.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const roleName = "cart-everywhere"
	create := func(c *localcluster.Cluster) role.Result {
		t.Helper()
		res, err := role.Create(ctx, api, c.Client, role.Options{Namespace: ns, ServiceAccount: "cart", RoleName: roleName, S3Bucket: "carts",
			Report: func(s progress.Step) { t.Logf("%s %s (%s)", s.Outcome, s.Name, s.Detail) }})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := create(cluster)
	if first.Issuer != cluster.Issuer {
		t.Errorf("first cluster's issuer %q, want %q (from the API server)", first.Issuer, cluster.Issuer)
	}
	shared := create(second)
	if shared.Issuer != rosaIssuer {
		t.Errorf("second cluster's issuer %q, want %q (from authentication.config.openshift.io)", shared.Issuer, rosaIssuer)
	}
	if shared.RoleARN != first.RoleARN {
		t.Errorf("two roles: %s and %s", first.RoleARN, shared.RoleARN)
	}

	trust, err := role.ListTrust(ctx, api, roleName)
	if err != nil {
		t.Fatal(err)
	}
	if len(trust.Grants) != 2 {
		t.Fatalf("trust grants %+v, want one per cluster", trust.Grants)
	}
	for i, issuer := range []string{cluster.Issuer, rosaIssuer} {
		g := trust.Grants[i]
		if len(g.Providers) != 1 || g.Providers[0] != providers[issuer] || len(g.Subjects) != 1 || !strings.HasSuffix(g.Subjects[0], "system:serviceaccount:"+ns+":cart") {
			t.Errorf("grant %d: %+v, want provider %s and the ServiceAccount", i, g, providers[issuer])
		}
	}
	// Running it again on the first cluster keeps the second's statement.
	if again := create(cluster); again.Changed {
		t.Errorf("re-running role create on the first cluster changed the role")
	}

	// The command shows the same, through the standard AWS environment.
	for k, v := range moto.Env() {
		t.Setenv(k, v)
	}
	cmd := cli.NewRootCommand(ctx)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"role", "trust", "list", "--role-name", roleName})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{providers[cluster.Issuer], providers[rosaIssuer], "sub StringEquals system:serviceaccount:" + ns + ":cart", "of 2048 characters"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("role trust list lacks %q:\n%s", want, out.String())
		}
	}
}
