package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// TestSessionNameFromPod: a ServiceAccount annotated session-name: pod gives
// its pods AWS_ROLE_SESSION_NAME from metadata.name, also when the API
// server generates the name after admission, and aws-sdk-go-v2 reading such
// a pod's environment puts the pod's name in the assumed-role ARN.
func TestSessionNameFromPod(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	wh := startWebhook(t, nil)
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)

	moto, err := motoserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Stop)
	admin, err := moto.Config(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	const roleName = "orders-reader"
	role, err := iam.NewFromConfig(admin).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(roleName),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Federated":"arn:aws:iam::` + motoserver.Account + `:oidc-provider/e2e.example.com"},` +
			`"Action":"sts:AssumeRoleWithWebIdentity"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	roleARN := aws.ToString(role.Role.Arn)
	createAnnotatedServiceAccount(t, ns, "orders", map[string]string{
		"eks.amazonaws.com/role-arn":     roleARN,
		"eks.amazonaws.com/session-name": "pod",
	})

	named, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("orders-0", "orders"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	generated := simplePod("", "orders")
	generated.GenerateName = "orders-"
	generated, err = cluster.Client.CoreV1().Pods(ns).Create(ctx, generated, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range []*corev1.Pod{named, generated} {
		assertMutated(t, pod, roleARN)
		assertSessionNameFromPod(t, pod)
	}

	// A pod name longer than STS accepts: the role, no session name, and
	// the user is told why.
	var warnings warningRecorder
	long := strings.Repeat("x", 65)
	pod, err := clientWithWarnings(t, &warnings).CoreV1().Pods(ns).Create(ctx, simplePod(long, "orders"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, roleARN)
	if hasEnv(pod.Spec.Containers[0], mutate.EnvRoleSessionName) {
		t.Errorf("pod with a 65-character name got %s", mutate.EnvRoleSessionName)
	}
	if !warnings.contains("pod name length 65") {
		t.Errorf("no admission warning about the pod name's length; got %q", warnings.list())
	}

	// The SDK, given the environment the kubelet builds for each pod, names
	// the session after the pod.
	tr, err := cluster.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "orders", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{mutate.DefaultAudience}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pod := range []*corev1.Pod{named, generated} {
		c := pod.Spec.Containers[0]
		arn := callerARN(t, moto, map[string]string{
			mutate.EnvRoleARN:              podEnv(t, pod, c, mutate.EnvRoleARN),
			mutate.EnvWebIdentityTokenFile: tokenFile, // the pod's path, here
			mutate.EnvRoleSessionName:      podEnv(t, pod, c, mutate.EnvRoleSessionName),
		})
		if want := ":assumed-role/" + roleName + "/" + pod.Name; !strings.HasSuffix(arn, want) {
			t.Errorf("pod %s: caller %s, want it to end in %s", pod.Name, arn, want)
		}
	}

	// Without the variable the SDK picks its own name: aws-sdk-go-v2 uses
	// the time in nanoseconds.
	arn := callerARN(t, moto, map[string]string{
		mutate.EnvRoleARN:              roleARN,
		mutate.EnvWebIdentityTokenFile: tokenFile,
		mutate.EnvRoleSessionName:      "",
	})
	session := arn[strings.LastIndex(arn, "/")+1:]
	if !strings.Contains(arn, ":assumed-role/"+roleName+"/") || session == "" || strings.Trim(session, "0123456789") != "" {
		t.Errorf("caller without %s: %s, want a numeric default session name", mutate.EnvRoleSessionName, arn)
	}
}

// TestSessionNameFlag: --session-name-from-pod is the default for
// ServiceAccounts without the annotation; "false" turns it off for one, and
// an invalid value is reported while the pod still gets its role.
func TestSessionNameFlag(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	wh := startWebhook(t, func(o *webhook.Options) { o.Mutate.SessionNameFromPod = true })
	register(t, wh.URL, wh.CA.CertPEM, admissionregistrationv1.Fail, ns)
	createServiceAccount(t, ns, "default-on", testRole)
	createAnnotatedServiceAccount(t, ns, "off", map[string]string{
		"eks.amazonaws.com/role-arn":     testRole,
		"eks.amazonaws.com/session-name": "false",
	})
	createAnnotatedServiceAccount(t, ns, "typo", map[string]string{
		"eks.amazonaws.com/role-arn":     testRole,
		"eks.amazonaws.com/session-name": "pods",
	})

	pod, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("default-on", "default-on"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, testRole)
	assertSessionNameFromPod(t, pod)

	pod, err = cluster.Client.CoreV1().Pods(ns).Create(ctx, simplePod("off", "off"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, testRole)
	if hasEnv(pod.Spec.Containers[0], mutate.EnvRoleSessionName) {
		t.Errorf("session-name: false, yet %s is set", mutate.EnvRoleSessionName)
	}

	// An invalid value is ignored: the webhook's default applies.
	var warnings warningRecorder
	pod, err = clientWithWarnings(t, &warnings).CoreV1().Pods(ns).Create(ctx, simplePod("typo", "typo"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertMutated(t, pod, testRole)
	assertSessionNameFromPod(t, pod)
	if !warnings.contains("session-name") {
		t.Errorf("no admission warning about the session-name annotation; got %q", warnings.list())
	}
	if e := waitForEvent(t, ns, "typo", "InvalidIRSAAnnotation"); !strings.Contains(e.Message, "session-name") || !strings.Contains(e.Message, "still get their role") {
		t.Errorf("event message does not name the annotation or says the pods lose their role: %s", e.Message)
	}
}

// createAnnotatedServiceAccount creates a ServiceAccount with annotations.
func createAnnotatedServiceAccount(t *testing.T, namespace, name string, annotations map[string]string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Annotations: annotations}}
	if _, err := cluster.Client.CoreV1().ServiceAccounts(namespace).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// assertSessionNameFromPod checks every container reads
// AWS_ROLE_SESSION_NAME from the pod's name.
func assertSessionNameFromPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		var found *corev1.EnvVar
		for i := range c.Env {
			if c.Env[i].Name == mutate.EnvRoleSessionName {
				found = &c.Env[i]
			}
		}
		if found == nil || found.Value != "" || found.ValueFrom == nil || found.ValueFrom.FieldRef == nil ||
			found.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Errorf("pod %s container %s: %s is %s, want it from metadata.name", pod.Name, c.Name, mutate.EnvRoleSessionName, toJSON(found))
		}
	}
}

// podEnv returns a container's variable as the kubelet sets it: its value,
// or the pod's name for a downward API reference to metadata.name.
func podEnv(t *testing.T, pod *corev1.Pod, c corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		switch {
		case e.Name != name:
		case e.ValueFrom == nil:
			return e.Value
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			return pod.Name
		default:
			t.Fatalf("pod %s container %s: %s comes from %s", pod.Name, c.Name, name, toJSON(e.ValueFrom))
		}
	}
	t.Fatalf("pod %s container %s: no %s", pod.Name, c.Name, name)
	return ""
}

// callerARN loads credentials as the SDK does in a pod whose environment
// has env, with STS in moto, and returns who STS says the caller is.
func callerARN(t *testing.T, moto *motoserver.Server, env map[string]string) string {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_STS":               moto.URL,
		"AWS_REGION":                         "us-east-1",
		"AWS_CONFIG_FILE":                    os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":        os.DevNull,
		"AWS_PROFILE":                        "",
		"AWS_ACCESS_KEY_ID":                  "",
		"AWS_SECRET_ACCESS_KEY":              "",
		"AWS_SESSION_TOKEN":                  "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_EC2_METADATA_DISABLED":          "true",
	} {
		t.Setenv(k, v)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with %v: %v\n%s", env, err, moto.LogTail(20))
	}
	return aws.ToString(who.Arn)
}
