package e2e

import (
	"context"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/mutate"
)

const testRole = "arn:aws:iam::111122223333:role/e2e/s3-reader"

func TestAPIServerCallsWebhook(t *testing.T) {
	ns := newNamespace(t)
	wh := startWebhook(t, nil)
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	ctx := context.Background()
	pods := cluster.Client.CoreV1().Pods(ns)

	createServiceAccount(t, ns, "annotated", testRole)
	createServiceAccount(t, ns, "plain", "")

	t.Run("annotated ServiceAccount", func(t *testing.T) {
		pod, err := pods.Create(ctx, simplePod("annotated", "annotated"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertMutated(t, pod, testRole)
	})
	t.Run("unannotated ServiceAccount", func(t *testing.T) {
		pod, err := pods.Create(ctx, simplePod("plain", "plain"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertUntouched(t, pod)
	})
	t.Run("skip label", func(t *testing.T) {
		p := simplePod("skipped", "annotated")
		p.Labels = map[string]string{mutate.SkipLabel: "true"}
		pod, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertUntouched(t, pod)
	})
	t.Run("native sidecar keeps restartPolicy", func(t *testing.T) {
		always := corev1.ContainerRestartPolicyAlways
		p := simplePod("sidecar", "annotated")
		p.Spec.InitContainers = []corev1.Container{{Name: "proxy", Image: "registry.example/proxy:1", RestartPolicy: &always}}
		pod, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertMutated(t, pod, testRole)
		if rp := pod.Spec.InitContainers[0].RestartPolicy; rp == nil || *rp != always {
			t.Errorf("native sidecar restartPolicy = %v, want Always", rp)
		}
	})
}
