package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// runningWebhook is an `irsa webhook` served in-process against the cluster.
type runningWebhook struct {
	*localcluster.Webhook
	Logs *syncBuffer
	stop func()
}

// startWebhook runs the webhook until the test ends (or stop is called) and
// waits until it reports ready.
func startWebhook(t *testing.T, configure func(*webhook.Options)) *runningWebhook {
	t.Helper()
	w := &runningWebhook{Logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(w.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	w.Webhook, err = localcluster.StartWebhook(context.Background(), cluster.Kubeconfig, t.TempDir(), log, func(opts *webhook.Options) {
		opts.CertReloadInterval = 200 * time.Millisecond
		opts.ShutdownTimeout = 5 * time.Second
		if configure != nil {
			configure(opts)
		}
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.Logs.String())
	}
	var once sync.Once
	w.stop = func() {
		once.Do(func() {
			if err := w.Stop(); err != nil {
				t.Errorf("webhook exited with error: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("webhook log:\n%s", w.Logs.String())
		}
	})
	return w
}

// metric returns the sum of a counter's samples whose labels contain every
// given label="value" pair, read from /metrics.
func (w *runningWebhook) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(w.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return sumMetric(string(body), name, labels...)
}

func sumMetric(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				match = false
			}
		}
		if !match {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// register points a MutatingWebhookConfiguration of the test's own at url
// and waits until the API server calls it. It returns the configuration's
// name; the configuration is deleted when the test ends.
func register(t *testing.T, url string, caPEM []byte, policy admissionregistrationv1.FailurePolicyType, namespace string) string {
	t.Helper()
	ctx := context.Background()
	name := "irsa-test-" + rand.String(6)
	mwc := webhook.Configuration(name, admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}, policy,
		&metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace}})
	if _, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	})

	// The API server learns of the configuration through an informer: probe
	// with dry-run pods until one is mutated (or, for a stopped webhook,
	// until the call is attempted).
	probeSA := "irsa-probe"
	createServiceAccount(t, namespace, probeSA, "arn:aws:iam::111122223333:role/probe")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		pod, err := cluster.Client.CoreV1().Pods(namespace).Create(ctx, simplePod("probe", probeSA), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		switch {
		case err != nil && strings.Contains(err.Error(), "failed calling webhook"):
			return name // a webhook that is down: the API server calls it
		case err != nil:
			t.Fatalf("probe pod: %v", err)
		case hasEnv(pod.Spec.Containers[0], mutate.EnvRoleARN):
			return name
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("MutatingWebhookConfiguration %s not in effect after 30s", name)
	return ""
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := "e2e-" + strings.ToLower(rand.String(8))
	_, err := cluster.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// createServiceAccount creates a ServiceAccount, annotated with roleARN
// unless it is empty.
func createServiceAccount(t *testing.T, namespace, name, roleARN string) *corev1.ServiceAccount {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if roleARN != "" {
		sa.Annotations = map[string]string{"eks.amazonaws.com/role-arn": roleARN}
	}
	created, err := cluster.Client.CoreV1().ServiceAccounts(namespace).Create(context.Background(), sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return sa
	}
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func simplePod(name, serviceAccount string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			Containers:         []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		},
	}
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func findVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// syncBuffer is a log sink safe for the webhook's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// assertMutated checks the pod has what the webhook injects for roleARN.
func assertMutated(t *testing.T, pod *corev1.Pod, roleARN string) {
	t.Helper()
	v := findVolume(pod, mutate.VolumeName)
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 1 || v.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("pod %s: no projected token volume %q: %s", pod.Name, mutate.VolumeName, toJSON(pod.Spec.Volumes))
	}
	tok := v.Projected.Sources[0].ServiceAccountToken
	if tok.Audience != mutate.DefaultAudience || tok.Path != "token" || tok.ExpirationSeconds == nil || *tok.ExpirationSeconds != mutate.DefaultTokenExpiration {
		t.Errorf("pod %s: token projection %s", pod.Name, toJSON(tok))
	}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if got := envValue(c, mutate.EnvRoleARN); got != roleARN {
			t.Errorf("pod %s container %s: %s=%q, want %q", pod.Name, c.Name, mutate.EnvRoleARN, got, roleARN)
		}
		if got := envValue(c, mutate.EnvWebIdentityTokenFile); got != mutate.DefaultMountPath+"/token" {
			t.Errorf("pod %s container %s: %s=%q", pod.Name, c.Name, mutate.EnvWebIdentityTokenFile, got)
		}
		mounted := false
		for _, m := range c.VolumeMounts {
			if m.Name == mutate.VolumeName && m.MountPath == mutate.DefaultMountPath && m.ReadOnly {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("pod %s container %s: token not mounted read-only at %s", pod.Name, c.Name, mutate.DefaultMountPath)
		}
	}
}

func assertUntouched(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if findVolume(pod, mutate.VolumeName) != nil {
		t.Errorf("pod %s: unexpected %s volume", pod.Name, mutate.VolumeName)
	}
	for _, c := range pod.Spec.Containers {
		if hasEnv(c, mutate.EnvRoleARN) {
			t.Errorf("pod %s container %s: unexpected %s", pod.Name, c.Name, mutate.EnvRoleARN)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// warningRecorder collects the API server's warning headers.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

func (w *warningRecorder) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warnings...)
}

func (w *warningRecorder) contains(s string) bool {
	for _, text := range w.list() {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// clientWithWarnings is an admin client that reports warnings to w.
func clientWithWarnings(t *testing.T, w *warningRecorder) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WarningHandler = w
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
