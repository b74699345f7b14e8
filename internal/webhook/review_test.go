package webhook

import (
	"reflect"
	"testing"

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
		got, ok := scanReview(body)
		if !ok {
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
