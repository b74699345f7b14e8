package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/jsonscan"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// BenchmarkHandler is our webhook's per-request work without the network:
// the same request as the benchmark, a synced cache, the logger `irsa
// webhook --log-level warn` builds. Profile it with
//
//	go test ./hack/bench -run '^$' -bench Handler -cpuprofile cpu.out
func BenchmarkHandler(b *testing.B) {
	h := newBenchHandler(b)
	body, err := reviewRequest()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// TestHandlerMutatesBenchPod keeps the benchmark honest: the request it
// times is one our handler mutates.
func TestHandlerMutatesBenchPod(t *testing.T) {
	body, err := reviewRequest()
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/mutate", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	newBenchHandler(t).ServeHTTP(w, r)
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"patch":`)) {
		t.Fatalf("status %d, want a patch: %s", w.Code, w.Body)
	}
}

// newBenchHandler returns the handler `irsa webhook` serves, over a cache
// that knows the benchmark's ServiceAccount.
func newBenchHandler(tb testing.TB) *webhook.Handler {
	tb.Helper()
	opts := webhook.NewOptions()
	opts.LogLevel = "warn"
	cache := identity.NewCache(opts.Mutate.AnnotationPrefix, nil)
	sa := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
		Namespace: benchNamespace, Name: benchServiceAccount,
		Annotations: map[string]string{roleARNAnnotation: benchRoleARN},
	}}
	if err := cache.Replace([]any{sa}, "1"); err != nil {
		tb.Fatal(err)
	}
	return &webhook.Handler{
		Resolver: &identity.Resolver{Cache: cache},
		Options:  opts.Mutate,
		Metrics:  webhook.NewMetrics(func() float64 { return float64(cache.Len()) }),
		Log:      opts.NewLogger(io.Discard),
	}
}

// BenchmarkScanPod reads the benchmark's pod with the scanner the handler
// uses, alone, into one recycled Pod as the handler does.
func BenchmarkScanPod(b *testing.B) {
	pod, err := json.Marshal(benchPod())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pod)))
	b.ReportAllocs()
	var p mutate.Pod // recycled, as the handler does
	for b.Loop() {
		s := jsonscan.New(pod)
		mutate.ScanPod(s, &p)
		if s.Err() != nil || len(p.Spec.Containers) != 3 {
			b.Fatalf("scan: %v, %d containers", s.Err(), len(p.Spec.Containers))
		}
	}
}

// BenchmarkSkip passes over the benchmark's pod as one value.
func BenchmarkSkip(b *testing.B) {
	pod, err := json.Marshal(benchPod())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pod)))
	for b.Loop() {
		s := jsonscan.New(pod)
		s.Skip()
		if s.Err() != nil {
			b.Fatal(s.Err())
		}
	}
}
