package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/irsa-dev/irsa/internal/webhook"
)

// TestShippedManifests runs the webhook with exactly the permissions
// deploy/base grants its ServiceAccount, behind the shipped
// MutatingWebhookConfiguration: if the RBAC is short of anything the webhook
// needs, or the configuration is invalid, this fails.
func TestShippedManifests(t *testing.T) {
	ctx := context.Background()
	objects := decodeManifests(t, "namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "mutatingwebhookconfiguration.yaml")
	var shipped *admissionregistrationv1.MutatingWebhookConfiguration
	for _, obj := range objects {
		if mwc, ok := obj.(*admissionregistrationv1.MutatingWebhookConfiguration); ok {
			shipped = mwc
			continue
		}
		createObject(t, obj)
	}
	if shipped == nil {
		t.Fatal("deploy/base has no MutatingWebhookConfiguration")
	}

	// The mapping ConfigMap lives in the webhook's own namespace.
	ns := newNamespace(t)
	mapping := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-identity-webhook", Namespace: "irsa-system"},
		Data:       map[string]string{"config": `{"` + ns + `/mapped": {"RoleARN": "arn:aws:iam::111122223333:role/mapped"}}`},
	}
	if _, err := cluster.Client.CoreV1().ConfigMaps("irsa-system").Create(ctx, mapping, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	kubeconfig := impersonatingKubeconfig(t, "system:serviceaccount:irsa-system:irsa-webhook")
	wh := startWebhook(t, func(o *webhook.Options) {
		o.Kubeconfig = kubeconfig
		o.WatchConfigMap, o.Namespace = true, "irsa-system"
	})

	url := wh.URL
	mwc := shipped.DeepCopy()
	mwc.Name = "irsa-shipped-" + ns
	mwc.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: wh.CA.CertPEM}
	// Keep the shipped selector and narrow it to this test's namespace.
	mwc.Webhooks[0].NamespaceSelector.MatchExpressions = append(mwc.Webhooks[0].NamespaceSelector.MatchExpressions,
		metav1.LabelSelectorRequirement{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{ns}})
	if _, err := cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("shipped MutatingWebhookConfiguration rejected: %v", err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), mwc.Name, metav1.DeleteOptions{})
	})

	createServiceAccount(t, ns, "annotated", testRole)
	createServiceAccount(t, ns, "mapped", "")
	createServiceAccount(t, ns, "typo", "arn:aws:iam::123:role/x")
	deadline := time.Now().Add(30 * time.Second)
	for {
		pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("annotated", "annotated"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if hasEnv(pod.Spec.Containers[0], "AWS_ROLE_ARN") {
			assertMutated(t, pod, testRole)
			break
		}
		if err := cluster.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the shipped MutatingWebhookConfiguration never called the webhook")
		}
		time.Sleep(200 * time.Millisecond)
	}
	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("mapped", "mapped"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, "arn:aws:iam::111122223333:role/mapped")
	if _, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("typo", "typo"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, ns, "typo", "InvalidIRSAAnnotation")

	if logs := wh.Logs.String(); strings.Contains(logs, "forbidden") {
		t.Errorf("the webhook was refused something with the shipped RBAC:\n%s", logs)
	}
}

// decodeManifests reads files from deploy/base as typed objects.
func decodeManifests(t *testing.T, files ...string) []runtime.Object {
	t.Helper()
	var objects []runtime.Object
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", f))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("deploy/base/%s document %d: %v", f, i, err)
			}
			objects = append(objects, obj)
		}
	}
	return objects
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// createObject creates one shipped object; one that exists already (from an
// earlier run against the same cluster) is fine.
func createObject(t *testing.T, obj runtime.Object) {
	t.Helper()
	ctx := context.Background()
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		_, err = cluster.Client.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ServiceAccount:
		_, err = cluster.Client.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRole:
		_, err = cluster.Client.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = cluster.Client.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.Role:
		_, err = cluster.Client.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		_, err = cluster.Client.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		t.Fatalf("unexpected shipped object %T", obj)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create %T: %v", obj, err)
	}
}

// impersonatingKubeconfig writes a kubeconfig that acts as user.
func impersonatingKubeconfig(t *testing.T, user string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForEvent waits for an Event with reason on a ServiceAccount.
func waitForEvent(t *testing.T, namespace, serviceAccount, reason string) corev1.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		events, err := cluster.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "ServiceAccount" && e.InvolvedObject.Name == serviceAccount && e.Reason == reason {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event on ServiceAccount %s/%s: %s", reason, namespace, serviceAccount, fmt.Sprint(len(events.Items)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
