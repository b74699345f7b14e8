package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"

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

// buffers are one request's scratch space: the body read, the patch and the
// answer written. They are recycled, since a review is a few kilobytes and
// collecting that garbage costs more than the mutation itself.
type buffers struct {
	body, out bytes.Buffer
	patch     []byte
	// review and request are what the scanner reads the body into.
	review  review
	request request
}

// scratch keeps released buffers for the next requests. A sync.Pool drops
// what survives two garbage collections, which at this request rate come
// every few hundred requests, and the buffers would be allocated again.
var scratch = make(chan *buffers, 64)

func getBuffers() *buffers {
	select {
	case b := <-scratch:
		return b
	default:
		return new(buffers)
	}
}

func (b *buffers) release() {
	b.body.Reset()
	b.patch = b.patch[:0]
	b.out.Reset()
	// The review and request are emptied when the next body is scanned
	// into them; until then they, like the body's bytes, hold the last one.
	// Buffers far above the usual size are not kept, so one huge pod does
	// not pin its memory.
	const keep = 1 << 20
	if b.body.Cap() > keep || b.out.Cap() > keep || cap(b.patch) > keep {
		return
	}
	select {
	case scratch <- b:
	default:
	}
}

// Handler answers admission requests for pods. It never denies a pod: a pod
// it cannot or should not mutate is allowed unchanged, with a warning when
// the user should know why.
type Handler struct {
	// Resolver finds the identity of a pod's ServiceAccount.
	Resolver *identity.Resolver
	// Options are the mutation's settings.
	Options mutate.Options
	// Metrics count requests, mutations and problems.
	Metrics *Metrics
	// Log receives one line per problem; a pod mutated cleanly logs at debug.
	Log *slog.Logger
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
	defer func() {
		// Last resort: a panic outside the mutation, where no answer can be
		// formed. The API server applies the failure policy.
		if p := recover(); p != nil {
			outcome = outcomeError
			h.Log.Error("panic while answering", "panic", p, "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()

	buf := getBuffers()
	defer buf.release()
	in, err := h.read(w, r, buf)
	if err != nil {
		outcome = outcomeBadInput
		var he *httpError
		errors.As(err, &he)
		h.Log.Warn("bad admission request", "remote", r.RemoteAddr, "err", err)
		http.Error(w, he.msg, he.status)
		return
	}
	resp := &response{UID: in.Request.UID, Allowed: true}
	func() {
		defer func() {
			if p := recover(); p != nil {
				outcome = outcomeError
				h.Log.Error("panic while mutating; pod allowed unchanged", "uid", in.Request.UID, "panic", p, "stack", string(debug.Stack()))
				*resp = response{UID: in.Request.UID, Allowed: true,
					Warnings: []string{"irsa: internal error, pod admitted without AWS identity; see webhook logs"}}
			}
		}()
		outcome = h.admit(r.Context(), in.Request, resp, buf)
	}()

	buf.out.Write(appendReview(buf.out.AvailableBuffer(), in.APIVersion, resp))
	// With its length announced, an answer of more than net/http's 2 KiB
	// buffer (any pod with a few containers) is written as is, not chunked.
	header := w.Header()
	header["Content-Type"] = jsonContentType
	header["Content-Length"] = []string{strconv.Itoa(buf.out.Len())}
	_, _ = w.Write(buf.out.Bytes())
}

// jsonContentType is the answer's Content-Type header, set without
// canonicalising the key on every request.
var jsonContentType = []string{"application/json"}

// isJSON reports whether a Content-Type is application/json, with or
// without parameters; the API server sends it bare.
func isJSON(contentType string) bool {
	if contentType == "application/json" {
		return true
	}
	ct, _, err := mime.ParseMediaType(contentType)
	return err == nil && ct == "application/json"
}

// read checks the transport and decodes the AdmissionReview envelope.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, buf *buffers) (*review, error) {
	body := &buf.body
	if r.Method != http.MethodPost {
		return nil, &httpError{http.StatusMethodNotAllowed, "use POST"}
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/json", r.Header.Get("Content-Type"))}
	}
	// The announced length sizes the buffer only up to a typical pod, so a
	// client cannot make the webhook reserve memory it never sends.
	if r.ContentLength > 0 {
		body.Grow(int(min(r.ContentLength, 64<<10)) + bytes.MinRead)
	}
	if _, err := body.ReadFrom(http.MaxBytesReader(w, r.Body, maxBodyBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBodyBytes)}
		}
		return nil, &httpError{http.StatusBadRequest, "read body: " + err.Error()}
	}
	in := &buf.review
	if !scanReviewSafely(body.Bytes(), in, &buf.request) {
		var err error
		if in, err = decodeReview(body.Bytes()); err != nil {
			return nil, &httpError{http.StatusBadRequest, "body is not an AdmissionReview: " + err.Error()}
		}
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
	return in, nil
}

// admit fills resp for one request and returns the outcome for metrics.
func (h *Handler) admit(ctx context.Context, req *request, resp *response, buf *buffers) string {
	if req.Kind.Group != "" || req.Kind.Kind != "Pod" || req.Operation != "CREATE" || req.SubResource != "" {
		return outcomeIgnored
	}
	if err := req.objectErr; err != nil {
		h.Log.Warn("pod not decodable; allowed unchanged", "uid", req.UID, "namespace", req.Namespace, "err", err)
		resp.Warnings = append(resp.Warnings, "irsa: pod could not be decoded, admitted without AWS identity: "+err.Error())
		return outcomeBadInput
	}
	pod := &req.Object
	namespace := req.Namespace
	if namespace == "" {
		namespace = pod.Metadata.Namespace
	}
	sa := types.NamespacedName{Namespace: namespace, Name: pod.ServiceAccountName()}
	// Attributes are only built when a line is logged: most requests log
	// nothing, and slog's With formats eagerly.
	log := func(level slog.Level, msg string, args ...any) {
		if h.Log.Enabled(ctx, level) {
			h.Log.Log(ctx, level, msg, append([]any{"uid", req.UID, "namespace", namespace, "pod", podName(pod), "serviceAccount", sa.Name}, args...)...)
		}
	}

	res := h.Resolver.Resolve(ctx, sa)
	if res.CacheMiss {
		h.Metrics.cacheMisses.WithLabelValues(missResult(h.Resolver, res)).Inc()
	}
	if res.LookupErr != nil {
		if !res.Bound {
			log(slog.LevelError, "ServiceAccount lookup failed; pod allowed without identity", "err", res.LookupErr)
			resp.Warnings = append(resp.Warnings, "irsa: ServiceAccount "+sa.Name+" could not be read, pod admitted without AWS identity")
			return outcomeError
		}
		// Bound by a Pod Identity association or the mapping ConfigMap,
		// which do not need the ServiceAccount itself.
		log(slog.LevelWarn, "ServiceAccount lookup failed; using its "+string(res.Source)+" binding", "err", res.LookupErr)
	}
	if res.Problem != nil {
		h.Metrics.invalid.Inc()
		log(slog.LevelWarn, "invalid ServiceAccount annotation", "err", res.Problem)
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("irsa: ServiceAccount %s: %v", sa.Name, res.Problem))
	}
	if !res.Bound {
		return outcomeUnchanged
	}

	result := mutate.Inject(buf.patch, pod, res.Identity, h.Options)
	if len(result.Warnings) > 0 {
		h.Metrics.warnings.Inc()
		for _, w := range result.Warnings {
			log(slog.LevelWarn, "pod admitted with warning", "warning", w)
			resp.Warnings = append(resp.Warnings, "irsa: "+w)
		}
	}
	if len(result.Patch) == 0 {
		return outcomeUnchanged
	}
	buf.patch = result.Patch
	resp.Patch, resp.PatchType = result.Patch, "JSONPatch"
	h.Metrics.mutations.WithLabelValues(string(res.Identity.Mode), string(res.Source)).Inc()
	if h.Log.Enabled(ctx, slog.LevelDebug) { // the arguments alone would allocate
		log(slog.LevelDebug, "pod mutated", "mode", res.Identity.Mode, "source", res.Source, "role", res.Identity.RoleARN)
	}
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
