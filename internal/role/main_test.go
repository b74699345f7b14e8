package role

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/progress"
)

// One real kube-apiserver and one moto_server serve every test of the
// package; each test resets moto and works in a namespace of its own.
var (
	cluster *localcluster.Cluster
	moto    *motoserver.Server
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "irsa-role-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster, err = localcluster.Start(filepath.Join(dir, "cluster"), localcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "role: cannot start the test cluster:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := motoserver.RunTests(m, &moto)
	// os.Exit runs no deferred call: stop the cluster first.
	cluster.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is one test's AWS account (moto, reset) with the IAM identity
// provider of the cluster's issuer, and its own namespace.
type testEnv struct {
	t           *testing.T
	ctx         context.Context
	iam         *iam.Client
	ns          string
	providerARN string
}

var namespaces atomic.Int32

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Fresh(t, "us-east-1")
	e := &testEnv{t: t, ctx: ctx, iam: iam.NewFromConfig(cfg)}
	res, err := iamoidc.Ensure(ctx, e.iam, iamoidc.Options{Issuer: cluster.Issuer, Thumbprint: strings.Repeat("ab", 20)})
	if err != nil {
		t.Fatal(err)
	}
	e.providerARN = res.ARN
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	e.ns = fmt.Sprintf("%.50s-%d", name, namespaces.Add(1))
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

// options returns options for ServiceAccount sa with an S3 bucket policy,
// reporting to the test log.
func (e *testEnv) options(sa string) Options {
	return Options{
		Namespace:      e.ns,
		ServiceAccount: sa,
		Issuer:         cluster.Issuer,
		S3Bucket:       "app-data",
		Report:         func(s progress.Step) { e.t.Logf("%s %s (%s)", s.Outcome, s.Name, s.Detail) },
	}
}

func (e *testEnv) create(opts Options) Result {
	e.t.Helper()
	res, err := Create(e.ctx, e.iam, cluster.Client, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// roleARN is the ARN moto gives role name.
func roleARN(name string) string { return "arn:aws:iam::" + motoserver.Account + ":role/" + name }

// getRole returns the role, failing the test if it is missing.
func (e *testEnv) getRole(name string) *iamtypes.Role {
	e.t.Helper()
	out, err := e.iam.GetRole(e.ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Role
}

// trustPolicy returns the role's trust policy, decoded.
func (e *testEnv) trustPolicy(name string) string {
	e.t.Helper()
	doc, err := decodePolicy(aws.ToString(e.getRole(name).AssumeRolePolicyDocument))
	if err != nil {
		e.t.Fatal(err)
	}
	return doc
}

func (e *testEnv) roleExists(name string) bool {
	e.t.Helper()
	_, err := e.iam.GetRole(e.ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil && !isNoSuchEntity(err) {
		e.t.Fatal(err)
	}
	return err == nil
}

// putRole creates a role as someone else would, with the tags given.
func (e *testEnv) putRole(name, trust string, tags map[string]string) {
	e.t.Helper()
	var list []iamtypes.Tag
	for k, v := range tags {
		list = append(list, iamtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := e.iam.CreateRole(e.ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust), Tags: list}); err != nil {
		e.t.Fatal(err)
	}
}

// managedPolicy creates a customer managed policy and returns its ARN
// (moto_server does not load AWS managed policies unless told to).
func (e *testEnv) managedPolicy(name string) string {
	e.t.Helper()
	out, err := e.iam.CreatePolicy(e.ctx, &iam.CreatePolicyInput{
		PolicyName:     aws.String(name),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}`),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.Policy.Arn)
}

func (e *testEnv) attached(role string) []string {
	e.t.Helper()
	arns, err := attachedPolicies(e.ctx, e.iam, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return arns
}

func (e *testEnv) inline(role string) []string {
	e.t.Helper()
	names, err := inlinePolicies(e.ctx, e.iam, role)
	if err != nil {
		e.t.Fatal(err)
	}
	return names
}

func (e *testEnv) inlineDocument(role, name string) string {
	e.t.Helper()
	out, err := e.iam.GetRolePolicy(e.ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	doc, err := decodePolicy(aws.ToString(out.PolicyDocument))
	if err != nil {
		e.t.Fatal(err)
	}
	return doc
}

// serviceAccount returns the ServiceAccount, or nil when it does not exist.
func (e *testEnv) serviceAccount(name string) *corev1.ServiceAccount {
	e.t.Helper()
	sa, err := cluster.Client.CoreV1().ServiceAccounts(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return sa
}

func (e *testEnv) putServiceAccount(name string, annotations map[string]string) {
	e.t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if _, err := cluster.Client.CoreV1().ServiceAccounts(e.ns).Create(e.ctx, sa, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// wantPolicy fails the test unless got is the policy want, as IAM reads it.
func wantPolicy(t *testing.T, what, got, want string) {
	t.Helper()
	if !samePolicy(got, want) {
		t.Errorf("%s:\n%s\nwant\n%s", what, got, want)
	}
}

// wantUnchanged fails the test if a step changed something.
func wantUnchanged(t *testing.T, what string, steps []progress.Step) {
	t.Helper()
	for _, s := range steps {
		if progress.Changed([]progress.Step{s}) {
			t.Errorf("%s changed %s: %s (%s)", what, s.Name, s.Outcome, s.Detail)
		}
	}
}

// wantRefused fails the test if a refused Create changed anything: the
// role's trust policy is still trust, it has no inline policy, and the
// ServiceAccount sa was not created.
func (e *testEnv) wantRefused(role, trust, sa string) {
	e.t.Helper()
	wantPolicy(e.t, "trust policy of the refused role", e.trustPolicy(role), trust)
	if got := e.inline(role); len(got) != 0 {
		e.t.Errorf("inline policies put on a refused role: %v", got)
	}
	if e.serviceAccount(sa) != nil {
		e.t.Error("ServiceAccount created although the role was refused")
	}
}
