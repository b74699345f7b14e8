package role

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/progress"
)

// sid is irsa's statement id for the test cluster's provider: IrsaWebIdentity
// and the first 8 hex digits of SHA-256 of its ARN.
const sid = "IrsaWebIdentityeb439c3d"

// wantTrust is the trust statement for ServiceAccount NS/SA of the test
// cluster, as a JSON object.
func wantTrust(providerARN, ns, sa string) string {
	return fmt.Sprintf(`{"Sid":%q,"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"irsa.test/cluster:sub":"system:serviceaccount:%s:%s","irsa.test/cluster:aud":"sts.amazonaws.com"}}}`,
		sid, providerARN, ns, sa)
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	team := e.managedPolicy("team-read")
	opts := e.options("app")
	opts.PolicyARNs = []string{team}
	res := e.create(opts)

	name := "irsa-" + e.ns + "-app"
	if res.RoleName != name || res.RoleARN != roleARN(name) || res.ProviderARN != e.providerARN || res.Issuer != cluster.Issuer {
		t.Errorf("result names role %s (%s), provider %s, issuer %s", res.RoleName, res.RoleARN, res.ProviderARN, res.Issuer)
	}
	if !res.Changed || !progress.Changed(res.Steps) {
		t.Error("first run reports no change")
	}
	trust := `{"Version":"2012-10-17","Statement":[` + wantTrust(e.providerARN, e.ns, "app") + `]}`
	wantPolicy(t, "trust policy", e.trustPolicy(name), trust)
	wantPolicy(t, "trust policy in the result", string(res.TrustPolicy), trust)

	role := e.getRole(name)
	tags := tagMap(role.Tags)
	for k, v := range map[string]string{"irsa.dev/managed-by": "irsa", "irsa.dev/issuer": cluster.Issuer, "irsa.dev/service-account": e.ns + "/app"} {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, tags[k], v, tags)
		}
	}
	s3 := `{"Version":"2012-10-17","Statement":[
		{"Sid":"ListBucket","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::app-data"},
		{"Sid":"Objects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::app-data/*"}]}`
	wantPolicy(t, "inline policy irsa-s3-app-data", e.inlineDocument(name, "irsa-s3-app-data"), s3)
	if got := e.inline(name); !slices.Equal(got, []string{"irsa-s3-app-data"}) {
		t.Errorf("inline policies %v", got)
	}
	if got := e.attached(name); !slices.Equal(got, []string{team}) {
		t.Errorf("attached policies %v, want %s", got, team)
	}

	sa := e.serviceAccount("app")
	if sa == nil {
		t.Fatal("ServiceAccount not created")
	}
	if sa.Annotations["eks.amazonaws.com/role-arn"] != res.RoleARN || sa.Labels["app.kubernetes.io/managed-by"] != "irsa" {
		t.Errorf("ServiceAccount annotations %v, labels %v", sa.Annotations, sa.Labels)
	}
	if _, has := sa.Annotations["eks.amazonaws.com/audience"]; has {
		t.Errorf("default audience annotated: %v", sa.Annotations)
	}
	if len(res.PodsToRestart) != 0 {
		t.Errorf("pods to restart: %v", res.PodsToRestart)
	}

	again := e.create(opts)
	wantUnchanged(t, "second run", again.Steps)
	if again.Changed || again.RoleARN != res.RoleARN || !samePolicy(string(again.TrustPolicy), trust) {
		t.Errorf("second run: changed %v, role %s, trust %s", again.Changed, again.RoleARN, again.TrustPolicy)
	}
}

func TestCreateAudience(t *testing.T) {
	e := newEnv(t)
	// moto_server lacks AddClientIDToOpenIDConnectProvider: a provider of
	// another issuer is created with the audience from the start.
	issuer := "https://oidc.audience.example.com/c3"
	provider, err := iamoidc.Ensure(e.ctx, e.iam, iamoidc.Options{Issuer: issuer, Audiences: []string{"irsa-test"}, Thumbprint: strings.Repeat("cd", 20)})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.options("app")
	opts.Issuer, opts.Audience = issuer, "irsa-test"
	res := e.create(opts)
	wantPolicy(t, "trust policy", string(res.TrustPolicy), fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":%q,"Effect":"Allow",
		"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"oidc.audience.example.com/c3:sub":"system:serviceaccount:%s:app","oidc.audience.example.com/c3:aud":"irsa-test"}}}]}`,
		TrustSid(provider.ARN), provider.ARN, e.ns))
	if got := e.serviceAccount("app").Annotations["eks.amazonaws.com/audience"]; got != "irsa-test" {
		t.Errorf("audience annotation %q, want irsa-test", got)
	}

	opts.Audience = "unknown-audience"
	if _, err := Create(e.ctx, e.iam, cluster.Client, opts); err == nil || !strings.Contains(err.Error(), "--audience unknown-audience") {
		t.Errorf("audience the provider does not accept: err = %v", err)
	}
}

func TestCreateReadOnlyAndPolicyFile(t *testing.T) {
	e := newEnv(t)
	opts := e.options("reader")
	opts.ReadOnly = true
	opts.PolicyDocument = `{
	  "Version": "2012-10-17",
	  "Statement": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:jobs"}
	}`
	e.create(opts)
	name := "irsa-" + e.ns + "-reader"
	wantPolicy(t, "read-only inline policy", e.inlineDocument(name, "irsa-s3-app-data"), `{"Version":"2012-10-17","Statement":[
		{"Sid":"ListBucket","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::app-data"},
		{"Sid":"Objects","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::app-data/*"}]}`)
	wantPolicy(t, "policy file", e.inlineDocument(name, "irsa-policy"), opts.PolicyDocument)

	// A changed policy file replaces the inline policy; the S3 one stays.
	opts.PolicyDocument = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:ReceiveMessage","Resource":"*"}]}`
	res := e.create(opts)
	wantPolicy(t, "replaced policy file", e.inlineDocument(name, "irsa-policy"), opts.PolicyDocument)
	for _, s := range res.Steps {
		want := progress.Unchanged
		switch s.Name {
		case "inline policy irsa-policy":
			want = progress.Updated
		case "pods to restart", "identity provider " + e.providerARN:
			want = progress.Checked
		}
		if s.Outcome != want {
			t.Errorf("step %s: %s, want %s", s.Name, s.Outcome, want)
		}
	}
}

func TestCreateDiscoversIssuer(t *testing.T) {
	e := newEnv(t)
	opts := e.options("app")
	opts.Issuer = ""
	res := e.create(opts)
	if res.Issuer != cluster.Issuer {
		t.Errorf("issuer %q, want the cluster's %q", res.Issuer, cluster.Issuer)
	}
	if s := res.Steps[0]; s.Name != "issuer "+cluster.Issuer || s.Outcome != progress.Checked {
		t.Errorf("first step %+v", s)
	}
	wantPolicy(t, "trust policy", e.trustPolicy(res.RoleName), `{"Version":"2012-10-17","Statement":[`+wantTrust(e.providerARN, e.ns, "app")+`]}`)
}

func TestCreateReplacesBroadTrust(t *testing.T) {
	e := newEnv(t)
	name := "irsa-" + e.ns + "-app"
	other := `{"Sid":"OtherCluster","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.other.example.com/c2"},
		"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.other.example.com/c2:sub":"system:serviceaccount:prod:app","oidc.other.example.com/c2:aud":"sts.amazonaws.com"}}}`
	broad := fmt.Sprintf(`{"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringLike":{"irsa.test/cluster:sub":"system:serviceaccount:*:*"}}}`, e.providerARN)
	e.putRole(name, `{"Version":"2012-10-17","Statement":[`+broad+`,`+other+`]}`,
		map[string]string{"irsa.dev/managed-by": "irsa", "irsa.dev/service-account": e.ns + "/app"})

	res := e.create(e.options("app"))
	want := `{"Version":"2012-10-17","Statement":[` + wantTrust(e.providerARN, e.ns, "app") + `,` + other + `]}`
	wantPolicy(t, "trust policy", e.trustPolicy(name), want)
	i := slices.IndexFunc(res.Steps, func(s progress.Step) bool { return s.Name == "trust policy" })
	if i < 0 || res.Steps[i].Outcome != progress.Updated || !strings.Contains(res.Steps[i].Detail, "replaced 1 statement") || !strings.Contains(res.Steps[i].Detail, "kept 1 statement") {
		t.Errorf("trust policy step: %+v", res.Steps)
	}

	again := e.create(e.options("app"))
	wantUnchanged(t, "second run", again.Steps)
	wantPolicy(t, "trust policy after the second run", e.trustPolicy(name), want)
}

func TestCreateForeignRole(t *testing.T) {
	e := newEnv(t)
	name := "shared-role"
	ec2 := `{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`
	foreign := `{"Version":"2012-10-17","Statement":[` + ec2 + `]}`
	e.putRole(name, foreign, map[string]string{"team": "payments"})
	opts := e.options("app")
	opts.RoleName = name

	_, err := Create(e.ctx, e.iam, cluster.Client, opts)
	if err == nil || !strings.Contains(err.Error(), "irsa did not create it") || !strings.Contains(err.Error(), "--adopt") {
		t.Fatalf("foreign role: err = %v", err)
	}
	e.wantRefused(name, foreign, "app")

	opts.Adopt = true
	res := e.create(opts)
	wantPolicy(t, "adopted trust policy", e.trustPolicy(name),
		`{"Version":"2012-10-17","Statement":[`+ec2+`,`+wantTrust(e.providerARN, e.ns, "app")+`]}`)
	if tags := tagMap(e.getRole(name).Tags); len(tags) != 1 || tags["team"] != "payments" {
		t.Errorf("adopted role's tags: %v", tags)
	}
	if res.RoleARN != roleARN(name) || e.serviceAccount("app").Annotations["eks.amazonaws.com/role-arn"] != roleARN(name) {
		t.Errorf("adopted role %s not annotated", res.RoleARN)
	}
	wantUnchanged(t, "second adopt", e.create(opts).Steps)

	// A role irsa made for one ServiceAccount is not given to another.
	e.create(e.options("mine"))
	other := e.options("other")
	other.RoleName = "irsa-" + e.ns + "-mine"
	_, err = Create(e.ctx, e.iam, cluster.Client, other)
	if err == nil || !strings.Contains(err.Error(), "for ServiceAccount "+e.ns+"/mine") {
		t.Errorf("role of another ServiceAccount: err = %v", err)
	}
}

func TestCreateReannotatesAndListsPods(t *testing.T) {
	e := newEnv(t)
	old := roleARN("old-role")
	e.putServiceAccount("app", map[string]string{"eks.amazonaws.com/role-arn": old, "team": "payments"})
	e.putServiceAccount("other", nil)
	name := "irsa-" + e.ns + "-app"
	pod := func(name, sa string, env []corev1.EnvVar, owner *metav1.OwnerReference) {
		t.Helper()
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1", Env: env}}},
		}
		if owner != nil {
			p.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		if _, err := cluster.Client.CoreV1().Pods(e.ns).Create(e.ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No webhook runs: the pods keep what they were created with.
	pod("app-7d9f-x2x", "app", nil, &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-7d9f", UID: "0b0e5c1e-3f8a-4c5e-9d55-6c1d1d0d0001", Controller: aws.Bool(true)})
	pod("app-standalone", "app", []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: old}}, nil)
	pod("app-current", "app", []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: roleARN(name)}}, nil)
	pod("other-1", "other", nil, nil)

	res := e.create(e.options("app"))
	want := []Pod{{Name: "app-7d9f-x2x", Controller: "ReplicaSet/app-7d9f"}, {Name: "app-standalone"}}
	if !slices.Equal(res.PodsToRestart, want) {
		t.Errorf("pods to restart %+v, want %+v", res.PodsToRestart, want)
	}
	sa := e.serviceAccount("app")
	if sa.Annotations["eks.amazonaws.com/role-arn"] != roleARN(name) || sa.Annotations["team"] != "payments" {
		t.Errorf("annotations %v", sa.Annotations)
	}
	if _, labelled := sa.Labels["app.kubernetes.io/managed-by"]; labelled {
		t.Errorf("a ServiceAccount irsa did not create is labelled as irsa's: %v", sa.Labels)
	}
	i := slices.IndexFunc(res.Steps, func(s progress.Step) bool { return s.Name == "ServiceAccount "+e.ns+"/app" })
	if i < 0 || res.Steps[i].Outcome != progress.Updated || !strings.Contains(res.Steps[i].Detail, "it named role "+old) {
		t.Errorf("ServiceAccount step: %+v", res.Steps)
	}
	last := res.Steps[len(res.Steps)-1]
	if last.Name != "pods to restart" || !strings.Contains(last.Detail, "app-7d9f-x2x, app-standalone") || !strings.Contains(last.Detail, "changes nothing for running pods") {
		t.Errorf("last step %+v", last)
	}
}

func TestCreateTrustPolicyQuota(t *testing.T) {
	e := newEnv(t)
	name := "irsa-" + e.ns + "-app"
	// existing returns a trust policy trusting another cluster's provider
	// whose ServiceAccount name is padded so that, with irsa's statement
	// added, the policy is size characters long.
	existing := func(size int) string {
		other := "arn:aws:iam::123456789012:oidc-provider/oidc.other.example.com/c2"
		doc := func(pad int) string {
			s := TrustStatement(other, "https://oidc.other.example.com/c2", "sts.amazonaws.com", "prod", "app"+strings.Repeat("x", pad))
			return `{"Version":"2012-10-17","Statement":[` + string(s) + `]}`
		}
		m, err := mergeTrust(doc(0), e.providerARN, TrustStatement(e.providerARN, cluster.Issuer, "sts.amazonaws.com", e.ns, "app"))
		if err != nil {
			t.Fatal(err)
		}
		return doc(size - len(m.Document))
	}
	e.putRole(name, existing(1900), map[string]string{"irsa.dev/managed-by": "irsa"})
	res := e.create(e.options("app"))
	if len(res.TrustPolicy) != 1900 {
		t.Fatalf("trust policy is %d characters, the test wants 1900", len(res.TrustPolicy))
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "1900 of the 2048 characters") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if !slices.ContainsFunc(res.Steps, func(s progress.Step) bool {
		return s.Name == "trust policy size" && strings.HasPrefix(s.Detail, "warning: the trust policy is 1900 of the 2048")
	}) {
		t.Errorf("no warning step: %+v", res.Steps)
	}

	long := "irsa-" + e.ns + "-big"
	big := existing(2100)
	e.putRole(long, big, map[string]string{"irsa.dev/managed-by": "irsa"})
	opts := e.options("big")
	opts.RoleName = long
	_, err := Create(e.ctx, e.iam, cluster.Client, opts)
	if !errors.Is(err, ErrTrustPolicyTooLong) || !strings.Contains(err.Error(), "2100 characters, the quota is 2048") || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("too long: err = %v", err)
	}
	e.wantRefused(long, big, "big")
}

func TestCreateDryRun(t *testing.T) {
	e := newEnv(t)
	e.putServiceAccount("existing", map[string]string{"eks.amazonaws.com/role-arn": roleARN("old-role")})
	for _, sa := range []string{"app", "existing"} {
		opts := e.options(sa)
		opts.DryRun = true
		opts.PolicyARNs = []string{e.managedPolicy("team-" + sa)}
		res := e.create(opts)
		name := "irsa-" + e.ns + "-" + sa
		if e.roleExists(name) {
			t.Errorf("dry run created role %s", name)
		}
		if res.Changed || !res.DryRun {
			t.Errorf("dry run: changed %v, dryRun %v", res.Changed, res.DryRun)
		}
		if res.RoleARN != roleARN(name) || !samePolicy(string(res.TrustPolicy), `{"Version":"2012-10-17","Statement":[`+wantTrust(e.providerARN, e.ns, sa)+`]}`) || res.InlinePolicies["irsa-s3-app-data"] == nil {
			t.Errorf("dry run result: %+v", res)
		}
		for _, s := range res.Steps {
			if s.Outcome == progress.Skipped && !strings.HasPrefix(s.Detail, "would ") {
				t.Errorf("skipped step without what it would do: %+v", s)
			}
		}
		if !slices.ContainsFunc(res.Steps, func(s progress.Step) bool { return s.Detail == "would create: tagged irsa.dev/managed-by=irsa" }) {
			t.Errorf("no would-create step: %+v", res.Steps)
		}
	}
	if e.serviceAccount("app") != nil {
		t.Error("dry run created the ServiceAccount")
	}
	if got := e.serviceAccount("existing").Annotations["eks.amazonaws.com/role-arn"]; got != roleARN("old-role") {
		t.Errorf("dry run re-annotated the ServiceAccount: %s", got)
	}
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t)
	opts := e.options("app")
	opts.Issuer = "https://oidc.nowhere.example.com/c9"
	_, err := Create(e.ctx, e.iam, cluster.Client, opts)
	if !errors.Is(err, iamoidc.ErrNoProvider) || !strings.Contains(err.Error(), "irsa aws provider create --issuer "+opts.Issuer) {
		t.Errorf("no provider: err = %v", err)
	}

	opts = e.options("app")
	opts.Namespace = "no-such-namespace"
	_, err = Create(e.ctx, e.iam, cluster.Client, opts)
	if err == nil || !strings.Contains(err.Error(), "kubectl create namespace no-such-namespace") {
		t.Errorf("no namespace: err = %v", err)
	}
	if e.roleExists(DefaultRoleName("no-such-namespace", "app")) {
		t.Error("role created for a namespace that does not exist")
	}

	// A user without RBAC permissions in the namespace is told which.
	restricted := rest.CopyConfig(cluster.Config)
	restricted.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	nobody, err := kubernetes.NewForConfig(restricted)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Create(e.ctx, e.iam, nobody, e.options("app"))
	if err == nil || !strings.Contains(err.Error(), "forbidden: the kubeconfig's user needs get on serviceaccounts in namespace "+e.ns) {
		t.Errorf("forbidden: err = %v", err)
	}

	opts = e.options("app")
	opts.PolicyARNs = []string{"arn:aws:iam::123456789012:policy/missing"}
	_, err = Create(e.ctx, e.iam, cluster.Client, opts)
	if err == nil || !strings.Contains(err.Error(), "managed policy arn:aws:iam::123456789012:policy/missing does not exist") {
		t.Errorf("missing managed policy: err = %v", err)
	}
	if e.roleExists(DefaultRoleName(e.ns, "app")) {
		t.Error("role created with a missing managed policy")
	}
}
