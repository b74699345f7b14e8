package setup_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
	"github.com/irsa-dev/irsa/internal/setup"
)

// The cluster signs with the address of this bucket, as it would after
// `irsa setup` on a real cluster.
const bucket, region = "irsa-setup-test", "us-east-1"

var (
	moto    *motoserver.Server
	cluster *localcluster.Cluster
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "setup-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	issuer, _ := s3issuer.IssuerURL(bucket, region)
	if cluster, err = localcluster.Start(dir, localcluster.Options{Issuer: issuer}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cluster.Stop()
	return motoserver.RunTests(m, &moto)
}

// newRun resets AWS and returns clients and the options of a full setup
// into the bucket the cluster signs for.
func newRun(t *testing.T) (setup.Clients, setup.Options) {
	t.Helper()
	cfg := moto.Fresh(t, region)
	kube, dyn, mapper, err := setup.KubeClients(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	c := setup.Clients{
		Kube: kube, Dynamic: dyn, Mapper: mapper,
		S3:         s3.NewFromConfig(cfg, s3issuer.QuietChecksums),
		CloudFront: cloudfront.NewFromConfig(cfg),
		IAM:        iam.NewFromConfig(cfg),
	}
	opts := setup.Options{
		FromCluster: true,
		Bucket:      bucket, Region: region,
		HTTPClient: moto.HTTPClient(),
		CertMode:   deploy.SelfSigned,
	}
	return c, opts
}

func phaseOutcomes(res setup.Result) map[string]progress.Outcome {
	out := map[string]progress.Outcome{}
	for _, s := range res.Steps {
		if name, ok := strings.CutPrefix(s.Name, "phase "); ok {
			out[name] = s.Outcome
		}
	}
	return out
}

func TestSetupTwice(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	var log bytes.Buffer
	opts.Report = progress.Printer(&log)
	res, err := setup.Run(ctx, c, opts)
	t.Logf("first run:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	got := phaseOutcomes(res)
	if got[setup.PhasePublish] != progress.Created || got[setup.PhaseProvider] != progress.Created || got[setup.PhaseVerify] != progress.Checked {
		t.Errorf("phases %v", got)
	}
	if got[setup.PhaseClusterIssuer] != progress.Checked {
		t.Errorf("cluster-issuer: %s, want checked (the cluster already signs with the bucket)", got[setup.PhaseClusterIssuer])
	}
	if res.ProviderARN != "arn:aws:iam::"+motoserver.Account+":oidc-provider/"+bucket+".s3."+region+".amazonaws.com" {
		t.Errorf("provider %q", res.ProviderARN)
	}

	// The webhook is registered with the CA of the certificate in its Secret.
	secret, bundle := webhookTLS(t)
	if !bytes.Equal(bundle, secret.Data["ca.crt"]) || len(secret.Data["tls.key"]) == 0 {
		t.Error("the webhook configuration's caBundle is not the CA of the serving certificate")
	}
	if _, err := cluster.Client.AppsV1().Deployments(deploy.Namespace).Get(ctx, deploy.Name, metav1.GetOptions{}); err != nil {
		t.Error(err)
	}

	log.Reset()
	res, err = setup.Run(ctx, c, opts)
	t.Logf("second run:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("the second run changed something:\n%s", log.String())
	}
}

// TestSetupResumes cuts a run off after each phase in turn, then runs
// again: the second run finishes the job and a third changes nothing.
func TestSetupResumes(t *testing.T) {
	for _, stopAfter := range setup.Phases[:len(setup.Phases)-1] {
		t.Run("after "+stopAfter, func(t *testing.T) {
			c, opts := newRun(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts.Report = func(s progress.Step) {
				if s.Name == "phase "+stopAfter {
					cancel()
				}
			}
			if _, err := setup.Run(ctx, c, opts); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: err = %v", err)
			}
			opts.Report = nil
			if _, err := setup.Run(context.Background(), c, opts); err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			res, err := setup.Run(context.Background(), c, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Changed() {
				t.Errorf("the run after the resumed one changed %+v", res.Steps)
			}
		})
	}
}

func TestSetupDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	var out bytes.Buffer
	opts.DryRun, opts.Out = true, &out
	opts.SkipPhases = []string{setup.PhaseWebhook} // the webhook objects exist from other tests
	if _, err := setup.Run(ctx, c, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"issuer": "https://irsa-setup-test.s3.us-east-1.amazonaws.com"`, `"kid"`, s3issuer.PolicySid, "client IDs sts.amazonaws.com"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the plan lacks %s:\n%s", want, out.String())
		}
	}
	_, err := c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	var notFound *s3types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("dry run made the bucket: %v", err)
	}
}

// TestSetupOtherIssuer: a cluster that signs with another issuer gets the
// kube-apiserver flags to set, and verify says the cluster is not there yet.
func TestSetupOtherIssuer(t *testing.T) {
	c, opts := newRun(t)
	opts.Bucket = "irsa-setup-other"
	opts.SkipPhases = []string{setup.PhaseWebhook}
	var out bytes.Buffer
	opts.Out = &out
	res, err := setup.Run(context.Background(), c, opts)
	if err == nil || !strings.Contains(err.Error(), "phase verify") || !strings.Contains(err.Error(), "cluster-issuer") {
		t.Fatalf("err = %v", err)
	}
	if phaseOutcomes(res)[setup.PhaseClusterIssuer] != progress.Skipped {
		t.Errorf("phases %v", phaseOutcomes(res))
	}
	want := "--service-account-issuer=https://irsa-setup-other.s3.us-east-1.amazonaws.com\n  --service-account-issuer=" + cluster.Issuer
	if !strings.Contains(out.String(), want) {
		t.Errorf("flags printed:\n%s\nwant the new issuer first, then the current one:\n%s", out.String(), want)
	}
}

// TestSetupOpenShiftIssuer sets spec.serviceAccountIssuer on OpenShift's
// authentication config, installed here as its CRD and object.
func TestSetupOpenShiftIssuer(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	opts.SkipPhases = []string{setup.PhaseWebhook, setup.PhaseVerify}
	installAuthentication(t, "https://old.example.com")

	res, err := setup.Run(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := phaseOutcomes(res)[setup.PhaseClusterIssuer]; got != progress.Updated {
		t.Errorf("cluster-issuer: %s", got)
	}
	auth, err := c.Dynamic.Resource(setup.OpenShiftAuthentication).Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(auth.Object, "spec", "serviceAccountIssuer"); got != res.Issuer {
		t.Errorf("serviceAccountIssuer %q, want %q", got, res.Issuer)
	}
	res, err = setup.Run(ctx, c, opts)
	if err != nil || res.Changed() {
		t.Errorf("second run: %+v, %v", res.Steps, err)
	}
}

func installAuthentication(t *testing.T, issuer string) {
	t.Helper()
	remove, err := cluster.InstallOpenShiftAuthentication(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
}

// TestTeardownLeavesForeignResources: teardown removes what setup made,
// and keeps what others put beside it.
func TestTeardownLeavesForeignResources(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	iamClient := c.IAM.(*iam.Client)
	s3Client := c.S3.(*s3.Client)
	// Someone else's provider for another issuer, and their object and
	// ConfigMap next to irsa's.
	other, err := iamClient.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://theirs.example.com"), ClientIDList: []string{"sts.amazonaws.com"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := setup.Run(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("theirs.txt"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Namespace: deploy.Namespace}}
	if _, err := cluster.Client.CoreV1().ConfigMaps(deploy.Namespace).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().ConfigMaps(deploy.Namespace).Delete(context.Background(), theirs.Name, metav1.DeleteOptions{})
	})

	tc := setup.TeardownClients{Dynamic: c.Dynamic, Mapper: c.Mapper, S3: s3Client, IAM: iamClient}
	var log bytes.Buffer
	topts := setup.TeardownOptions{Bucket: bucket, Issuer: res.Issuer, CertMode: deploy.SelfSigned, Report: progress.Printer(&log)}
	if err := setup.Teardown(ctx, tc, topts); err != nil {
		t.Fatal(err)
	}
	t.Logf("teardown:\n%s", log.String())

	// irsa's: gone.
	if _, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, deploy.WebhookCfg, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("webhook configuration: %v", err)
	}
	if _, err := iamClient.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &res.ProviderARN}); err == nil {
		t.Error("irsa's provider is still there")
	}
	if _, err := s3Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3issuer.KeySetKey)}); err == nil {
		t.Error("keys.json is still there")
	}
	// Theirs: kept, and the bucket with it.
	if _, err := iamClient.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: other.OpenIDConnectProviderArn}); err != nil {
		t.Errorf("their provider: %v", err)
	}
	if _, err := s3Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("theirs.txt")}); err != nil {
		t.Errorf("their object: %v", err)
	}
	if _, err := cluster.Client.CoreV1().ConfigMaps(deploy.Namespace).Get(ctx, theirs.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("their ConfigMap: %v", err)
	}

	// Once their object is gone, the bucket irsa made goes too; a second
	// teardown finds nothing left to do.
	if _, err := s3Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("theirs.txt")}); err != nil {
		t.Fatal(err)
	}
	if err := setup.Teardown(ctx, tc, topts); err != nil {
		t.Fatal(err)
	}
	_, err = s3Client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	var notFound *s3types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("the empty bucket irsa made is still there: %v", err)
	}
}

// TestSetupGeneratesKeysOnce: --generate-keys makes a pair in the key
// directory on the first run and reuses it on the next; the published key
// set holds it, and the flags to give kube-apiserver name its files.
func TestSetupGeneratesKeysOnce(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	opts.FromCluster, opts.GenerateKeys, opts.KeyDir = false, true, t.TempDir()
	opts.Bucket = "irsa-setup-generated"
	opts.SkipPhases = []string{setup.PhaseWebhook, setup.PhaseVerify}
	var out bytes.Buffer
	opts.Out = &out
	res, err := setup.Run(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := phaseOutcomes(res)[setup.PhaseKeys]; got != progress.Created {
		t.Errorf("keys: %s", got)
	}
	info, err := os.Stat(filepath.Join(opts.KeyDir, oidc.SigningKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v", info, err)
	}
	pub, err := os.ReadFile(filepath.Join(opts.KeyDir, oidc.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := oidc.ParsePublicKeys(pub)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := oidc.KeyID(keys[0])
	obj, err := c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String(s3issuer.KeySetKey)})
	if err != nil {
		t.Fatal(err)
	}
	published, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !strings.Contains(string(published), kid) {
		t.Errorf("published key set lacks the generated key %s:\n%s", kid, published)
	}
	if !strings.Contains(out.String(), "--service-account-signing-key-file="+opts.KeyDir+"/"+oidc.SigningKeyFile) {
		t.Errorf("flags printed:\n%s", out.String())
	}

	res, err = setup.Run(ctx, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("second run changed %+v", res.Steps)
	}
	again, _ := os.ReadFile(filepath.Join(opts.KeyDir, oidc.PublicKeyFile))
	if !bytes.Equal(again, pub) {
		t.Error("the second run replaced the key pair")
	}
}

// TestSetupExistingIssuer: a cluster whose issuer is already served gets
// only the provider, the webhook and the check that the served documents
// hold the key it signs with now.
func TestSetupExistingIssuer(t *testing.T) {
	ctx := context.Background()
	c, opts := newRun(t)
	issuer, _ := s3issuer.IssuerURL(bucket, region)
	// Served already, by someone else's tooling.
	keys, err := oidc.ReadClusterKeys(ctx, cluster.Client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3issuer.Publish(ctx, c.S3, s3issuer.Options{Bucket: bucket, Region: region, Keys: keys.Keys, HTTPClient: opts.HTTPClient}); err != nil {
		t.Fatal(err)
	}
	existing := setup.Options{ExistingIssuer: issuer, HTTPClient: opts.HTTPClient, SkipPhases: []string{setup.PhaseWebhook}}
	res, err := setup.Run(ctx, c, existing)
	if err != nil {
		t.Fatal(err)
	}
	got := phaseOutcomes(res)
	if got[setup.PhaseKeys] != progress.Skipped || got[setup.PhasePublish] != progress.Skipped || got[setup.PhaseProvider] != progress.Created || got[setup.PhaseVerify] != progress.Checked {
		t.Errorf("phases %v", got)
	}

	// The served key set lacks the key the cluster signs with: verify says so.
	other, _, err := oidc.EnsureSigningKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3issuer.Publish(ctx, c.S3, s3issuer.Options{Bucket: bucket, Region: region, Keys: []crypto.PublicKey{other}, HTTPClient: opts.HTTPClient}); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Run(ctx, c, existing); err == nil || !strings.Contains(err.Error(), "key-id") {
		t.Errorf("documents without the cluster's key: err = %v", err)
	}
}

// TestSelfSignedRenewal: the serving certificate is renewed from the kept
// CA without touching the caBundle; a CA near its end is replaced with
// the old one still in the bundle.
func TestSelfSignedRenewal(t *testing.T) {
	ctx := context.Background()
	c, _ := newRun(t)
	now := time.Now()
	opts := setup.Options{
		Issuer:     "https://irsa-setup-test.s3.us-east-1.amazonaws.com",
		CertMode:   deploy.SelfSigned,
		SkipPhases: []string{setup.PhaseKeys, setup.PhasePublish, setup.PhaseProvider, setup.PhaseClusterIssuer, setup.PhaseVerify},
		Now:        func() time.Time { return now },
	}
	if _, err := setup.Run(ctx, c, opts); err != nil {
		t.Fatal(err)
	}
	first, firstBundle := webhookTLS(t)

	// Within a month of the serving certificate's end: a new one from the same CA.
	now = now.Add(340 * 24 * time.Hour)
	if _, err := setup.Run(ctx, c, opts); err != nil {
		t.Fatal(err)
	}
	renewed, bundle := webhookTLS(t)
	if bytes.Equal(renewed.Data["tls.crt"], first.Data["tls.crt"]) || !bytes.Equal(renewed.Data["ca.crt"], first.Data["ca.crt"]) || !bytes.Equal(bundle, firstBundle) {
		t.Error("the serving certificate was not renewed from the kept CA, or the bundle changed")
	}

	// Near the CA's end: a new CA, the old one still trusted.
	now = now.Add(3290 * 24 * time.Hour) // 20 days before the CA ends
	if _, err := setup.Run(ctx, c, opts); err != nil {
		t.Fatal(err)
	}
	rotated, bundle := webhookTLS(t)
	if bytes.Equal(rotated.Data["ca.crt"], first.Data["ca.crt"]) || !bytes.Contains(bundle, first.Data["ca.crt"]) || !bytes.Contains(bundle, rotated.Data["ca.crt"]) {
		t.Error("a new CA must come with the old one in the bundle")
	}
}

// webhookTLS returns the webhook's serving Secret and the caBundle its
// configuration trusts.
func webhookTLS(t *testing.T) (secret *corev1.Secret, bundle []byte) {
	t.Helper()
	ctx := context.Background()
	secret, err := cluster.Client.CoreV1().Secrets(deploy.Namespace).Get(ctx, deploy.TLSSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mwc, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, deploy.WebhookCfg, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return secret, mwc.Webhooks[0].ClientConfig.CABundle
}
