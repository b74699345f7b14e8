package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/mutate"
)

const (
	testARN     = "arn:aws:iam::123456789012:role/app"
	roleKey     = mutate.DefaultAnnotationPrefix + "/" + identity.AnnotationRoleARN
	testNS      = "team"
	internalErr = "irsa: internal error, pod admitted without AWS identity; see webhook logs"
)

func serviceAccount(ns, name string, annotations map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(name + "-uid"), Annotations: annotations},
	}
}

// newHandler returns a Handler over a synced cache holding the given
// ServiceAccounts, with direct lookups off.
func newHandler(t *testing.T, sas ...*metav1.PartialObjectMetadata) *Handler {
	t.Helper()
	c := identity.NewCache(mutate.DefaultAnnotationPrefix, nil)
	list := make([]any, len(sas))
	for i, s := range sas {
		list[i] = s
	}
	if err := c.Replace(list, "1"); err != nil {
		t.Fatal(err)
	}
	return &Handler{
		Resolver: &identity.Resolver{Cache: c},
		Options:  mutate.DefaultOptions(),
		Metrics:  NewMetrics(func() float64 { return float64(c.Len()) }),
		Log:      slog.New(slog.DiscardHandler),
	}
}

// testPod is a pod as the API server sends it, with a native sidecar whose
// restartPolicy the webhook's own types do not model.
const testPod = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"generateName": "app-", "namespace": "team", "labels": {"app": "x"}},
  "spec": {
    "serviceAccountName": "app",
    "initContainers": [{"name": "proxy", "image": "proxy", "restartPolicy": "Always"}],
    "containers": [
      {"name": "main", "image": "app", "env": [{"name": "KEEP", "value": "me"}]}
    ]
  }
}`

func podWithSA(name string) string {
	return strings.Replace(testPod, `"serviceAccountName": "app"`, `"serviceAccountName": "`+name+`"`, 1)
}

// reviewOpts describes one AdmissionReview; zero fields take the defaults
// of a v1 pod creation.
type reviewOpts struct {
	apiVersion  string
	uid         string
	group       string
	kind        string
	operation   string
	subResource string
	object      string
}

func reviewBody(o reviewOpts) []byte {
	if o.apiVersion == "" {
		o.apiVersion = admissionV1
	}
	if o.uid == "" {
		o.uid = "uid-1"
	}
	if o.kind == "" {
		o.kind = "Pod"
	}
	if o.operation == "" {
		o.operation = "CREATE"
	}
	if o.object == "" {
		o.object = testPod
	}
	resource := strings.ToLower(o.kind) + "s"
	body, err := json.Marshal(map[string]any{
		"apiVersion": o.apiVersion,
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":         o.uid,
			"kind":        map[string]string{"group": o.group, "version": "v1", "kind": o.kind},
			"resource":    map[string]string{"group": o.group, "version": "v1", "resource": resource},
			"subResource": o.subResource,
			"namespace":   testNS,
			"operation":   o.operation,
			"userInfo":    map[string]any{"username": "deployer"},
			"object":      json.RawMessage(o.object),
		},
	})
	if err != nil {
		panic(err)
	}
	return body
}

func post(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type admissionAnswer struct {
	APIVersion string                         `json:"apiVersion"`
	Kind       string                         `json:"kind"`
	Response   *admissionv1.AdmissionResponse `json:"response"`
}

// admit posts a review and decodes the AdmissionReview answer.
func admit(t *testing.T, h http.Handler, o reviewOpts) admissionAnswer {
	t.Helper()
	w := post(h, "application/json", reviewBody(o))
	return decodeResponse(t, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
}

func decodeResponse(t *testing.T, code int, contentType string, body []byte) admissionAnswer {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if contentType != "application/json" {
		t.Errorf("Content-Type %q", contentType)
	}
	var out admissionAnswer
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	if out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("answer is not an AdmissionReview response: %s", body)
	}
	if !out.Response.Allowed || out.Response.Result != nil {
		t.Fatalf("pod denied: %s", body)
	}
	return out
}

func assertUnchanged(t *testing.T, r *admissionv1.AdmissionResponse) {
	t.Helper()
	if r.Patch != nil || r.PatchType != nil {
		t.Errorf("patch %s (type %v), want none", r.Patch, r.PatchType)
	}
}

// patched applies the response's patch to pod.
func patched(t *testing.T, pod string, r *admissionv1.AdmissionResponse) map[string]any {
	t.Helper()
	if r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patchType %v, want JSONPatch", r.PatchType)
	}
	p, err := jsonpatch.DecodePatch(r.Patch)
	if err != nil {
		t.Fatalf("patch does not decode: %v: %s", err, r.Patch)
	}
	out, err := p.Apply([]byte(pod))
	if err != nil {
		t.Fatalf("patch does not apply: %v: %s", err, r.Patch)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// typedPod decodes a patched pod as the API server would.
func typedPod(t *testing.T, m map[string]any) *corev1.Pod {
	t.Helper()
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := json.Unmarshal(data, &pod); err != nil {
		t.Fatalf("patched pod is not a Pod: %v", err)
	}
	return &pod
}

func env(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		m[e.Name] = e.Value
	}
	return m
}

// metricValue reads one counter or gauge from the handler's registry; -1
// when no series matches.
func metricValue(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range s.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case s.Counter != nil:
				return s.GetCounter().GetValue()
			case s.Gauge != nil:
				return s.GetGauge().GetValue()
			}
		}
	}
	return -1
}

func requests(t *testing.T, h *Handler, outcome string) float64 {
	t.Helper()
	return metricValue(t, h.Metrics, "irsa_webhook_requests_total", map[string]string{"outcome": outcome})
}

func TestHandlerRejectsBadTransport(t *testing.T) {
	h := newHandler(t)
	valid := reviewBody(reviewOpts{})

	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		wantStatus  int
		wantMsg     string
	}{
		{name: "GET", method: http.MethodGet, contentType: "application/json", wantStatus: http.StatusMethodNotAllowed, wantMsg: "use POST"},
		{name: "PUT", method: http.MethodPut, contentType: "application/json", body: valid, wantStatus: http.StatusMethodNotAllowed, wantMsg: "use POST"},
		{name: "no Content-Type", body: valid, wantStatus: http.StatusUnsupportedMediaType, wantMsg: `Content-Type "": want application/json`},
		{name: "text/plain", contentType: "text/plain", body: valid, wantStatus: http.StatusUnsupportedMediaType, wantMsg: `Content-Type "text/plain": want application/json`},
		{name: "yaml", contentType: "application/yaml", body: valid, wantStatus: http.StatusUnsupportedMediaType},
		{name: "protobuf", contentType: "application/vnd.kubernetes.protobuf", body: valid, wantStatus: http.StatusUnsupportedMediaType},
		{name: "unparseable Content-Type", contentType: "application/json; ===", body: valid, wantStatus: http.StatusUnsupportedMediaType},
		{name: "too large", contentType: "application/json", body: bytes.Repeat([]byte(" "), maxBodyBytes+1),
			wantStatus: http.StatusRequestEntityTooLarge, wantMsg: "body larger than 7340032 bytes"},
		{name: "empty body", contentType: "application/json", wantStatus: http.StatusBadRequest, wantMsg: "body is not an AdmissionReview"},
		{name: "malformed JSON", contentType: "application/json", body: []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": `),
			wantStatus: http.StatusBadRequest, wantMsg: "body is not an AdmissionReview"},
		{name: "JSON array", contentType: "application/json", body: []byte(`[1, 2]`), wantStatus: http.StatusBadRequest, wantMsg: "body is not an AdmissionReview"},
		{name: "wrong apiVersion", contentType: "application/json",
			body:       bytes.Replace(valid, []byte(admissionV1), []byte("admission.k8s.io/v2"), 1),
			wantStatus: http.StatusBadRequest, wantMsg: `apiVersion "admission.k8s.io/v2": want admission.k8s.io/v1 or admission.k8s.io/v1beta1`},
		{name: "no apiVersion", contentType: "application/json", body: []byte(`{"kind": "AdmissionReview", "request": {"uid": "x"}}`),
			wantStatus: http.StatusBadRequest, wantMsg: `apiVersion "": want`},
		{name: "wrong kind", contentType: "application/json",
			body:       bytes.Replace(valid, []byte(`"kind":"AdmissionReview"`), []byte(`"kind":"Pod"`), 1),
			wantStatus: http.StatusBadRequest, wantMsg: `kind "Pod": want AdmissionReview`},
		{name: "no request", contentType: "application/json", body: []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}`),
			wantStatus: http.StatusBadRequest, wantMsg: "AdmissionReview has no request uid"},
		{name: "null request", contentType: "application/json", body: []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": null}`),
			wantStatus: http.StatusBadRequest, wantMsg: "AdmissionReview has no request uid"},
		{name: "no uid", contentType: "application/json", body: []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}`),
			wantStatus: http.StatusBadRequest, wantMsg: "AdmissionReview has no request uid"},
		{name: "request not an object", contentType: "application/json", body: []byte(`{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": "x"}`),
			wantStatus: http.StatusBadRequest, wantMsg: "body is not an AdmissionReview"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := httptest.NewRequest(method, "/mutate", bytes.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.wantMsg) {
				t.Errorf("body %q does not contain %q", w.Body, tt.wantMsg)
			}
		})
	}
	if got := requests(t, h, outcomeBadInput); got != float64(len(tests)) {
		t.Errorf("requests{outcome=bad_request} = %v, want %d", got, len(tests))
	}
}

func TestHandlerAcceptsJSONWithParameters(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	w := post(h, "application/json; charset=utf-8", reviewBody(reviewOpts{}))
	out := decodeResponse(t, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	if out.Response.Patch == nil {
		t.Error("no patch")
	}
}

func TestHandlerIgnoresWhatIsNotAPodCreation(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	tests := map[string]reviewOpts{
		"Deployment":       {group: "apps", kind: "Deployment", object: `{"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": ` + testPod + `}}`},
		"Pod in a group":   {group: "example.com", kind: "Pod"},
		"ServiceAccount":   {kind: "ServiceAccount", object: `{"metadata": {"name": "app"}}`},
		"UPDATE":           {operation: "UPDATE"},
		"DELETE":           {operation: "DELETE", object: "null"},
		"CONNECT":          {operation: "CONNECT"},
		"ephemeral update": {operation: "UPDATE", subResource: "ephemeralcontainers"},
		"binding":          {subResource: "binding", object: `{"kind": "Binding", "target": {"name": "node"}}`},
		"eviction":         {subResource: "eviction", object: `{"kind": "Eviction"}`},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			o.uid = "uid-" + name
			out := admit(t, h, o)
			if out.Response.UID != types.UID(o.uid) {
				t.Errorf("uid %q, want %q", out.Response.UID, o.uid)
			}
			assertUnchanged(t, out.Response)
			if len(out.Response.Warnings) != 0 {
				t.Errorf("warnings %q, want none", out.Response.Warnings)
			}
		})
	}
	if got := requests(t, h, outcomeIgnored); got != float64(len(tests)) {
		t.Errorf("requests{outcome=ignored} = %v, want %d", got, len(tests))
	}
}

func TestHandlerUndecodablePod(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	for name, object := range map[string]string{
		"containers is a string": `{"metadata": {"name": "p"}, "spec": {"serviceAccountName": "app", "containers": "x"}}`,
		"spec is a list":         `{"metadata": {"name": "p"}, "spec": []}`,
		"object is a number":     `42`,
	} {
		t.Run(name, func(t *testing.T) {
			out := admit(t, h, reviewOpts{uid: "u-" + name, object: object})
			if out.Response.UID != types.UID("u-"+name) {
				t.Errorf("uid %q", out.Response.UID)
			}
			assertUnchanged(t, out.Response)
			if len(out.Response.Warnings) != 1 || !strings.HasPrefix(out.Response.Warnings[0], "irsa: pod could not be decoded, admitted without AWS identity: ") {
				t.Errorf("warnings %q, want one saying the pod could not be decoded", out.Response.Warnings)
			}
		})
	}
}

func TestHandlerAnswersInRequestVersion(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	for _, version := range []string{admissionV1, admissionV1beta1} {
		t.Run(version, func(t *testing.T) {
			out := admit(t, h, reviewOpts{apiVersion: version, uid: "uid-" + version})
			if out.APIVersion != version {
				t.Errorf("apiVersion %q, want %q", out.APIVersion, version)
			}
			if out.Response.UID != types.UID("uid-"+version) {
				t.Errorf("uid %q, want uid-%s", out.Response.UID, version)
			}
			pod := typedPod(t, patched(t, testPod, out.Response))
			if env(pod.Spec.Containers[0])["AWS_ROLE_ARN"] != testARN {
				t.Errorf("%s: pod not mutated", version)
			}
		})
	}
}

func TestHandlerMutatesAnnotatedServiceAccount(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{
		roleKey: testARN,
		mutate.DefaultAnnotationPrefix + "/sts-regional-endpoints": "true",
	}))
	h.Options.Region = "eu-west-1"
	out := admit(t, h, reviewOpts{})
	if len(out.Response.Warnings) != 0 {
		t.Errorf("warnings %q", out.Response.Warnings)
	}
	raw := patched(t, testPod, out.Response)
	pod := typedPod(t, raw)

	want := map[string]string{
		"AWS_ROLE_ARN":                testARN,
		"AWS_WEB_IDENTITY_TOKEN_FILE": mutate.DefaultMountPath + "/token",
		"AWS_STS_REGIONAL_ENDPOINTS":  "regional",
		"AWS_REGION":                  "eu-west-1",
		"AWS_DEFAULT_REGION":          "eu-west-1",
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		got := env(c)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("container %s: %s=%q, want %q", c.Name, k, got[k], v)
			}
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != mutate.VolumeName ||
			c.VolumeMounts[0].MountPath != mutate.DefaultMountPath || !c.VolumeMounts[0].ReadOnly {
			t.Errorf("container %s: mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if got := env(pod.Spec.Containers[0])["KEEP"]; got != "me" {
		t.Errorf("existing variable lost: KEEP=%q", got)
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].Projected == nil {
		t.Fatalf("volumes %+v, want the projected token", pod.Spec.Volumes)
	}
	tok := pod.Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken
	if pod.Spec.Volumes[0].Name != mutate.VolumeName || tok == nil || tok.Audience != mutate.DefaultAudience ||
		tok.ExpirationSeconds == nil || *tok.ExpirationSeconds != mutate.DefaultTokenExpiration || tok.Path != "token" {
		t.Errorf("token volume %+v", pod.Spec.Volumes[0])
	}
	// A field the webhook's types do not model survives the patch.
	if rp := pod.Spec.InitContainers[0].RestartPolicy; rp == nil || *rp != corev1.ContainerRestartPolicyAlways {
		t.Errorf("native sidecar restartPolicy lost: %v", rp)
	}

	if got := metricValue(t, h.Metrics, "irsa_webhook_mutations_total", map[string]string{"mode": "web-identity", "source": "annotation"}); got != 1 {
		t.Errorf("mutations_total = %v, want 1", got)
	}
	if got := requests(t, h, outcomeMutated); got != 1 {
		t.Errorf("requests{outcome=mutated} = %v, want 1", got)
	}
	if got := metricValue(t, h.Metrics, "irsa_identity_cache_service_accounts", nil); got != 1 {
		t.Errorf("cache size gauge = %v, want 1", got)
	}

	// Reinvocation: the patched pod needs no further change.
	again, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	out = admit(t, h, reviewOpts{object: string(again)})
	assertUnchanged(t, out.Response)
}

func TestHandlerUnboundServiceAccount(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", nil))
	out := admit(t, h, reviewOpts{})
	assertUnchanged(t, out.Response)
	if len(out.Response.Warnings) != 0 {
		t.Errorf("warnings %q", out.Response.Warnings)
	}
	if got := requests(t, h, outcomeUnchanged); got != 1 {
		t.Errorf("requests{outcome=unchanged} = %v, want 1", got)
	}
}

func TestHandlerDefaultServiceAccountAndNamespaceFromPod(t *testing.T) {
	h := newHandler(t, serviceAccount("from-pod", "default", map[string]string{roleKey: testARN}))
	pod := `{"metadata": {"name": "p", "namespace": "from-pod"}, "spec": {"containers": [{"name": "c"}]}}`
	body := bytes.Replace(reviewBody(reviewOpts{object: pod}), []byte(`"namespace":"team"`), []byte(`"namespace":""`), 1)
	w := post(h, "application/json", body)
	out := decodeResponse(t, w.Code, w.Header().Get("Content-Type"), w.Body.Bytes())
	if env(typedPod(t, patched(t, pod, out.Response)).Spec.Containers[0])["AWS_ROLE_ARN"] != testARN {
		t.Error("pod without serviceAccountName not mutated with the default ServiceAccount's role")
	}
}

func TestHandlerInvalidAnnotation(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: "arn:aws:iam::123456789012:user/deployer"}))
	for i := 1; i <= 2; i++ {
		out := admit(t, h, reviewOpts{})
		assertUnchanged(t, out.Response)
		if len(out.Response.Warnings) != 1 || !strings.Contains(out.Response.Warnings[0], roleKey) ||
			!strings.HasPrefix(out.Response.Warnings[0], "irsa: ServiceAccount app: invalid annotation") {
			t.Errorf("warnings %q, want one naming %s", out.Response.Warnings, roleKey)
		}
		if got := metricValue(t, h.Metrics, "irsa_webhook_invalid_annotations_total", nil); got != float64(i) {
			t.Errorf("invalid_annotations_total = %v, want %d", got, i)
		}
	}
	if got := requests(t, h, outcomeUnchanged); got != 2 {
		t.Errorf("requests{outcome=unchanged} = %v, want 2", got)
	}
}

func TestHandlerInvalidOptionalAnnotationStillMutates(t *testing.T) {
	key := mutate.DefaultAnnotationPrefix + "/token-expiration"
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN, key: "1h"}))
	out := admit(t, h, reviewOpts{})
	if len(out.Response.Warnings) != 1 || !strings.Contains(out.Response.Warnings[0], key) {
		t.Errorf("warnings %q, want one naming %s", out.Response.Warnings, key)
	}
	if env(typedPod(t, patched(t, testPod, out.Response)).Spec.Containers[0])["AWS_ROLE_ARN"] != testARN {
		t.Error("role not injected")
	}
	if got := metricValue(t, h.Metrics, "irsa_webhook_invalid_annotations_total", nil); got != 1 {
		t.Errorf("invalid_annotations_total = %v, want 1", got)
	}
}

func TestHandlerPodWarning(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	pod := `{"metadata": {"name": "p"}, "spec": {"serviceAccountName": "app",
		"containers": [{"name": "c"}], "volumes": [{"name": "aws-iam-token", "emptyDir": {}}]}}`
	out := admit(t, h, reviewOpts{object: pod})
	assertUnchanged(t, out.Response)
	if len(out.Response.Warnings) != 1 || !strings.HasPrefix(out.Response.Warnings[0], "irsa: ") ||
		!strings.Contains(out.Response.Warnings[0], "aws-iam-token") {
		t.Errorf("warnings %q, want one about the volume", out.Response.Warnings)
	}
	if got := metricValue(t, h.Metrics, "irsa_webhook_warnings_total", nil); got != 1 {
		t.Errorf("warnings_total = %v, want 1", got)
	}
}

func missMetric(t *testing.T, h *Handler, result string) float64 {
	t.Helper()
	return metricValue(t, h.Metrics, "irsa_identity_cache_misses_total", map[string]string{"result": result})
}

func TestHandlerCacheMissLookupFound(t *testing.T) {
	h := newHandler(t)
	var calls int
	h.Resolver.LookupTimeout = time.Second
	h.Resolver.Lookup = func(_ context.Context, ref types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
		calls++
		if ref != (types.NamespacedName{Namespace: testNS, Name: "app"}) {
			t.Errorf("lookup of %s, want %s/app", ref, testNS)
		}
		return serviceAccount(ref.Namespace, ref.Name, map[string]string{roleKey: testARN}), nil
	}
	out := admit(t, h, reviewOpts{})
	if env(typedPod(t, patched(t, testPod, out.Response)).Spec.Containers[0])["AWS_ROLE_ARN"] != testARN {
		t.Error("pod of a ServiceAccount found by lookup not mutated")
	}
	if got := missMetric(t, h, "found"); got != 1 {
		t.Errorf(`cache_misses{result="found"} = %v, want 1`, got)
	}
	// The second pod is served from the cache.
	admit(t, h, reviewOpts{})
	if calls != 1 || missMetric(t, h, "found") != 1 {
		t.Errorf("%d lookups, misses %v; want 1 and 1", calls, missMetric(t, h, "found"))
	}
}

func TestHandlerCacheMissLookupNotFound(t *testing.T) {
	h := newHandler(t)
	h.Resolver.LookupTimeout = time.Second
	h.Resolver.Lookup = func(_ context.Context, ref types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, ref.Name)
	}
	out := admit(t, h, reviewOpts{})
	assertUnchanged(t, out.Response)
	if len(out.Response.Warnings) != 0 {
		t.Errorf("warnings %q", out.Response.Warnings)
	}
	if got := missMetric(t, h, "not_found"); got != 1 {
		t.Errorf(`cache_misses{result="not_found"} = %v, want 1`, got)
	}
}

func TestHandlerCacheMissLookupError(t *testing.T) {
	h := newHandler(t)
	h.Resolver.LookupTimeout = time.Second
	h.Resolver.Lookup = func(context.Context, types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
		return nil, errors.New("apiserver unavailable")
	}
	out := admit(t, h, reviewOpts{uid: "u-err"})
	if out.Response.UID != "u-err" {
		t.Errorf("uid %q", out.Response.UID)
	}
	assertUnchanged(t, out.Response)
	want := "irsa: ServiceAccount app could not be read, pod admitted without AWS identity"
	if len(out.Response.Warnings) != 1 || out.Response.Warnings[0] != want {
		t.Errorf("warnings %q, want %q", out.Response.Warnings, want)
	}
	if got := missMetric(t, h, "error"); got != 1 {
		t.Errorf(`cache_misses{result="error"} = %v, want 1`, got)
	}
	if got := requests(t, h, outcomeError); got != 1 {
		t.Errorf("requests{outcome=error} = %v, want 1", got)
	}
}

func TestHandlerCacheMissLookupDisabled(t *testing.T) {
	h := newHandler(t)
	out := admit(t, h, reviewOpts{})
	assertUnchanged(t, out.Response)
	if len(out.Response.Warnings) != 0 {
		t.Errorf("warnings %q", out.Response.Warnings)
	}
	if got := missMetric(t, h, "disabled"); got != 1 {
		t.Errorf(`cache_misses{result="disabled"} = %v, want 1`, got)
	}
}

func TestHandlerSurvivesPanic(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	h.Resolver.LookupTimeout = time.Second
	h.Resolver.Lookup = func(context.Context, types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
		panic("lookup exploded")
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	send := func(o reviewOpts) admissionAnswer {
		t.Helper()
		resp, body := postHTTP(t, srv, reviewBody(o))
		return decodeResponse(t, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	out := send(reviewOpts{uid: "u-panic", object: podWithSA("not-cached")})
	if out.Response.UID != "u-panic" {
		t.Errorf("uid %q, want u-panic", out.Response.UID)
	}
	assertUnchanged(t, out.Response)
	if len(out.Response.Warnings) != 1 || out.Response.Warnings[0] != internalErr {
		t.Errorf("warnings %q, want %q", out.Response.Warnings, internalErr)
	}
	if got := requests(t, h, outcomeError); got != 1 {
		t.Errorf("requests{outcome=error} = %v, want 1", got)
	}

	// The server still answers, and still mutates.
	out = send(reviewOpts{uid: "u-after"})
	if out.Response.UID != "u-after" || out.Response.Patch == nil {
		t.Errorf("after the panic: uid %q, patch %s", out.Response.UID, out.Response.Patch)
	}
}

// A failed lookup does not cost a pod its Pod Identity association, which
// does not need the ServiceAccount.
func TestHandlerLookupErrorKeepsAssociation(t *testing.T) {
	h := newHandler(t)
	h.Resolver.LookupTimeout = time.Second
	h.Resolver.Lookup = func(context.Context, types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
		return nil, errors.New("apiserver unavailable")
	}
	h.Resolver.Associations = &identity.Associations{}
	h.Resolver.Associations.Set(map[types.NamespacedName]struct{}{{Namespace: testNS, Name: "app"}: {}})
	out := admit(t, h, reviewOpts{})
	if out.Response.Patch == nil {
		t.Fatalf("no patch for an associated ServiceAccount during an API outage: %+v", out.Response)
	}
}

// An answer bigger than net/http's 2 KiB response buffer carries its length
// and is not chunked.
func TestHandlerAnnouncesAnswerLength(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	h.Options.Region = "eu-west-1"
	containers := make([]string, 8)
	for i := range containers {
		containers[i] = fmt.Sprintf(`{"name":"c%d","image":"app"}`, i)
	}
	pod := `{"metadata":{"name":"p"},"spec":{"serviceAccountName":"app","containers":[` + strings.Join(containers, ",") + `]}}`
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, body := postHTTP(t, srv, reviewBody(reviewOpts{object: pod}))
	if len(body) <= 2048 {
		t.Fatalf("answer of %d bytes; the test needs one over 2 KiB", len(body))
	}
	if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %q for an answer of %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
	}
	decodeResponse(t, resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// postHTTP sends an AdmissionReview to srv over HTTP and returns the answer
// with its body read.
func postHTTP(t *testing.T, srv *httptest.Server, review []byte) (*http.Response, []byte) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/mutate", "application/json", bytes.NewReader(review))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// A pod the scanner reports as nested too deeply is read by the reference
// decoder, and mutated all the same.
func TestHandlerDeeplyNestedPodFallsBack(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	pod := strings.Replace(testPod, `"spec": {`, `"spec": {"x-future-field": `+deep+`,`, 1)
	if scanReview(reviewBody(reviewOpts{object: pod}), &review{}, &request{}) {
		t.Fatal("the scanner read the pod; the test needs one it leaves to the decoder")
	}
	out := admit(t, h, reviewOpts{object: pod})
	raw := patched(t, pod, out.Response)
	if c := typedPod(t, raw).Spec.Containers[0]; env(c)["AWS_ROLE_ARN"] != testARN {
		t.Errorf("container env %v, want the role", env(c))
	}
}

// The buffers and the pod memory recycled between requests carry nothing
// from one answer into the next: a small pod is answered the same before
// and after a big one, and so is the big one.
func TestHandlerAnswersDoNotDependOnEarlierRequests(t *testing.T) {
	h := newHandler(t, serviceAccount(testNS, "app", map[string]string{roleKey: testARN}))
	var containers []string
	for i := range 6 {
		containers = append(containers, fmt.Sprintf(
			`{"name":"c%d","env":[{"name":"AWS_REGION","value":"x"}],"volumeMounts":[{"name":"v%d","mountPath":"/v%d"},{"name":"w","mountPath":"/w"}]}`, i, i, i))
	}
	big := `{"metadata":{"name":"big","annotations":{"eks.amazonaws.com/skip-containers":"c1"}},"spec":{"serviceAccountName":"app",` +
		`"volumes":[{"name":"w","emptyDir":{}},{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"audience":"sts.amazonaws.com","path":"token"}}]}}],` +
		`"nodeSelector":{"kubernetes.io/os":"windows"},"containers":[` + strings.Join(containers, ",") + `]}}`
	small := testPod
	answer := func(pod string) string {
		w := post(h, "application/json", reviewBody(reviewOpts{object: pod}))
		return w.Body.String()
	}
	// The pool hands buffers out in no set order; enough rounds make each
	// request meet buffers the other kind used.
	wantSmall, wantBig := answer(small), answer(big)
	for range 2 * cap(scratch) {
		if got := answer(big); got != wantBig {
			t.Fatalf("big pod answered\n%s\nafter other requests, first\n%s", got, wantBig)
		}
		if got := answer(small); got != wantSmall {
			t.Fatalf("small pod answered\n%s\nafter a big one, first\n%s", got, wantSmall)
		}
	}
}
