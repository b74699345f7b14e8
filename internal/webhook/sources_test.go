package webhook

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/identity"
)

func mappingConfigMap(config string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "irsa", Name: identity.MappingConfigMapName},
		Data:       map[string]string{identity.MappingConfigMapKey: config},
	}
}

func TestMappingStore(t *testing.T) {
	m := &identity.Mapping{}
	s := &mappingStore{mapping: m, log: slog.New(slog.DiscardHandler)}
	app := types.NamespacedName{Namespace: "ns", Name: "app"}
	bound := func() bool { _, ok := m.Lookup(app); return ok }

	if s.HasSynced() {
		t.Fatal("synced before the first list")
	}
	if err := s.Replace(nil, ""); err != nil {
		t.Fatal(err)
	}
	if !s.HasSynced() || bound() {
		t.Fatalf("empty list: synced %v, bound %v", s.HasSynced(), bound())
	}
	if err := s.Add(mappingConfigMap(`{"ns/app": {"RoleARN": "` + testARN + `"}}`)); err != nil {
		t.Fatal(err)
	}
	if !bound() {
		t.Fatal("Add did not load the mapping")
	}
	// A bad entry is left out; the good ones keep working.
	if err := s.Update(mappingConfigMap(`{"ns/app": {"RoleARN": "` + testARN + `"}, "bad": {}}`)); err != nil {
		t.Fatal(err)
	}
	if !bound() {
		t.Fatal("a bad entry dropped the good one")
	}
	// Content that is not JSON keeps the previous mapping.
	if err := s.Update(mappingConfigMap(`not json`)); err != nil {
		t.Fatal(err)
	}
	if !bound() {
		t.Fatal("unparseable ConfigMap cleared the mapping")
	}
	if err := s.Delete(mappingConfigMap("")); err != nil {
		t.Fatal(err)
	}
	if bound() {
		t.Fatal("Delete did not clear the mapping")
	}
	if err := s.Replace([]any{mappingConfigMap(`{"*/app": {"RoleARN": "` + testARN + `"}}`)}, ""); err != nil {
		t.Fatal(err)
	}
	if !bound() {
		t.Fatal("Replace did not load the mapping")
	}
	if err := s.Add("junk"); err == nil {
		t.Fatal("Add of a non-ConfigMap succeeded")
	}
}

func TestAssociationsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "associations.json")
	set := &identity.Associations{}
	f := &associationsPoller{path: path, set: set, log: slog.New(slog.DiscardHandler)}
	app := types.NamespacedName{Namespace: "ns", Name: "app"}

	if err := f.load(); err == nil {
		t.Fatal("load of a missing file succeeded")
	}
	writeFile(t, path, []byte(`{"identities": [{"namespace": "ns", "serviceAccount": "app"}]}`))
	if err := f.load(); err != nil || !set.Has(app) {
		t.Fatalf("load: %v, has ns/app %v", err, set.Has(app))
	}
	// An invalid file keeps the last good associations.
	writeFile(t, path, []byte(`{"identities": [{"namespace": "ns"}]}`))
	if err := f.load(); err == nil || !set.Has(app) {
		t.Fatalf("invalid file: %v, has ns/app %v", err, set.Has(app))
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.load(); err == nil || !set.Has(app) {
		t.Fatalf("removed file: %v, has ns/app %v", err, set.Has(app))
	}
	writeFile(t, path, nil)
	if err := f.load(); err != nil || set.Has(app) {
		t.Fatalf("empty file: %v, has ns/app %v", err, set.Has(app))
	}
}

func TestHealthHandlers(t *testing.T) {
	ready := false
	mux := http.NewServeMux()
	healthHandlers(func() bool { return ready }).register(mux)
	get := func(path string) int {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code
	}
	if get("/healthz") != http.StatusOK || get("/readyz") != http.StatusServiceUnavailable {
		t.Fatalf("not ready: healthz %d, readyz %d", get("/healthz"), get("/readyz"))
	}
	ready = true
	if get("/readyz") != http.StatusOK {
		t.Fatalf("ready: readyz %d", get("/readyz"))
	}
	if !all(nil) || all([]func() bool{func() bool { return true }, func() bool { return false }}) {
		t.Fatal("all() is wrong")
	}
}
