// Package demo runs the whole irsa walkthrough on components it starts
// itself: a real kube-apiserver and etcd, moto_server as AWS, and the irsa
// webhook, all on 127.0.0.1. The platform team's `irsa setup` and the
// application team's `irsa role create` run as users run them; then a pod
// comes back mutated, its token is exchanged at STS for the role's
// credentials, and those write to the application's bucket and nowhere else.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/role"
	"github.com/irsa-dev/irsa/internal/s3issuer"
	"github.com/irsa-dev/irsa/internal/setup"
	"github.com/irsa-dev/irsa/internal/token"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// The walkthrough's names, those of the published OpenShift guide.
const (
	Namespace      = "sample-iam-webhook-app"
	ServiceAccount = "s3-manager"
	// AppBucket is the bucket the application's role may write to;
	// OtherBucket is one it may not.
	AppBucket   = "sample-iam-webhook-app-data"
	OtherBucket = "another-teams-data"
	// IssuerBucket hosts the cluster's issuer.
	IssuerBucket = "irsa-demo-issuer"
	Region       = "us-east-1"
)

// Options configure the demo.
type Options struct {
	// Out receives the step-by-step report.
	Out io.Writer
	// KeepDir keeps the cluster's files and logs instead of deleting them.
	KeepDir bool
}

// state is what the steps hand each other.
type state struct {
	cluster *localcluster.Cluster
	moto    *motoserver.Server
	aws     aws.Config
	webhook *localcluster.Webhook
	// webhookLog holds the webhook's log lines.
	webhookLog *os.File
	issuer     string
	roleARN    string
	pod        *corev1.Pod
	token      string
	creds      aws.Credentials
}

// Run runs every step in order and stops everything it started. It returns
// an error naming the first step that did not hold.
func Run(ctx context.Context, opts Options) (err error) {
	r := &reporter{out: opts.Out}
	dir, err := os.MkdirTemp("", "irsa-demo-")
	if err != nil {
		return err
	}
	var s state
	defer func() {
		r.step("stop everything the demo started", func() error {
			if s.webhook != nil {
				_ = s.webhook.Stop()
			}
			if s.webhookLog != nil {
				s.webhookLog.Close()
			}
			if s.moto != nil {
				s.moto.Stop()
			}
			if s.cluster != nil {
				s.cluster.Stop()
			}
			if opts.KeepDir {
				r.detail("files and logs kept in %s", dir)
				return nil
			}
			return os.RemoveAll(dir)
		})
		if err == nil {
			fmt.Fprintf(r.out, "\nevery step held (%s)\n", r.total().Round(time.Millisecond))
		}
	}()

	steps := []struct {
		name string
		run  func(context.Context, *reporter, *state, string) error
	}{
		{"start kube-apiserver and etcd on 127.0.0.1", startCluster},
		{"start moto_server on 127.0.0.1 as AWS (S3, IAM, STS)", startMoto},
		{"start irsa webhook and register it with the API server", startWebhook},
		{"platform team: irsa setup", runSetup},
		{"create namespace " + Namespace + " and buckets " + AppBucket + ", " + OtherBucket, createAppResources},
		{"application team: irsa role create --s3-bucket " + AppBucket, createRole},
		{"create a pod: the webhook injects the role", createPod},
		{"the kubelet's token for the pod (TokenRequest), verified as AWS STS verifies it", requestToken},
		{"the pod's AWS SDK exchanges the token at STS (AssumeRoleWithWebIdentity)", assumeRole},
		{"turn on moto's IAM access control; write to " + AppBucket + " with the role", writeAppBucket},
		{"write to " + OtherBucket + " with the role: refused", writeOtherBucket},
	}
	for _, st := range steps {
		if err := r.step(st.name, func() error { return st.run(ctx, r, &s, dir) }); err != nil {
			return fmt.Errorf("demo step %q: %w", st.name, err)
		}
	}
	return nil
}

func startCluster(_ context.Context, r *reporter, s *state, dir string) error {
	issuer, err := s3issuer.IssuerURL(IssuerBucket, Region)
	if err != nil {
		return err
	}
	// The cluster signs with the issuer irsa setup will publish, as a
	// cluster does once its owner set --service-account-issuer.
	c, err := localcluster.Start(filepath.Join(dir, "cluster"), localcluster.Options{Issuer: issuer})
	if err != nil {
		return err
	}
	s.cluster = c
	r.detail("API server %s, issuer %s", c.URL, c.Issuer)
	return nil
}

func startMoto(ctx context.Context, r *reporter, s *state, dir string) error {
	m, err := motoserver.Start(dir)
	if err != nil {
		return err
	}
	s.moto = m
	if s.aws, err = m.Config(ctx, Region); err != nil {
		return err
	}
	r.detail("AWS endpoint %s, account %s", m.URL, motoserver.Account)
	return nil
}

func startWebhook(ctx context.Context, r *reporter, s *state, dir string) error {
	dir = filepath.Join(dir, "webhook")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var err error
	if s.webhookLog, err = os.Create(filepath.Join(dir, "webhook.log")); err != nil {
		return err
	}
	w, err := localcluster.StartWebhook(ctx, s.cluster.Kubeconfig, dir, slog.New(slog.NewJSONHandler(s.webhookLog, nil)), nil)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, s.webhookLog.Name())
	}
	s.webhook = w
	mwc := webhook.Configuration("irsa-demo",
		admissionregistrationv1.WebhookClientConfig{URL: &w.URL, CABundle: w.CA.CertPEM},
		admissionregistrationv1.Fail, nil)
	if _, err := s.cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.detail("serving %s; failurePolicy Fail, reinvocationPolicy IfNeeded", w.URL)
	return nil
}

// runSetup runs `irsa setup` but for its webhook phase: the webhook runs
// in this process, since this cluster has no nodes to run its Deployment.
func runSetup(ctx context.Context, r *reporter, s *state, _ string) error {
	kube, dyn, mapper, err := setup.KubeClients(s.cluster.Config)
	if err != nil {
		return err
	}
	c := setup.Clients{
		Kube: kube, Dynamic: dyn, Mapper: mapper,
		S3:         s3.NewFromConfig(s.aws, s3issuer.QuietChecksums),
		CloudFront: cloudfront.NewFromConfig(s.aws),
		IAM:        iam.NewFromConfig(s.aws),
	}
	res, err := setup.Run(ctx, c, setup.Options{
		FromCluster: true,
		Bucket:      IssuerBucket, Region: Region,
		HTTPClient: s.moto.HTTPClient(),
		Emulated:   true,
		SkipPhases: []string{setup.PhaseWebhook},
		Report: func(st progress.Step) {
			if strings.HasPrefix(st.Name, "phase ") {
				r.detail("%-9s %s (%s)", st.Outcome, st.Name, st.Detail)
			}
		},
	})
	if err != nil {
		return err
	}
	s.issuer = res.Issuer
	return nil
}

func createAppResources(ctx context.Context, r *reporter, s *state, _ string) error {
	if _, err := s.cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	api := s3.NewFromConfig(s.aws, s3issuer.QuietChecksums)
	for _, b := range []string{AppBucket, OtherBucket} {
		if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return fmt.Errorf("bucket %s: %w", b, err)
		}
	}
	r.detail("namespace %s; buckets s3://%s and s3://%s", Namespace, AppBucket, OtherBucket)
	return nil
}

func createRole(ctx context.Context, r *reporter, s *state, _ string) error {
	res, err := role.Create(ctx, iam.NewFromConfig(s.aws), s.cluster.Client, role.Options{
		Namespace: Namespace, ServiceAccount: ServiceAccount, S3Bucket: AppBucket, Issuer: s.issuer,
	})
	if err != nil {
		return err
	}
	s.roleARN = res.RoleARN
	r.detail("role %s", res.RoleARN)
	r.detail("trust: %s", res.TrustPolicy)
	r.detail("ServiceAccount %s/%s annotated %s", Namespace, ServiceAccount, mutate.DefaultAnnotationPrefix+"/role-arn")
	return nil
}

func createPod(ctx context.Context, r *reporter, s *state, _ string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "s3-client", Namespace: Namespace},
		Spec: corev1.PodSpec{
			ServiceAccountName: ServiceAccount,
			Containers:         []corev1.Container{{Name: "aws-cli", Image: "amazon/aws-cli:latest", Command: []string{"sleep", "infinity"}}},
		},
	}
	// The API server learns of a new webhook configuration through an
	// informer, so the first pods may pass before it calls the webhook:
	// probe with dry runs until one comes back mutated.
	deadline := time.Now().Add(30 * time.Second)
	for {
		probe, err := s.cluster.Client.CoreV1().Pods(Namespace).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil && envOf(probe.Spec.Containers[0], mutate.EnvRoleARN) != "" {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the API server did not call the webhook within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	created, err := s.cluster.Client.CoreV1().Pods(Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	s.pod = created
	c := created.Spec.Containers[0]
	for _, name := range []string{mutate.EnvRoleARN, mutate.EnvWebIdentityTokenFile} {
		v := envOf(c, name)
		if v == "" {
			return fmt.Errorf("container %s has no %s", c.Name, name)
		}
		r.detail("env %s=%s", name, v)
	}
	for _, v := range created.Spec.Volumes {
		if v.Name == mutate.VolumeName && v.Projected != nil && v.Projected.Sources[0].ServiceAccountToken != nil {
			t := v.Projected.Sources[0].ServiceAccountToken
			r.detail("volume %s: projected token, audience %s, expires after %ds", v.Name, t.Audience, *t.ExpirationSeconds)
			return nil
		}
	}
	return fmt.Errorf("pod has no %s volume", mutate.VolumeName)
}

func requestToken(ctx context.Context, r *reporter, s *state, _ string) error {
	// Pods stay Pending here (no kubelet), so mint the token the kubelet
	// would mount, with the audience and lifetime of the pod's volume.
	var projection *corev1.ServiceAccountTokenProjection
	for _, v := range s.pod.Spec.Volumes {
		if v.Name == mutate.VolumeName && v.Projected != nil {
			projection = v.Projected.Sources[0].ServiceAccountToken
		}
	}
	if projection == nil {
		return fmt.Errorf("pod has no %s volume", mutate.VolumeName)
	}
	tr, err := s.cluster.Client.CoreV1().ServiceAccounts(Namespace).CreateToken(ctx, ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         []string{projection.Audience},
			ExpirationSeconds: projection.ExpirationSeconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: s.pod.Name, UID: s.pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	s.token = tr.Status.Token
	// moto accepts any token, so check it here as STS would: against the
	// documents as published, read anonymously.
	claims, err := token.Verify(ctx, s.token, token.Options{Audience: projection.Audience, Issuer: s.issuer, HTTPClient: s.moto.HTTPClient()})
	if err != nil {
		return err
	}
	r.detail("kid %s, iss %s", claims.KeyID, claims.Issuer)
	r.detail("sub %s, aud %s, pod %s", claims.Subject, strings.Join(claims.Audience, ","), claims.Pod)
	return nil
}

func assumeRole(ctx context.Context, r *reporter, s *state, dir string) error {
	c := s.pod.Spec.Containers[0]
	roleARN, tokenPath := envOf(c, mutate.EnvRoleARN), envOf(c, mutate.EnvWebIdentityTokenFile)
	// The token where the pod's env says the SDK finds it, under dir.
	tokenFile := filepath.Join(dir, "pod", filepath.FromSlash(tokenPath))
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(s.token), 0o600); err != nil {
		return err
	}
	provider := stscreds.NewWebIdentityRoleProvider(sts.NewFromConfig(s.aws), roleARN, stscreds.IdentityTokenFile(tokenFile))
	creds, err := provider.Retrieve(ctx)
	if err != nil {
		return err
	}
	s.creds = creds
	who, err := sts.NewFromConfig(s.aws, func(o *sts.Options) { o.Credentials = credentials.StaticCredentialsProvider{Value: creds} }).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return err
	}
	r.detail("%s=%s, %s=%s", mutate.EnvRoleARN, roleARN, mutate.EnvWebIdentityTokenFile, tokenPath)
	r.detail("temporary credentials %s…, caller %s", creds.AccessKeyID[:8], aws.ToString(who.Arn))
	return nil
}

// asRole is an S3 client with the role's temporary credentials.
func (s *state) asRole() *s3.Client {
	return s3.NewFromConfig(s.aws, s3issuer.QuietChecksums, func(o *s3.Options) {
		o.Credentials = credentials.StaticCredentialsProvider{Value: s.creds}
		o.RetryMaxAttempts = 1
	})
}

func writeAppBucket(ctx context.Context, r *reporter, s *state, _ string) error {
	if err := s.moto.EnableAccessControl(); err != nil {
		return err
	}
	if _, err := s.asRole().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(AppBucket), Key: aws.String("hello.txt"), Body: strings.NewReader("written by the pod's role\n")}); err != nil {
		return err
	}
	r.detail("s3://%s/hello.txt written", AppBucket)
	return nil
}

func writeOtherBucket(ctx context.Context, r *reporter, s *state, _ string) error {
	_, err := s.asRole().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(OtherBucket), Key: aws.String("hello.txt"), Body: strings.NewReader("x")})
	var apiErr smithy.APIError
	switch {
	case err == nil:
		return fmt.Errorf("the role wrote to s3://%s: its permissions are not least privilege", OtherBucket)
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDenied":
		r.detail("AccessDenied, as it should be")
		return nil
	}
	return fmt.Errorf("want AccessDenied, got %w", err)
}

func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
