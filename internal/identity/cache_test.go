package identity

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

const testARN = "arn:aws:iam::123456789012:role/app"

// sa returns ServiceAccount metadata as the metadata client delivers it.
func sa(namespace, name string, annotations map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   namespace,
			Name:        name,
			UID:         types.UID(namespace + "-" + name + "-uid"),
			Annotations: annotations,
		},
	}
}

func roleAnnotation(arn string) map[string]string {
	return map[string]string{prefix + "/" + AnnotationRoleARN: arn}
}

// problems records the onProblem calls of a cache.
type problems struct{ calls []string }

func (p *problems) record(ref types.NamespacedName, uid types.UID, err error) {
	p.calls = append(p.calls, ref.String()+" "+string(uid)+": "+err.Error())
}

func mustEntry(t *testing.T, c *Cache, ns, name string) *entry {
	t.Helper()
	e, ok := c.get(types.NamespacedName{Namespace: ns, Name: name})
	if !ok {
		t.Fatalf("cache does not know %s/%s", ns, name)
	}
	return e
}

func TestCacheReplaceSyncs(t *testing.T) {
	c := NewCache(prefix, nil)
	if c.HasSynced() {
		t.Fatal("HasSynced before the first list")
	}
	if err := c.Add(sa("ns", "early", nil)); err != nil {
		t.Fatal(err)
	}
	if c.HasSynced() {
		t.Fatal("HasSynced after Add, before the first list")
	}
	err := c.Replace([]any{
		sa("ns", "bound", roleAnnotation(testARN)),
		sa("ns", "plain", map[string]string{"other": "x"}),
		sa("other", "bound", roleAnnotation(testARN)),
	}, "42")
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasSynced() {
		t.Fatal("not HasSynced after Replace")
	}
	if c.Len() != 3 {
		t.Errorf("Len = %d, want 3 (Replace drops what the list does not hold)", c.Len())
	}
	if _, ok := c.get(types.NamespacedName{Namespace: "ns", Name: "early"}); ok {
		t.Error("Replace kept a ServiceAccount the list does not hold")
	}
	if e := mustEntry(t, c, "ns", "bound"); !e.bound || e.id.RoleARN != testARN {
		t.Errorf("ns/bound = %+v, want bound to %s", e, testARN)
	}
	if e := mustEntry(t, c, "ns", "plain"); e.bound || e.problem != nil {
		t.Errorf("ns/plain = %+v, want unbound", e)
	}
	// An empty list still syncs.
	c2 := NewCache(prefix, nil)
	if err := c2.Replace(nil, ""); err != nil || !c2.HasSynced() || c2.Len() != 0 {
		t.Errorf("empty Replace: err %v, synced %v, len %d", err, c2.HasSynced(), c2.Len())
	}
}

func TestCacheAddUpdateDelete(t *testing.T) {
	c := NewCache(prefix, nil)
	if err := c.Add(sa("ns", "app", nil)); err != nil {
		t.Fatal(err)
	}
	if e := mustEntry(t, c, "ns", "app"); e.bound {
		t.Fatalf("unannotated ServiceAccount is bound: %+v", e)
	}
	if err := c.Update(sa("ns", "app", roleAnnotation(testARN))); err != nil {
		t.Fatal(err)
	}
	if e := mustEntry(t, c, "ns", "app"); !e.bound || e.id.RoleARN != testARN {
		t.Fatalf("after Update: %+v, want bound to %s", e, testARN)
	}
	if err := c.Update(sa("ns", "app", nil)); err != nil {
		t.Fatal(err)
	}
	if e := mustEntry(t, c, "ns", "app"); e.bound {
		t.Fatalf("annotation removed but still bound: %+v", e)
	}
	if err := c.Delete(sa("ns", "app", nil)); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("Len after Delete = %d", c.Len())
	}
	// Deleting what is not there is fine.
	if err := c.Delete(sa("ns", "gone", nil)); err != nil {
		t.Fatal(err)
	}
}

func TestCacheDeleteTombstone(t *testing.T) {
	c := NewCache(prefix, nil)
	if err := c.Add(sa("ns", "app", roleAnnotation(testARN))); err != nil {
		t.Fatal(err)
	}
	err := c.Delete(cache.DeletedFinalStateUnknown{Key: "ns/app", Obj: sa("ns", "app", roleAnnotation(testARN))})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("tombstone not deleted; Len = %d", c.Len())
	}
}

func TestCacheRejectsOtherObjects(t *testing.T) {
	c := NewCache(prefix, nil)
	for name, f := range map[string]func() error{
		"Add":       func() error { return c.Add("a string") },
		"Update":    func() error { return c.Update(&metav1.Status{}) },
		"Delete":    func() error { return c.Delete(42) },
		"tombstone": func() error { return c.Delete(cache.DeletedFinalStateUnknown{Key: "x/y", Obj: "junk"}) },
		"Replace":   func() error { return c.Replace([]any{sa("ns", "a", nil), "junk"}, "") },
	} {
		if err := f(); err == nil || !strings.Contains(err.Error(), "unexpected object") {
			t.Errorf("%s: error = %v, want unexpected object", name, err)
		}
	}
	if c.HasSynced() {
		t.Error("a failed Replace marked the cache synced")
	}
}

func TestCacheTransformer(t *testing.T) {
	c := NewCache(prefix, nil)
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       "ns",
			Name:            "app",
			UID:             "uid-1",
			ResourceVersion: "7",
			Generation:      3,
			Labels:          map[string]string{"app": "x"},
			Finalizers:      []string{"example.com/f"},
			OwnerReferences: []metav1.OwnerReference{{Name: "owner"}},
			ManagedFields:   []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}},
			Annotations: map[string]string{
				prefix + "/role-arn":                               testARN,
				prefix + "/audience":                               "aud",
				prefix + "/sts-regional-endpoints":                 "true",
				prefix + "/token-expiration":                       "3600",
				prefix + "/session-name":                           "pod",
				prefix + "/other":                                  "dropped",
				"kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 4096),
			},
		},
	}
	out, err := c.Transformer()(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       "ns",
			Name:            "app",
			UID:             "uid-1",
			ResourceVersion: "7",
			Annotations: map[string]string{
				prefix + "/role-arn":               testARN,
				prefix + "/audience":               "aud",
				prefix + "/sts-regional-endpoints": "true",
				prefix + "/token-expiration":       "3600",
				prefix + "/session-name":           "pod",
			},
		},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Transformer =\n%+v\nwant\n%+v", out, want)
	}
	if len(in.Annotations) != 7 || in.Labels == nil {
		t.Error("Transformer modified its input")
	}

	// No annotation we read: no annotation map at all.
	out, err = c.Transformer()(sa("ns", "plain", map[string]string{"a": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if m := out.(*metav1.PartialObjectMetadata); m.Annotations != nil {
		t.Errorf("annotations kept: %v", m.Annotations)
	}

	// Anything else passes through untouched.
	other := &metav1.Status{Message: "x"}
	if out, err := c.Transformer()(other); err != nil || out != any(other) {
		t.Errorf("Transformer(%T) = %v, %v; want it unchanged", other, out, err)
	}
}

func TestCacheReportsProblemOncePerChange(t *testing.T) {
	var p problems
	c := NewCache(prefix, p.record)
	bad := roleAnnotation("arn:aws:iam::123456789012:user/bob")
	worse := roleAnnotation("not-an-arn")

	step := func(what string, f func() error, wantCalls int) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(p.calls) != wantCalls {
			t.Fatalf("after %s: %d onProblem calls, want %d: %q", what, len(p.calls), wantCalls, p.calls)
		}
	}
	step("Add invalid", func() error { return c.Add(sa("ns", "app", bad)) }, 1)
	if !strings.HasPrefix(p.calls[0], "ns/app ns-app-uid: invalid annotation "+prefix+"/role-arn") {
		t.Errorf("onProblem got %q", p.calls[0])
	}
	step("Update same", func() error { return c.Update(sa("ns", "app", bad)) }, 1)
	step("Update same again", func() error { return c.Update(sa("ns", "app", bad)) }, 1)
	step("Replace same (relist)", func() error { return c.Replace([]any{sa("ns", "app", bad)}, "") }, 1)
	step("Update changed", func() error { return c.Update(sa("ns", "app", worse)) }, 2)
	step("Update valid", func() error { return c.Update(sa("ns", "app", roleAnnotation(testARN))) }, 2)
	step("Update invalid again", func() error { return c.Update(sa("ns", "app", worse)) }, 3)
	step("Replace with a new invalid one", func() error {
		return c.Replace([]any{sa("ns", "app", worse), sa("ns", "new", bad)}, "")
	}, 4)
	step("Delete", func() error { return c.Delete(sa("ns", "app", nil)) }, 4)
	step("Add after Delete", func() error { return c.Add(sa("ns", "app", worse)) }, 5)

	// An invalid optional annotation is a problem too, reported the same way.
	opt := map[string]string{prefix + "/role-arn": testARN, prefix + "/token-expiration": "soon"}
	step("Add bad expiration", func() error { return c.Add(sa("ns", "opt", opt)) }, 6)
	step("Update bad expiration", func() error { return c.Update(sa("ns", "opt", opt)) }, 6)
	if e := mustEntry(t, c, "ns", "opt"); !e.bound || e.problem == nil {
		t.Errorf("bad optional annotation: %+v, want bound with a problem", e)
	}
}

// A ServiceAccount first read by the direct lookup (Put) and then delivered
// by the watch must still have its invalid annotation reported once.
func TestCachePutReportsProblem(t *testing.T) {
	var p problems
	c := NewCache(prefix, p.record)
	bad := roleAnnotation("arn:aws:iam::123456789012:user/bob")

	c.put(sa("ns", "app", bad))
	if err := c.Add(sa("ns", "app", bad)); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace([]any{sa("ns", "app", bad)}, ""); err != nil {
		t.Fatal(err)
	}
	if len(p.calls) != 1 {
		t.Fatalf("%d onProblem calls, want 1: %q", len(p.calls), p.calls)
	}
	// A Put that finds the watch already stored the ServiceAccount reports nothing.
	c.put(sa("ns", "app", bad))
	if len(p.calls) != 1 {
		t.Fatalf("%d onProblem calls after a second Put, want 1: %q", len(p.calls), p.calls)
	}
}

func TestCachePutDoesNotOverrideWatch(t *testing.T) {
	c := NewCache(prefix, nil)
	if err := c.Add(sa("ns", "app", roleAnnotation(testARN))); err != nil {
		t.Fatal(err)
	}
	// A lookup answer older than the watch's must not win.
	e := c.put(sa("ns", "app", nil))
	if !e.bound || e.id.RoleARN != testARN {
		t.Fatalf("Put returned %+v, want the watched entry", e)
	}
	if e := mustEntry(t, c, "ns", "app"); !e.bound {
		t.Fatalf("Put replaced the watched entry: %+v", e)
	}
	// A later watch event does replace what Put stored.
	c.put(sa("ns", "fresh", nil))
	if err := c.Update(sa("ns", "fresh", roleAnnotation(testARN))); err != nil {
		t.Fatal(err)
	}
	if e := mustEntry(t, c, "ns", "fresh"); !e.bound {
		t.Fatalf("watch Update did not replace a Put entry: %+v", e)
	}
}

func TestCacheSharesUnboundEntry(t *testing.T) {
	c := NewCache(prefix, nil)
	if err := c.Replace([]any{sa("a", "x", nil), sa("b", "y", map[string]string{"k": "v"})}, ""); err != nil {
		t.Fatal(err)
	}
	if mustEntry(t, c, "a", "x") != mustEntry(t, c, "b", "y") {
		t.Error("unbound ServiceAccounts do not share one entry")
	}
}
