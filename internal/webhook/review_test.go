package webhook

import (
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// FuzzScanReview checks the fast path against the reference decoder: a
// review the scanner reads is read the same by decodeReview.
func FuzzScanReview(f *testing.F) {
	for _, o := range []reviewOpts{
		{}, {apiVersion: admissionV1beta1}, {kind: "Deployment", group: "apps", object: `{"spec":{"replicas":1}}`},
		{operation: "UPDATE"}, {subResource: "status"}, {object: `{"spec":{"containers":"x"}}`},
		{object: `{"metadata":{"name":"p","annotations":{"eks.amazonaws.com/skip-containers":"a"}},"spec":{"serviceAccountName":"sa","containers":[{"name":"a","env":[{"name":"AWS_REGION","value":"x"}]}]}}`},
	} {
		f.Add(reviewBody(o))
	}
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":{"spec":{}},"uid":"u","kind":{"kind":"Pod"}}}`))
	f.Add([]byte(`{"request":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, req := &review{}, &request{}
		if !scanReview(body, got, req) {
			return
		}
		check := jsontext.Value(body).Clone()
		if err := check.Format(jsontext.AllowDuplicateNames(false)); err != nil {
			t.Skip() // not JSON an API server sends
		}
		want, err := decodeReview(body)
		if err != nil || (want.Request != nil && want.Request.objectErr != nil) {
			t.Skip() // the scanner is lenient where the decoder explains
		}
		if want.Request != nil && (want.Request.Kind.Group != "" || want.Request.Kind.Kind != "Pod") {
			want.Request.Object = got.Request.Object // only pods are read
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner read\n%#v\ndecoder read\n%#v\nfrom %s", got, want, body)
		}
	})
}

// reviewResponse is the AdmissionReview an answer stands for.
type reviewResponse struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Response   *response `json:"response"`
}

// appendReview writes what the JSON encoder writes for the same answer.
func TestAppendReviewMatchesJSON(t *testing.T) {
	for _, resp := range []*response{
		{UID: "u-1", Allowed: true},
		{UID: `u"2\`, Allowed: true, PatchType: "JSONPatch", Patch: []byte(`[{"op":"add","path":"/spec/volumes/-","value":{}}]`)},
		{UID: "u-3", Allowed: true, Warnings: []string{`irsa: "quoted" <tag> & é`, "second"}},
	} {
		for _, v := range []string{admissionV1, admissionV1beta1} {
			want, err := json.Marshal(&reviewResponse{APIVersion: v, Kind: "AdmissionReview", Response: resp})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendReview(nil, v, resp); string(got) != string(want) {
				t.Errorf("appendReview wrote\n%s\nthe JSON encoder\n%s", got, want)
			}
		}
	}
}
