package webhook

import (
	"encoding/base64"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/jsonscan"
	"github.com/irsa-dev/irsa/internal/mutate"
)

// review is the part of an AdmissionReview the handler reads. v1 and v1beta1
// have the same JSON shape.
type review struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Request    *request `json:"request"`
}

type request struct {
	UID  types.UID `json:"uid"`
	Kind struct {
		Group string `json:"group"`
		Kind  string `json:"kind"`
	} `json:"kind"`
	SubResource string `json:"subResource"`
	Namespace   string `json:"namespace"`
	Operation   string `json:"operation"`
	// Object is decoded straight into the pod's decision view in the same
	// pass as the envelope: one scan of the body per request.
	Object mutate.Pod `json:"object"`
	// objectErr is why Object could not be decoded, if it could not.
	objectErr error
}

// reset empties r, keeping the memory of its pod's lists for the next scan.
func (r *request) reset() {
	pod := r.Object
	pod.Recycle()
	*r = request{Object: pod}
}

// rawReview is the envelope alone, read when the object does not decode as
// a pod, so the answer can still carry the request's uid.
type rawReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		request
		Object jsontext.Value `json:"object"`
	} `json:"request"`
}

// response is admission.k8s.io AdmissionResponse, the fields this webhook
// sets, written by appendReview; Patch is base64-encoded as the API expects.
type response struct {
	UID       types.UID `json:"uid"`
	Allowed   bool      `json:"allowed"`
	PatchType string    `json:"patchType,omitempty"`
	Patch     []byte    `json:"patch,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
}

// appendReview appends the AdmissionReview answering with resp, written
// directly since it is written for every request (a test holds it to the
// JSON encoder's output).
func appendReview(dst []byte, apiVersion string, resp *response) []byte {
	dst = append(dst, `{"apiVersion":`...)
	dst, _ = jsontext.AppendQuote(dst, apiVersion)
	dst = append(dst, `,"kind":"AdmissionReview","response":{"uid":`...)
	dst, _ = jsontext.AppendQuote(dst, string(resp.UID))
	dst = strconv.AppendBool(append(dst, `,"allowed":`...), resp.Allowed)
	if resp.PatchType != "" {
		dst = append(dst, `,"patchType":`...)
		dst, _ = jsontext.AppendQuote(dst, resp.PatchType)
	}
	if len(resp.Patch) > 0 {
		dst = append(dst, `,"patch":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, resp.Patch)
		dst = append(dst, '"')
	}
	if len(resp.Warnings) > 0 {
		dst = append(dst, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, _ = jsontext.AppendQuote(dst, w)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...)
}

// scanReviewSafely is scanReview, with a panic in the scanner taken as
// "cannot read": the reference decoder reads the review instead.
func scanReviewSafely(body []byte, in *review, req *request) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return scanReview(body, in, req)
}

// scanReview reads a review with the fast scanner, in one pass when the API
// server sends the request's kind before its object, as it does. ok is
// false for anything the scanner cannot read; decodeReview then reads it
// and explains what is wrong. The review is read into in, and its request,
// if any, into req: the handler recycles both.
func scanReview(body []byte, in *review, req *request) bool {
	*in = review{}
	req.reset()
	complete := true
	s := jsonscan.New(body)
	if s.Object() {
		for s.Next() {
			switch {
			case s.NameIs("apiVersion"):
				in.APIVersion = s.StringOf(admissionV1, admissionV1beta1)
			case s.NameIs("kind"):
				in.Kind = s.StringOf("AdmissionReview")
			case s.NameIs("request"):
				in.Request = nil
				if s.Object() {
					in.Request = req
					complete = scanRequest(s, in.Request)
				}
			default:
				s.Skip()
			}
		}
	}
	return complete && s.End() == nil
}

// scanRequest reads the members of a request; it returns false when the
// object comes before the kind that says whether it is a pod.
func scanRequest(s *jsonscan.Scanner, r *request) bool {
	complete, kindSeen := true, false
	for s.Next() {
		switch {
		case s.NameIs("uid"):
			r.UID = types.UID(s.String())
		case s.NameIs("kind"):
			kindSeen = true
			r.Kind.Group, r.Kind.Kind = "", ""
			if s.Object() {
				for s.Next() {
					switch {
					case s.NameIs("group"):
						r.Kind.Group = s.StringOf("")
					case s.NameIs("kind"):
						r.Kind.Kind = s.StringOf("Pod")
					default:
						s.Skip()
					}
				}
			}
		case s.NameIs("subResource"):
			r.SubResource = s.String()
		case s.NameIs("namespace"):
			r.Namespace = s.String()
		case s.NameIs("operation"):
			r.Operation = s.StringOf("CREATE", "UPDATE", "DELETE", "CONNECT")
		case s.NameIs("object") && kindSeen && r.Kind.Group == "" && r.Kind.Kind == "Pod":
			mutate.ScanPod(s, &r.Object)
		case s.NameIs("object"):
			complete = complete && kindSeen
			s.Skip()
		default:
			s.Skip()
		}
	}
	return complete
}

// decodeReview reads a review with the reference decoder. A review whose
// object does not decode as a pod is still returned, with the reason in
// objectErr, so the request can be answered.
func decodeReview(body []byte) (*review, error) {
	var in review
	err := json.Unmarshal(body, &in, mutate.DecodeOptions)
	if err == nil {
		return &in, nil
	}
	var raw rawReview
	if rawErr := json.Unmarshal(body, &raw, mutate.DecodeOptions); rawErr != nil {
		return nil, rawErr
	}
	in = review{APIVersion: raw.APIVersion, Kind: raw.Kind}
	if raw.Request != nil {
		in.Request = &raw.Request.request
		in.Request.objectErr = err
	}
	return &in, nil
}
