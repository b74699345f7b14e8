package doctor_test

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/doctor"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/role"
	"github.com/irsa-dev/irsa/internal/s3issuer"
	"github.com/irsa-dev/irsa/internal/setup"
	"github.com/irsa-dev/irsa/internal/webhook"
)

const bucket, region = "irsa-doctor-test", "us-east-1"

// watchedLabel marks the namespaces the test webhook serves.
const watchedLabel = "irsa-doctor-test"

var (
	cluster *localcluster.Cluster
	moto    *motoserver.Server
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

// run starts one cluster signing for the bucket, the webhook serving the
// namespaces labelled watchedLabel, and moto, for every test.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "doctor-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	issuer, _ := s3issuer.IssuerURL(bucket, region)
	if cluster, err = localcluster.Start(filepath.Join(dir, "cluster"), localcluster.Options{Issuer: issuer}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cluster.Stop()
	stop, err := startWebhook(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return motoserver.RunTests(m, &moto)
}

func startWebhook(dir string) (func(), error) {
	w, err := localcluster.StartWebhook(context.Background(), cluster.Kubeconfig, filepath.Join(dir, "webhook"), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	mwc := webhook.Configuration("irsa-doctor-test", admissionregistrationv1.WebhookClientConfig{URL: &w.URL, CABundle: w.CA.CertPEM},
		admissionregistrationv1.Fail, &metav1.LabelSelector{MatchLabels: map[string]string{watchedLabel: "on"}})
	if _, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(context.Background(), mwc, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	return func() { _ = w.Stop() }, nil
}

// chain is a working setup: issuer published, provider, a namespace the
// webhook serves, and a role for ServiceAccount "app" there.
type chain struct {
	t       *testing.T
	ns      string
	clients doctor.Clients
	iam     *iam.Client
	s3      *s3.Client
	issuer  string
	roleARN string
}

func newChain(t *testing.T) *chain {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Fresh(t, region)
	ch := &chain{t: t, iam: iam.NewFromConfig(cfg), s3: s3.NewFromConfig(cfg, s3issuer.QuietChecksums)}
	kube, dyn, mapper, err := setup.KubeClients(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	res, err := setup.Run(ctx, setup.Clients{Kube: kube, Dynamic: dyn, Mapper: mapper, S3: ch.s3, CloudFront: cloudfront.NewFromConfig(cfg), IAM: ch.iam}, setup.Options{
		FromCluster: true, Bucket: bucket, Region: region,
		HTTPClient: moto.HTTPClient(),
		SkipPhases: []string{setup.PhaseWebhook},
	})
	if err != nil {
		t.Fatal(err)
	}
	ch.issuer = res.Issuer
	ch.ns = ch.namespace(true)
	ch.roleARN = ch.role("app")
	ch.clients = doctor.Clients{Kube: cluster.Client, IAM: ch.iam, STS: sts.NewFromConfig(cfg), HTTPClient: moto.HTTPClient()}
	return ch
}

func (ch *chain) namespace(watched bool) string {
	ch.t.Helper()
	name := "doctor-" + rand.String(6)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if watched {
		ns.Labels = map[string]string{watchedLabel: "on"}
	}
	if _, err := cluster.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		ch.t.Fatal(err)
	}
	return name
}

// role creates the role of ServiceAccount sa in the chain's namespace,
// and the ServiceAccount annotated with it.
func (ch *chain) role(sa string) string {
	ch.t.Helper()
	res, err := role.Create(context.Background(), ch.iam, cluster.Client, role.Options{Namespace: ch.ns, ServiceAccount: sa, S3Bucket: "app-data", Issuer: ch.issuer})
	if err != nil {
		ch.t.Fatal(err)
	}
	return res.RoleARN
}

func (ch *chain) annotate(sa, key, value string) {
	ch.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	if _, err := cluster.Client.CoreV1().ServiceAccounts(ch.ns).Patch(context.Background(), sa, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		ch.t.Fatal(err)
	}
}

func (ch *chain) serviceAccount(name string) {
	ch.t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ch.ns}}
	if _, err := cluster.Client.CoreV1().ServiceAccounts(ch.ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		ch.t.Fatal(err)
	}
}

func (ch *chain) pod(name, sa string) {
	ch.t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ch.ns},
		Spec:       corev1.PodSpec{ServiceAccountName: sa, Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	if _, err := cluster.Client.CoreV1().Pods(ch.ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		ch.t.Fatal(err)
	}
}

func (ch *chain) doctor(opts doctor.Options) doctor.Report {
	ch.t.Helper()
	opts.Namespace = ch.ns
	r := doctor.Run(context.Background(), ch.clients, opts)
	for _, c := range r.Checks {
		ch.t.Logf("%-12s %s: %s | %s | %s", c.Status, c.Name, c.Detail, c.Cause, c.Fix)
	}
	return r
}

// wantProblem asserts that check is the first problem, and that its cause
// and fix say the given words.
func wantProblem(t *testing.T, r doctor.Report, check string, cause, fix string) {
	t.Helper()
	if r.Healthy {
		t.Fatalf("report healthy, want a problem in %q", check)
	}
	for _, c := range r.Checks {
		if c.Status != doctor.Problem {
			continue
		}
		if c.Name != check {
			t.Fatalf("first problem in %q (%s), want %q", c.Name, c.Cause, check)
		}
		if !strings.Contains(c.Cause, cause) || !strings.Contains(c.Fix, fix) {
			t.Errorf("%s: cause %q, fix %q; want them to say %q and %q", check, c.Cause, c.Fix, cause, fix)
		}
		return
	}
	t.Fatalf("no problem reported, want one in %q", check)
}

func TestHealthyChain(t *testing.T) {
	ch := newChain(t)
	ch.pod("web", "app")
	for _, opts := range []doctor.Options{{Pod: "web"}, {ServiceAccount: "app"}} {
		r := ch.doctor(opts)
		if !r.Healthy {
			t.Fatalf("%+v: not healthy", opts)
		}
		for _, c := range r.Checks {
			if c.Status != doctor.OK {
				t.Errorf("%s: %s", c.Name, c.Status)
			}
		}
	}
}

func TestNoAnnotation(t *testing.T) {
	ch := newChain(t)
	ch.serviceAccount("plain")
	r := ch.doctor(doctor.Options{ServiceAccount: "plain"})
	wantProblem(t, r, doctor.CheckAnnotation, "has no eks.amazonaws.com/role-arn annotation", "irsa role create -n "+ch.ns+" --service-account plain")
}

func TestInvalidAnnotation(t *testing.T) {
	ch := newChain(t)
	ch.serviceAccount("typo")
	ch.annotate("typo", "eks.amazonaws.com/role-arn", "arn:aws:iam::123456789012:roles/app")
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "typo"}), doctor.CheckAnnotation, "is not an IAM role ARN", "kubectl annotate --overwrite")
}

func TestPodOlderThanAnnotation(t *testing.T) {
	ch := newChain(t)
	ch.serviceAccount("late")
	ch.pod("early", "late")
	// Managed field times have a resolution of a second: annotate in the
	// next one.
	time.Sleep(1100 * time.Millisecond)
	ch.annotate("late", "eks.amazonaws.com/role-arn", ch.roleARN)
	r := ch.doctor(doctor.Options{Pod: "early"})
	// This test cluster's API server keeps no managed fields, so the age
	// is not checked here (TestPodAgeFromManagedFields checks it); the
	// missing mutation is.
	wantProblem(t, r, doctor.CheckPodMutated, "predates the annotation", "kubectl delete pod")
}

// TestPodAgeFromManagedFields reads when the annotation was set from the
// ServiceAccount's managed fields, as a real cluster keeps them.
func TestPodAgeFromManagedFields(t *testing.T) {
	created := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	annotated := metav1.NewTime(created.Add(time.Hour))
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: "late", Namespace: "apps",
		Annotations: map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/late"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-create", Operation: metav1.ManagedFieldsOperationUpdate, Time: ptr.To(metav1.NewTime(created.Add(-time.Hour))), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}},
			{Manager: "kubectl-annotate", Operation: metav1.ManagedFieldsOperationUpdate, Time: &annotated, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{".":{},"f:eks.amazonaws.com/role-arn":{}}}}`)}},
		},
	}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "early", Namespace: "apps", CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{ServiceAccountName: "late", Containers: []corev1.Container{{Name: "app"}}},
	}
	r := doctor.Run(context.Background(), doctor.Clients{Kube: fake.NewClientset(sa, pod)}, doctor.Options{Namespace: "apps", Pod: "early"})
	wantProblem(t, r, doctor.CheckPodAge, "created before its ServiceAccount got the role annotation", "recreate the pod")
	if !strings.Contains(r.Checks[2].Detail, "2026-11-01T11:00:00Z") {
		t.Errorf("detail %q lacks the annotation's time", r.Checks[2].Detail)
	}
}

func TestNamespaceNotServedByWebhook(t *testing.T) {
	ch := newChain(t)
	ch.ns = ch.namespace(false)
	ch.roleARN = ch.role("app")
	ch.pod("web", "app")
	r := ch.doctor(doctor.Options{Pod: "web"})
	wantProblem(t, r, doctor.CheckPodMutated, "the webhook did not give this pod its role", "check the webhook below")
	for _, c := range r.Checks {
		if c.Name == doctor.CheckWebhook && (c.Status != doctor.Problem || !strings.Contains(c.Cause, "namespaceSelector")) {
			t.Errorf("webhook check: %+v", c)
		}
	}
}

func TestDocumentsNotPublic(t *testing.T) {
	ch := newChain(t)
	if _, err := ch.s3.DeleteBucketPolicy(context.Background(), &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckIssuer, "403", "irsa oidc publish")
}

func TestKeyMissingFromPublishedSet(t *testing.T) {
	ch := newChain(t)
	// The published key set holds another key only: a rotation published
	// without the key the cluster signs with now.
	dir := t.TempDir()
	key, _, _, err := localcluster.NewSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	set, err := oidc.KeySet([]crypto.PublicKey{&key.PublicKey}, oidc.KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := s3issuer.Document(set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3issuer.KeySetKey), Body: strings.NewReader(string(body))}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckIssuer, "is not in the key set", "--from-cluster")
}

func TestNoProvider(t *testing.T) {
	ch := newChain(t)
	arn := "arn:aws:iam::" + motoserver.Account + ":oidc-provider/" + strings.TrimPrefix(ch.issuer, "https://")
	if _, err := ch.iam.DeleteOpenIDConnectProvider(context.Background(), &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn}); err != nil {
		t.Fatal(err)
	}
	// A provider for the issuer with a trailing slash does not count.
	if _, err := ch.iam.CreateOpenIDConnectProvider(context.Background(), &iam.CreateOpenIDConnectProviderInput{Url: aws.String(ch.issuer + "/"), ClientIDList: []string{"sts.amazonaws.com"}}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckProvider, "no OIDC identity provider for exactly", "irsa aws provider create --issuer "+ch.issuer)
}

func TestAudienceNotAClientID(t *testing.T) {
	ch := newChain(t)
	ch.annotate("app", "eks.amazonaws.com/audience", "vault")
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckProvider, `lack the token's audience "vault"`, "--audience vault")
}

func TestTrustPolicyForAnotherServiceAccount(t *testing.T) {
	ch := newChain(t)
	other := ch.role("other")
	ch.annotate("app", "eks.amazonaws.com/role-arn", other)
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckTrust, "system:serviceaccount:"+ch.ns+":other", "irsa role create -n "+ch.ns+" --service-account app")
}

func TestRoleMissing(t *testing.T) {
	ch := newChain(t)
	ch.annotate("app", "eks.amazonaws.com/role-arn", "arn:aws:iam::"+motoserver.Account+":role/nobody")
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckTrust, "does not exist", "irsa role create")
}

func TestRoleWithoutPolicies(t *testing.T) {
	ch := newChain(t)
	name := role.DefaultRoleName(ch.ns, "app")
	if _, err := ch.iam.DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: aws.String(role.S3PolicyName("app-data"))}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckPermissions, "the role has no policy", "--s3-bucket")
}

func TestWebhookNotRegistered(t *testing.T) {
	ch := newChain(t)
	mwcs := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	saved, err := mwcs.Get(context.Background(), "irsa-doctor-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := mwcs.Delete(context.Background(), saved.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		saved.ResourceVersion = ""
		if _, err := mwcs.Create(context.Background(), saved, metav1.CreateOptions{}); err != nil {
			t.Error(err)
		}
	})
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckWebhook, "nothing injects roles into pods", "irsa setup")
}

// fakeSTS answers AssumeRoleWithWebIdentity with err: moto accepts every
// token, so STS's refusals are produced here.
type fakeSTS struct{ err error }

func (f fakeSTS) AssumeRoleWithWebIdentity(context.Context, *sts.AssumeRoleWithWebIdentityInput, ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return nil, f.err
}

func TestSTSRefusals(t *testing.T) {
	ch := newChain(t)
	for _, tc := range []struct {
		err        error
		cause, fix string
	}{
		{&ststypes.InvalidIdentityTokenException{Message: aws.String("Couldn't retrieve verification key from your identity provider")}, "InvalidIdentityToken", "irsa token verify --issuer " + ch.issuer},
		{&ststypes.IDPCommunicationErrorException{Message: aws.String("timeout")}, "could not fetch the issuer's documents", "readable from the internet"},
		{&ststypes.ExpiredTokenException{Message: aws.String("expired")}, "ExpiredToken", "clocks"},
		{&smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"}, "trust policy does not let this token in", "irsa role create -n " + ch.ns + " --service-account app"},
	} {
		ch.clients.STS = fakeSTS{err: tc.err}
		wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckAssumeRole, tc.cause, tc.fix)
	}
}

func TestDiscoveryIssuerWithTrailingSlash(t *testing.T) {
	ch := newChain(t)
	// Published by hand for "ISSUER/": the documents no longer name the
	// issuer the cluster signs with.
	d, err := oidc.NewDiscovery(ch.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Issuer += "/"
	body, err := s3issuer.Document(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3issuer.DiscoveryKey), Body: strings.NewReader(string(body))}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckIssuer, "trailing slash", "irsa oidc publish")
}

// TestWebhookNotRunning registers the webhook as setup installs it, behind
// its Service, with nothing serving it: this cluster has no nodes.
func TestWebhookNotRunning(t *testing.T) {
	ch := newChain(t)
	url := "https://127.0.0.1:1/mutate"
	mwc := webhook.Configuration("irsa-doctor-service", admissionregistrationv1.WebhookClientConfig{URL: &url}, admissionregistrationv1.Ignore,
		&metav1.LabelSelector{MatchLabels: map[string]string{watchedLabel: "on"}})
	mwc.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "irsa-system", Name: "irsa-webhook"}}
	mwcs := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations()
	if _, err := mwcs.Create(context.Background(), mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mwcs.Delete(context.Background(), mwc.Name, metav1.DeleteOptions{}) })
	wantProblem(t, ch.doctor(doctor.Options{ServiceAccount: "app"}), doctor.CheckWebhook, "Service irsa-system/irsa-webhook", "")
}

// TestPodWithRoleIsFineWhateverManagedFieldsSay: managed field times move
// with any change by the same manager; a pod that has its role is fine.
// Containers the pod asks the webhook to skip are not expected to have it.
func TestPodWithRoleIsFineWhateverManagedFieldsSay(t *testing.T) {
	created := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	roleARN := "arn:aws:iam::123456789012:role/app"
	later := metav1.NewTime(created.Add(time.Hour))
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: "app", Namespace: "apps",
		Annotations:   map[string]string{"eks.amazonaws.com/role-arn": roleARN},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate, Time: &later, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:eks.amazonaws.com/role-arn":{}},"f:labels":{"f:version":{}}}}`)}}},
	}}
	mutated := corev1.Container{Name: "app",
		Env:          []corev1.EnvVar{{Name: "AWS_ROLE_ARN", Value: roleARN}, {Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "aws-iam-token", MountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount"}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps", CreationTimestamp: metav1.NewTime(created),
			Annotations: map[string]string{"eks.amazonaws.com/skip-containers": "proxy"}},
		Spec: corev1.PodSpec{ServiceAccountName: "app",
			Containers: []corev1.Container{mutated, {Name: "proxy"}},
			Volumes:    []corev1.Volume{{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}}},
	}
	r := doctor.Run(context.Background(), doctor.Clients{Kube: fake.NewClientset(sa, pod)}, doctor.Options{Namespace: "apps", Pod: "web"})
	for _, c := range r.Checks[:4] {
		if c.Status != doctor.OK {
			t.Errorf("%s: %s (%s)", c.Name, c.Status, c.Cause)
		}
	}
}

// TestRoleFromMappingConfigMap: a ServiceAccount the webhook binds through
// its mapping ConfigMap (--watch-config-map) has no annotation, and that
// is fine.
func TestRoleFromMappingConfigMap(t *testing.T) {
	roleARN := "arn:aws:iam::123456789012:role/mapped"
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "mapped", Namespace: "apps"}}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Namespace: "irsa-system"},
		Data:       map[string]string{"config": `{"apps/mapped": {"RoleARN": "` + roleARN + `"}}`},
	}
	r := doctor.Run(context.Background(), doctor.Clients{Kube: fake.NewClientset(sa, cm)}, doctor.Options{Namespace: "apps", ServiceAccount: "mapped"})
	c := r.Checks[1]
	if c.Name != doctor.CheckAnnotation || c.Status != doctor.OK || !strings.Contains(c.Detail, roleARN) || !strings.Contains(c.Detail, "ConfigMap irsa-system/pod-identity-webhook") {
		t.Errorf("%+v", c)
	}
}

// TestPermissionsForACall evaluates the role's inline and attached
// policies for the call the pod makes.
func TestPermissionsForACall(t *testing.T) {
	ch := newChain(t)
	ctx := context.Background()
	check := func(action, resource string) doctor.Check {
		t.Helper()
		r := ch.doctor(doctor.Options{ServiceAccount: "app", Action: action, Resource: resource})
		for _, c := range r.Checks {
			if c.Name == doctor.CheckPermissions {
				return c
			}
		}
		t.Fatal("no permissions check")
		return doctor.Check{}
	}
	if c := check("s3:PutObject", "arn:aws:s3:::app-data/report.csv"); c.Status != doctor.OK || !strings.Contains(c.Detail, "irsa-s3-app-data") {
		t.Errorf("write to its bucket: %+v", c)
	}
	c := check("s3:PutObject", "arn:aws:s3:::another-teams-data/report.csv")
	if c.Status != doctor.Problem || !strings.Contains(c.Cause, "allows s3:PutObject on arn:aws:s3:::another-teams-data/report.csv") || !strings.Contains(c.Fix, "irsa role create") {
		t.Errorf("write to another bucket: %+v", c)
	}

	// An attached managed policy counts too.
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:orders"}]}`
	policy, err := ch.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("orders-writer"), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatal(err)
	}
	name := role.DefaultRoleName(ch.ns, "app")
	if _, err := ch.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: policy.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	if c := check("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:orders"); c.Status != doctor.OK || !strings.Contains(c.Detail, "orders-writer") {
		t.Errorf("attached policy: %+v", c)
	}
}
