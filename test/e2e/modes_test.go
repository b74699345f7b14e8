package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// TestInvalidRoleARN: the pod is admitted without identity, the user sees a
// warning, and the ServiceAccount gets an Event saying why.
func TestInvalidRoleARN(t *testing.T) {
	ns := newNamespace(t)
	wh := startWebhook(t, nil)
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	ctx := context.Background()
	createServiceAccount(t, ns, "typo", "arn:aws:iam::1111222233:role/short-account")

	var warnings warningRecorder
	pod, err := clientWithWarnings(t, &warnings).CoreV1().Pods(ns).Create(ctx, simplePod("typo", "typo"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertUntouched(t, pod)
	if !warnings.contains("role-arn") {
		t.Errorf("no admission warning about the role-arn annotation; got %q", warnings.list())
	}
	if n := wh.metric(t, "irsa_webhook_invalid_annotations_total"); n < 1 {
		t.Errorf("irsa_webhook_invalid_annotations_total = %v", n)
	}
	e := waitForEvent(t, ns, "typo", "InvalidIRSAAnnotation")
	if !strings.Contains(e.Message, "role-arn") || !strings.Contains(e.Message, "get no AWS identity") {
		t.Errorf("event message does not name the annotation: %s", e.Message)
	}
}

// TestConfigMapMapping: roles from the pod-identity-webhook ConfigMap, exact
// names before the "*" wildcard, and a change is picked up without restart.
func TestConfigMapMapping(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	cms := cluster.Client.CoreV1().ConfigMaps(ns)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Namespace: ns},
		Data: map[string]string{"config": `{
			"` + ns + `/exact": {"RoleARN": "arn:aws:iam::111122223333:role/exact"},
			"*/anywhere": {"RoleARN": "arn:aws:iam::111122223333:role/wildcard"},
			"` + ns + `/both": {"RoleARN": "arn:aws:iam::111122223333:role/both-exact"},
			"*/both": {"RoleARN": "arn:aws:iam::111122223333:role/both-wildcard"},
			"no-slash": {"RoleARN": "arn:aws:iam::111122223333:role/ignored"}
		}`},
	}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wh := startWebhook(t, func(o *webhook.Options) { o.WatchConfigMap, o.Namespace = true, ns })
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	createServiceAccount(t, ns, "exact", "")
	createServiceAccount(t, ns, "anywhere", "")
	createServiceAccount(t, ns, "both", "")

	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("exact", "exact"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, "arn:aws:iam::111122223333:role/exact")
	pod, err = cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("anywhere", "anywhere"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, "arn:aws:iam::111122223333:role/wildcard")
	pod, err = cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("both", "both"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, "arn:aws:iam::111122223333:role/both-exact")

	cm.Data["config"] = `{"` + ns + `/anywhere": {"RoleARN": "arn:aws:iam::111122223333:role/changed"}}`
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("after-change", "anywhere"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if envValue(pod.Spec.Containers[0], mutate.EnvRoleARN) == "arn:aws:iam::111122223333:role/changed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ConfigMap change not picked up within 20s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestContainerCredentials: a ServiceAccount in the Pod Identity association
// file gets the container credentials endpoint instead of a role.
func TestContainerCredentials(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "associations.json")
	if err := os.WriteFile(file, []byte(`{"identities":[{"namespace":"`+ns+`","serviceAccount":"agent"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	wh := startWebhook(t, func(o *webhook.Options) { o.WatchContainerCredentialsConfig = file })
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	createServiceAccount(t, ns, "agent", testRole)

	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("agent", "agent"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers[0]
	if got := envValue(c, mutate.EnvContainerCredentialsURI); got != mutate.DefaultContainerCredentialsFullURI {
		t.Errorf("%s = %q", mutate.EnvContainerCredentialsURI, got)
	}
	if got := envValue(c, mutate.EnvContainerAuthorizationFile); got != mutate.DefaultContainerCredentialsMountPath+"/"+mutate.DefaultContainerCredentialsTokenFile {
		t.Errorf("%s = %q", mutate.EnvContainerAuthorizationFile, got)
	}
	if hasEnv(c, mutate.EnvRoleARN) {
		t.Error("Pod Identity pod also got AWS_ROLE_ARN")
	}
	v := findVolume(pod, mutate.DefaultContainerCredentialsVolume)
	if v == nil || v.Projected == nil || len(v.Projected.Sources) != 1 || v.Projected.Sources[0].ServiceAccountToken == nil ||
		v.Projected.Sources[0].ServiceAccountToken.Audience != mutate.DefaultContainerCredentialsAudience {
		t.Fatalf("Pod Identity token volume: %s", toJSON(pod.Spec.Volumes))
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		mounted = mounted || (m.Name == mutate.DefaultContainerCredentialsVolume && m.MountPath == mutate.DefaultContainerCredentialsMountPath && m.ReadOnly)
	}
	if !mounted {
		t.Errorf("Pod Identity token not mounted read-only: %s", toJSON(c.VolumeMounts))
	}
}
