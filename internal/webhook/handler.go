package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	kjson "sigs.k8s.io/json"

	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/mutate"
)

// maxBodyBytes caps an AdmissionReview. The API server limits a request body
// to 3 MiB; an AdmissionReview carries the object (and for updates the old
// one) plus an envelope, so 7 MiB admits every valid review while a runaway
// client cannot make the webhook buffer without bound.
const maxBodyBytes = 7 << 20

// Admission API versions the webhook answers; each response is in the
// version of its request.
const (
	admissionV1      = "admission.k8s.io/v1"
	admissionV1beta1 = "admission.k8s.io/v1beta1"
)

// review is the part of an AdmissionReview the handler reads. v1 and v1beta1
// have the same JSON shape.
type review struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Request    *request `json:"request"`
}

type request struct {
	UID         types.UID `json:"uid"`
	Kind        struct{ Group, Version, Kind string }
	Resource    struct{ Group, Version, Resource string }
	SubResource string          `json:"subResource"`
	Namespace   string          `json:"namespace"`
	Operation   string          `json:"operation"`
	Object      json.RawMessage `json:"object"`
}

// Handler answers admission requests for pods. It never denies a pod: a pod
// it cannot or should not mutate is allowed unchanged, with a warning when
// the user should know why.
type Handler struct {
	Resolver *identity.Resolver
	Options  mutate.Options
	Metrics  *Metrics
	Log      *slog.Logger
}

// httpError is a request the handler cannot answer with an AdmissionReview.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	outcome := outcomeError
	defer func() {
		h.Metrics.requests.WithLabelValues(outcome).Inc()
		h.Metrics.duration.Observe(time.Since(start).Seconds())
	}()

	in, err := h.read(w, r)
	if err != nil {
		outcome = outcomeBadInput
		var he *httpError
		errors.As(err, &he)
		h.Log.Warn("bad admission request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, he.msg, he.status)
		return
	}
	log := h.Log.With("uid", in.Request.UID, "namespace", in.Request.Namespace)
	resp := &admissionv1.AdmissionResponse{UID: in.Request.UID, Allowed: true}
	func() {
		defer func() {
			if p := recover(); p != nil {
				outcome = outcomeError
				log.Error("panic while mutating; pod allowed unchanged", "panic", p, "stack", string(debug.Stack()))
				*resp = admissionv1.AdmissionResponse{UID: in.Request.UID, Allowed: true,
					Warnings: []string{"irsa: internal error, pod admitted without AWS identity; see webhook logs"}}
			}
		}()
		outcome = h.admit(r.Context(), log, in.Request, resp)
	}()

	out, err := json.Marshal(struct {
		APIVersion string                         `json:"apiVersion"`
		Kind       string                         `json:"kind"`
		Response   *admissionv1.AdmissionResponse `json:"response"`
	}{in.APIVersion, "AdmissionReview", resp})
	if err != nil {
		outcome = outcomeError
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// read checks the transport and decodes the AdmissionReview envelope.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) (*review, error) {
	if r.Method != http.MethodPost {
		return nil, &httpError{http.StatusMethodNotAllowed, "use POST"}
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", r.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBodyBytes)}
		}
		return nil, &httpError{http.StatusBadRequest, "read body: " + err.Error()}
	}
	var in review
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &httpError{http.StatusBadRequest, "body is not an AdmissionReview: " + err.Error()}
	}
	if in.APIVersion != admissionV1 && in.APIVersion != admissionV1beta1 {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("apiVersion %q: want %s or %s", in.APIVersion, admissionV1, admissionV1beta1)}
	}
	if in.Kind != "AdmissionReview" {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("kind %q: want AdmissionReview", in.Kind)}
	}
	if in.Request == nil || in.Request.UID == "" {
		return nil, &httpError{http.StatusBadRequest, "AdmissionReview has no request uid"}
	}
	return &in, nil
}

// admit fills resp for one request and returns the outcome for metrics.
func (h *Handler) admit(ctx context.Context, log *slog.Logger, req *request, resp *admissionv1.AdmissionResponse) string {
	if req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.Operation != "CREATE" || req.SubResource != "" {
		return outcomeIgnored
	}
	// Decode as the API server does: keys are case-sensitive, so the pod the
	// patch applies to is the pod the decision was made on.
	var pod mutate.Pod
	if err := kjson.UnmarshalCaseSensitivePreserveInts(req.Object, &pod); err != nil {
		log.Warn("pod not decodable; allowed unchanged", "err", err)
		resp.Warnings = append(resp.Warnings, "irsa: pod could not be decoded, admitted without AWS identity: "+err.Error())
		return outcomeBadInput
	}
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Metadata.Namespace
	}
	sa := types.NamespacedName{Namespace: namespace, Name: pod.ServiceAccountName()}
	log = log.With("pod", podName(&pod), "serviceAccount", sa.Name)

	res := h.Resolver.Resolve(ctx, sa)
	if res.CacheMiss {
		h.Metrics.cacheMisses.WithLabelValues(missResult(h.Resolver, res)).Inc()
	}
	if res.LookupErr != nil {
		log.Error("ServiceAccount lookup failed; pod allowed without identity", "err", res.LookupErr)
		resp.Warnings = append(resp.Warnings, "irsa: ServiceAccount "+sa.Name+" could not be read, pod admitted without AWS identity")
		return outcomeError
	}
	if res.Problem != nil {
		h.Metrics.invalid.Inc()
		log.Warn("invalid ServiceAccount annotation", "err", res.Problem)
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("irsa: ServiceAccount %s: %v", sa.Name, res.Problem))
	}
	if !res.Bound {
		return outcomeUnchanged
	}

	result := mutate.Inject(&pod, res.Identity, h.Options)
	if len(result.Warnings) > 0 {
		h.Metrics.warnings.Inc()
		for _, w := range result.Warnings {
			log.Warn("pod admitted with warning", "warning", w)
			resp.Warnings = append(resp.Warnings, "irsa: "+w)
		}
	}
	if len(result.Patch) == 0 {
		return outcomeUnchanged
	}
	patch, err := json.Marshal(result.Patch)
	if err != nil {
		log.Error("encode patch", "err", err)
		return outcomeError
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = patch, &pt
	h.Metrics.mutations.WithLabelValues(string(res.Identity.Mode), string(res.Source)).Inc()
	log.Debug("pod mutated", "mode", res.Identity.Mode, "source", res.Source, "role", res.Identity.RoleARN)
	return outcomeMutated
}

func missResult(r *identity.Resolver, res identity.Resolution) string {
	switch {
	case r.Lookup == nil || r.LookupTimeout <= 0:
		return "disabled"
	case res.LookupErr != nil:
		return "error"
	case res.LookupFound:
		return "found"
	}
	return "not_found"
}

func podName(p *mutate.Pod) string {
	if p.Metadata.Name != "" {
		return p.Metadata.Name
	}
	return p.Metadata.GenerateName + "*"
}
