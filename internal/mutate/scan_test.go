package mutate_test

import (
	"reflect"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/irsa-dev/irsa/internal/jsonscan"
	"github.com/irsa-dev/irsa/internal/mutate"
)

// FuzzScanPod checks the fast scanner against the reference decoder: on
// every document the reference accepts, ScanPod reads the same pod.
func FuzzScanPod(f *testing.F) {
	for _, c := range goldenCases(f) {
		f.Add(c.podJSON)
	}
	for _, raw := range []string{
		`{}`, `null`, `{"spec":null}`, `{"metadata":null}`,
		`{"spec":{"containers":[],"initContainers":null,"volumes":[]}}`,
		`{"spec":{"containers":[{"name":"a","env":[],"volumeMounts":[]}]}}`,
		`{"spec":{"containers":[{"name":"a\"b","env":[{"name":"X","value":"a\\\"]}"}]}]}}`,
		`{"spec":{"containers":[{"name":"\u0061","env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"x"}}}]}]}}`,
		`{"metadata":{"labels":{"eks.amazonaws.com/skip-pod-identity-webhook":"true","x":"y"},"annotations":{"a/token-expiration":"1","b/skip-containers":"c","z":"{"}}}`,
		`{"spec":{"nodeSelector":{"kubernetes.io/os":"windows","beta.kubernetes.io/os":"windows","zone":"a"},"os":{"name":"windows","other":1}}}`,
		`{"spec":{"volumes":[{"name":"v","projected":{"sources":[{"serviceAccountToken":{"audience":"a","expirationSeconds":600,"path":"token"}},{"configMap":{"name":"x"}}]}}]}}`,
		`{"spec":{"volumes":[{"name":"v","projected":{"sources":[{"serviceAccountToken":null}]}},{"name":"w","projected":null}]}}`,
		// Names and paths repeated across volumes and containers, and more
		// distinct ones than the scan remembers.
		`{"spec":{"volumes":[{"name":"v","projected":{"sources":[{"serviceAccountToken":{"audience":"v","path":"v"}}]}}],` +
			`"containers":[{"name":"a","volumeMounts":[{"name":"v","mountPath":"/p"},{"name":"v","mountPath":"/p"}]},` +
			`{"name":"b","volumeMounts":[{"name":"1","mountPath":"/1"},{"name":"2","mountPath":"/2"},{"name":"3","mountPath":"/3"},` +
			`{"name":"4","mountPath":"/4"},{"name":"5","mountPath":"/5"},{"name":"6","mountPath":"/6"},{"name":"7","mountPath":"/7"},` +
			`{"name":"8","mountPath":"/8"},{"name":"9","mountPath":"/9"},{"name":"1","mountPath":"/9"},{"name":"v","mountPath":"/p"}]}]}}`,
		"{\"metadata\": {\"name\": \"p\", \"annot\\u0061tions\": {\"eks.amazonaws.com/skip-containers\": \"a\"}}}",
		` { "spec" : { "containers" : [ { "name" : "a" , "ports" : [ 1 , 2.5e3 , -1 , true , false , null ] } ] } } `,
	} {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The API server never sends duplicate names; the reference decoder
		// merges duplicates where the scanner replaces, so leave them out.
		check := jsontext.Value(raw).Clone()
		if err := check.Format(jsontext.AllowDuplicateNames(false)); err != nil {
			t.Skip()
		}
		var want mutate.Pod
		if err := json.Unmarshal(raw, &want, mutate.DecodeOptions); err != nil {
			t.Skip()
		}
		var fresh mutate.Pod
		s := jsonscan.New(raw)
		mutate.ScanPod(s, &fresh)
		if err := s.End(); err != nil {
			t.Fatalf("scanner rejected what the decoder accepts: %v\n%s", err, raw)
		}
		if !reflect.DeepEqual(fresh, want) {
			t.Fatalf("scanner read\n%#v\ndecoder read\n%#v\nfrom %s", fresh, want, raw)
		}
		// The same, scanned into a Pod the handler recycled after a
		// pod with more of everything.
		recycled := scanned(t, busyPod)
		recycled.Recycle()
		mutate.ScanPod(jsonscan.New(raw), &recycled)
		if !reflect.DeepEqual(recycled, want) {
			t.Fatalf("scanner read into a recycled pod\n%#v\ndecoder read\n%#v\nfrom %s", recycled, want, raw)
		}
	})
}

// busyPod has more containers, mounts, env and volumes than the fuzzer's
// seeds, to be recycled before scanning them.
const busyPod = `{"spec":{
	"initContainers":[{"name":"i","volumeMounts":[{"name":"a","mountPath":"/a"},{"name":"b","mountPath":"/b"}]}],
	"containers":[
		{"name":"x","env":[{"name":"AWS_REGION"}],"volumeMounts":[{"name":"a","mountPath":"/a","readOnly":true},{"name":"b","mountPath":"/b"},{"name":"c","mountPath":"/c"}]},
		{"name":"y","volumeMounts":[{"name":"a","mountPath":"/a"}]},
		{"name":"z","env":[{"name":"AWS_ROLE_ARN"}],"volumeMounts":[]},
		{"name":"w"}],
	"volumes":[{"name":"a","projected":{"sources":[{"serviceAccountToken":{"path":"t"}}]}},{"name":"b"},{"name":"c"},{"name":"d"},{"name":"e"}]}}`

func scanned(t *testing.T, raw string) mutate.Pod {
	t.Helper()
	var p mutate.Pod
	s := jsonscan.New([]byte(raw))
	mutate.ScanPod(s, &p)
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Recycle keeps the lists' memory but nothing they held.
func TestRecycleKeepsNothing(t *testing.T) {
	p := scanned(t, busyPod)
	containers, mounts := p.Spec.Containers, p.Spec.Containers[0].VolumeMounts
	p.Recycle()
	if len(p.Spec.Containers) != 0 || cap(p.Spec.Containers) != cap(containers) {
		t.Fatalf("containers len %d cap %d, want 0 and %d", len(p.Spec.Containers), cap(p.Spec.Containers), cap(containers))
	}
	for i, c := range containers[:cap(containers)] {
		if c.Name != "" || c.Env.Len != 0 || c.Env.Injected != nil || len(c.VolumeMounts) != 0 {
			t.Errorf("container slot %d still holds %+v", i, c)
		}
	}
	for i, m := range mounts[:cap(mounts)] {
		if m != (mutate.VolumeMount{}) {
			t.Errorf("mount slot %d still holds %+v", i, m)
		}
	}
	if cap(p.Spec.Containers[:1][0].VolumeMounts) != cap(mounts) {
		t.Error("the first container's mount list memory was not kept")
	}
	for i, v := range p.Spec.Volumes[:cap(p.Spec.Volumes)] {
		if v.Name != "" || v.Projected != nil {
			t.Errorf("volume slot %d still holds %+v", i, v)
		}
	}
}
