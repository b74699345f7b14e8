package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/webhook"
)

// TestServiceAccountCreatedWithPod is the race upstream loses: a pod created
// right after its ServiceAccount, before the webhook's cache has seen it.
func TestServiceAccountCreatedWithPod(t *testing.T) {
	ns := newNamespace(t)
	wh := startWebhook(t, nil)
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	ctx := context.Background()

	const total, workers = 200, 10
	var unmutated atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += workers {
				name := fmt.Sprintf("app-%03d", i)
				role := "arn:aws:iam::111122223333:role/" + name
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
					Annotations: map[string]string{"eks.amazonaws.com/role-arn": role}}}
				if _, err := cluster.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod(name, name), metav1.CreateOptions{})
				if err != nil {
					errs <- err
					return
				}
				if envValue(pod.Spec.Containers[0], "AWS_ROLE_ARN") != role {
					unmutated.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := unmutated.Load(); n > 0 {
		t.Errorf("%d of %d pods created right after their ServiceAccount were not mutated", n, total)
	}
	t.Logf("cache misses resolved by direct lookup: %v", wh.metric(t, "irsa_identity_cache_misses_total", `result="found"`))
}

// TestCertificateRotation rotates the serving certificate on disk while pods
// are being created; with failurePolicy Fail any failed handshake would
// reject a pod. A short idle timeout makes the API server open a new
// connection, and so shake hands with the current certificate, for
// almost every pod.
func TestCertificateRotation(t *testing.T) {
	ns := newNamespace(t)
	wh := startWebhook(t, func(o *webhook.Options) { o.IdleTimeout = 10 * time.Millisecond })
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	createServiceAccount(t, ns, "app", testRole)
	ctx := context.Background()

	loadsBefore := wh.metric(t, "irsa_webhook_certificate_loads_total", `result="ok"`)
	handshakesBefore := wh.metric(t, "irsa_webhook_tls_handshakes_total")
	stop := make(chan struct{})
	rotated := make(chan int)
	go func() {
		n := 0
		defer func() { rotated <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			if err := wh.CA.WriteServingPair(wh.CertFile, wh.KeyFile); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	for i := range 80 {
		pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod(fmt.Sprintf("app-%02d", i), "app"), metav1.CreateOptions{})
		if err != nil {
			t.Errorf("pod %d rejected during certificate rotation: %v", i, err)
			continue
		}
		assertMutated(t, pod, testRole)
		time.Sleep(40 * time.Millisecond)
	}
	close(stop)
	n := <-rotated
	loads := wh.metric(t, "irsa_webhook_certificate_loads_total", `result="ok"`) - loadsBefore
	handshakes := wh.metric(t, "irsa_webhook_tls_handshakes_total") - handshakesBefore
	if n < 3 || loads < 2 || handshakes <= loads {
		t.Errorf("rotation not exercised: %d rotations written, %v loads, %v handshakes", n, loads, handshakes)
	}
	t.Logf("%d rotations written, %v certificate loads, %v handshakes", n, loads, handshakes)
}

// TestWebhookDown shows what each failure policy does when the webhook is
// gone: Ignore admits pods unmutated and the API server counts it; Fail
// rejects them with a message naming the webhook.
func TestWebhookDown(t *testing.T) {
	ctx := context.Background()

	t.Run("Ignore", func(t *testing.T) {
		ns := registeredThenStopped(t, admissionregistrationv1.Ignore)

		before := apiserverMetric(t, "apiserver_admission_webhook_fail_open_count", `name="pod-identity.irsa.dev"`)
		pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("app", "app"), metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("failurePolicy Ignore: pod rejected: %v", err)
		}
		assertUntouched(t, pod)
		if after := apiserverMetric(t, "apiserver_admission_webhook_fail_open_count", `name="pod-identity.irsa.dev"`); after <= before {
			t.Errorf("apiserver_admission_webhook_fail_open_count did not grow (%v -> %v): the gap is invisible", before, after)
		}
	})
	t.Run("Fail", func(t *testing.T) {
		ns := registeredThenStopped(t, admissionregistrationv1.Fail)

		_, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("app", "app"), metav1.CreateOptions{})
		if err == nil {
			t.Fatal("failurePolicy Fail: pod admitted while the webhook is down")
		}
		if msg := err.Error(); !strings.Contains(msg, `failed calling webhook "pod-identity.irsa.dev"`) {
			t.Errorf("rejection does not name the webhook: %v", msg)
		}
	})
}

// registeredThenStopped registers a webhook with policy for a fresh
// namespace holding an annotated ServiceAccount "app", then stops the
// webhook; it returns the namespace.
func registeredThenStopped(t *testing.T, policy admissionregistrationv1.FailurePolicyType) string {
	t.Helper()
	ns := newNamespace(t)
	wh := startWebhook(t, nil)
	register(t, wh.URL, wh.CA.CertPEM, policy, ns)
	createServiceAccount(t, ns, "app", testRole)
	wh.stop()
	return ns
}

func apiserverMetric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	body, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sumMetric(string(body), name, labels...)
}

// TestProfilingOnlyWhenAsked: /debug/pprof/ is served on the metrics port
// with --profiling, and not without it.
func TestProfilingOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		w := startWebhook(t, func(o *webhook.Options) { o.Profiling = on })
		resp, err := http.Get(w.MetricsURL + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
			t.Errorf("--profiling=%v: /debug/pprof/ answered %s, want %d", on, resp.Status, want)
		}
		w.stop()
	}
}
