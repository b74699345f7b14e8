// Package demo runs the irsa walkthrough on components it starts itself: a
// real kube-apiserver and etcd on 127.0.0.1 and the irsa webhook, then shows
// a pod receive its ServiceAccount's role and a token the cluster signed.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/childprocess"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// The walkthrough's names, those of the published OpenShift guide.
const (
	Namespace      = "sample-iam-webhook-app"
	ServiceAccount = "s3-manager"
	RoleARN        = "arn:aws:iam::123456789012:role/sample-iam-webhook-app-s3-manager"
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
	webhook *runningWebhook
	pod     *corev1.Pod
	token   string
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
				s.webhook.stop()
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
		{"start irsa webhook with a fresh serving certificate", startWebhook},
		{"register the MutatingWebhookConfiguration", registerWebhook},
		{"create namespace " + Namespace + " and ServiceAccount " + ServiceAccount, createServiceAccount},
		{"create a pod: the webhook injects the role", createPod},
		{"request a token for the ServiceAccount (audience sts.amazonaws.com)", requestToken},
		{"verify the token against the cluster's published keys", verifyToken},
	}
	for _, st := range steps {
		if err := r.step(st.name, func() error { return st.run(ctx, r, &s, dir) }); err != nil {
			return fmt.Errorf("demo step %q: %w", st.name, err)
		}
	}
	return nil
}

func startCluster(_ context.Context, r *reporter, s *state, dir string) error {
	c, err := localcluster.Start(filepath.Join(dir, "cluster"), localcluster.Options{})
	if err != nil {
		return err
	}
	s.cluster = c
	r.detail("API server %s, issuer %s", c.URL, c.Issuer)
	return nil
}

func startWebhook(ctx context.Context, r *reporter, s *state, dir string) error {
	w, err := runWebhook(ctx, s.cluster.Kubeconfig, filepath.Join(dir, "webhook"))
	if err != nil {
		return err
	}
	s.webhook = w
	r.detail("serving %s, metrics %s", w.url, w.metricsURL)
	return nil
}

func registerWebhook(ctx context.Context, r *reporter, s *state, _ string) error {
	mwc := webhook.Configuration("irsa-demo",
		admissionregistrationv1.WebhookClientConfig{URL: &s.webhook.url, CABundle: s.webhook.caPEM},
		admissionregistrationv1.Fail, nil)
	_, err := s.cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	r.detail("failurePolicy Fail, reinvocationPolicy IfNeeded, pods labelled %s=true skipped", mutate.SkipLabel)
	return nil
}

func createServiceAccount(ctx context.Context, r *reporter, s *state, _ string) error {
	kube := s.cluster.Client.CoreV1()
	if _, err := kube.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
		Name: ServiceAccount, Namespace: Namespace,
		Annotations: map[string]string{mutate.DefaultAnnotationPrefix + "/role-arn": RoleARN},
	}}
	if _, err := kube.ServiceAccounts(Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.detail("annotated %s/role-arn: %s", mutate.DefaultAnnotationPrefix, RoleARN)
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
	// would mount, with the same audience and lifetime.
	tr, err := s.cluster.Client.CoreV1().ServiceAccounts(Namespace).CreateToken(ctx, ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{mutate.DefaultAudience}, ExpirationSeconds: ptr.To(mutate.DefaultTokenExpiration)},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	s.token = tr.Status.Token
	r.detail("token expires %s", tr.Status.ExpirationTimestamp.UTC().Format(time.RFC3339))
	return nil
}

func verifyToken(ctx context.Context, r *reporter, s *state, _ string) error {
	raw, err := s.cluster.Client.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("read the cluster's JWKS: %w", err)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &jwks); err != nil {
		return fmt.Errorf("cluster JWKS: %w", err)
	}
	tok, err := jwt.ParseSigned(s.token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return err
	}
	kid := tok.Headers[0].KeyID
	keys := jwks.Key(kid)
	if len(keys) == 0 {
		return fmt.Errorf("token key id %q is not in the cluster's JWKS", kid)
	}
	var claims jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	sub := "system:serviceaccount:" + Namespace + ":" + ServiceAccount
	if err := claims.Validate(jwt.Expected{Issuer: s.cluster.Issuer, AnyAudience: jwt.Audience{mutate.DefaultAudience}, Subject: sub, Time: time.Now()}); err != nil {
		return err
	}
	r.detail("kid %s, iss %s, sub %s, aud %s", kid, claims.Issuer, claims.Subject, strings.Join(claims.Audience, ","))
	return nil
}

func envOf(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// runningWebhook is the webhook served in-process for the demo.
type runningWebhook struct {
	url, metricsURL string
	caPEM           []byte
	stop            func()
}

func runWebhook(ctx context.Context, kubeconfig, dir string) (*runningWebhook, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := localcluster.NewCA()
	if err != nil {
		return nil, err
	}
	opts := webhook.NewOptions()
	opts.Kubeconfig = kubeconfig
	opts.BindAddress = "127.0.0.1"
	opts.ShutdownDelay = 0 // no Service to take the endpoint out of
	opts.TLSCert, opts.TLSKey = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := ca.WriteServingPair(opts.TLSCert, opts.TLSKey); err != nil {
		return nil, err
	}
	ports, err := childprocess.FreePorts(2)
	if err != nil {
		return nil, err
	}
	opts.Port, opts.MetricsPort = ports[0], ports[1]
	logFile, err := os.Create(filepath.Join(dir, "webhook.log"))
	if err != nil {
		return nil, err
	}
	running, err := webhook.Start(ctx, opts, opts.NewLogger(logFile), 30*time.Second)
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%w (log: %s)", err, logFile.Name())
	}
	return &runningWebhook{
		url:        fmt.Sprintf("https://127.0.0.1:%d/mutate", opts.Port),
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", opts.MetricsPort),
		caPEM:      ca.CertPEM,
		stop:       func() { _ = running.Stop(); logFile.Close() },
	}, nil
}
