package identity

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/mutate"
)

func ref(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

func syncedCache(t *testing.T, objs ...*metav1.PartialObjectMetadata) *Cache {
	t.Helper()
	c := NewCache(prefix, nil)
	list := make([]any, len(objs))
	for i, o := range objs {
		list[i] = o
	}
	if err := c.Replace(list, "1"); err != nil {
		t.Fatal(err)
	}
	return c
}

func mapping(t *testing.T, js string) *Mapping {
	t.Helper()
	entries, err := ParseMapping(js)
	if err != nil {
		t.Fatal(err)
	}
	m := &Mapping{}
	m.Set(entries)
	return m
}

func associations(refs ...types.NamespacedName) *Associations {
	set := map[types.NamespacedName]struct{}{}
	for _, r := range refs {
		set[r] = struct{}{}
	}
	a := &Associations{}
	a.Set(set)
	return a
}

func TestResolveOrder(t *testing.T) {
	const (
		annotated = "arn:aws:iam::111111111111:role/annotated"
		exact     = "arn:aws:iam::222222222222:role/exact"
		wildcard  = "arn:aws:iam::333333333333:role/wildcard"
	)
	c := syncedCache(t,
		sa("ns", "both", map[string]string{
			prefix + "/role-arn":               annotated,
			prefix + "/sts-regional-endpoints": "false",
			prefix + "/token-expiration":       "3600",
		}),
		sa("ns", "annotated", roleAnnotation(annotated)),
		sa("ns", "mapped", nil),
		sa("ns", "invalid", roleAnnotation("arn:aws:iam::123456789012:user/bob")),
		sa("ns", "plain", nil),
	)
	r := &Resolver{
		Cache: c,
		Mapping: mapping(t, `{
			"ns/annotated": {"RoleARN": "`+exact+`"},
			"ns/mapped":    {"RoleARN": "`+exact+`", "Audience": "aud", "UseRegionalSTS": true, "TokenExpiration": 7200},
			"*/mapped":     {"RoleARN": "`+wildcard+`"},
			"*/invalid":    {"RoleARN": "`+wildcard+`"},
			"*/elsewhere":  {"RoleARN": "`+wildcard+`"}
		}`),
		Associations: associations(ref("ns", "both"), ref("ns", "unknown-assoc"), ref("ns", "plain")),
	}

	tests := []struct {
		ref  types.NamespacedName
		want Resolution
	}{
		{ref("ns", "both"), Resolution{Bound: true, Source: SourceAssociation,
			Identity: mutate.Identity{Mode: mutate.ModeContainerCredentials, RegionalSTS: ptr(false), TokenExpiration: 3600}}},
		{ref("ns", "plain"), Resolution{Bound: true, Source: SourceAssociation,
			Identity: mutate.Identity{Mode: mutate.ModeContainerCredentials}}},
		{ref("ns", "annotated"), Resolution{Bound: true, Source: SourceAnnotation,
			Identity: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: annotated}}},
		{ref("ns", "mapped"), Resolution{Bound: true, Source: SourceMapping,
			Identity: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: exact, Audience: "aud", RegionalSTS: ptr(true), TokenExpiration: 7200}}},
		{ref("other", "mapped"), Resolution{Bound: true, Source: SourceMapping, CacheMiss: true,
			Identity: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: wildcard}}},
		{ref("other", "elsewhere"), Resolution{Bound: true, Source: SourceMapping, CacheMiss: true,
			Identity: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: wildcard}}},
		{ref("ns", "unknown-assoc"), Resolution{Bound: true, Source: SourceAssociation, CacheMiss: true,
			Identity: mutate.Identity{Mode: mutate.ModeContainerCredentials}}},
		{ref("ns", "nobody"), Resolution{Source: SourceNone, CacheMiss: true}},
	}
	for _, tt := range tests {
		t.Run(tt.ref.String(), func(t *testing.T) {
			if got := r.Resolve(context.Background(), tt.ref); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}

	t.Run("invalid annotation does not fall back to the mapping", func(t *testing.T) {
		got := r.Resolve(context.Background(), ref("ns", "invalid"))
		if got.Bound || got.Identity != (mutate.Identity{}) {
			t.Errorf("Resolve = %+v, want unbound", got)
		}
		if !errors.Is(got.Problem, ErrInvalidAnnotation) {
			t.Errorf("Problem = %v, want ErrInvalidAnnotation", got.Problem)
		}
	})
}

func TestResolveWithoutMappingOrAssociations(t *testing.T) {
	r := &Resolver{Cache: syncedCache(t, sa("ns", "a", roleAnnotation(testARN)), sa("ns", "b", nil))}
	if got := r.Resolve(context.Background(), ref("ns", "a")); !got.Bound || got.Source != SourceAnnotation {
		t.Errorf("ns/a: %+v", got)
	}
	if got := r.Resolve(context.Background(), ref("ns", "b")); got.Bound || got.Source != SourceNone || got.CacheMiss {
		t.Errorf("ns/b: %+v", got)
	}
	// A cleared mapping binds nothing.
	m := mapping(t, `{"ns/b": {"RoleARN": "`+testARN+`"}}`)
	m.Set(nil)
	r.Mapping = m
	if got := r.Resolve(context.Background(), ref("ns", "b")); got.Bound {
		t.Errorf("cleared mapping still binds: %+v", got)
	}
}

// fakeLookup answers lookups from a map and counts calls.
type fakeLookup struct {
	objs  map[types.NamespacedName]*metav1.PartialObjectMetadata
	err   error
	calls int
}

func (f *fakeLookup) lookup(_ context.Context, r types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	if o, ok := f.objs[r]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, r.Name)
}

func TestResolveLookup(t *testing.T) {
	f := &fakeLookup{objs: map[types.NamespacedName]*metav1.PartialObjectMetadata{
		ref("ns", "new"): sa("ns", "new", roleAnnotation(testARN)),
	}}
	c := syncedCache(t)
	r := &Resolver{Cache: c, Lookup: f.lookup, LookupTimeout: time.Second}

	got := r.Resolve(context.Background(), ref("ns", "new"))
	want := Resolution{Bound: true, Source: SourceAnnotation, CacheMiss: true, LookupFound: true,
		Identity: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: testARN}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Resolve =\n%+v\nwant\n%+v", got, want)
	}
	// The answer is kept: the next pod is served from the cache.
	got = r.Resolve(context.Background(), ref("ns", "new"))
	if got.CacheMiss || !got.Bound || f.calls != 1 {
		t.Fatalf("second Resolve = %+v after %d lookups, want a cache hit", got, f.calls)
	}

	// NotFound is no error: the pod is simply not bound.
	got = r.Resolve(context.Background(), ref("ns", "missing"))
	if got.LookupErr != nil || got.Bound || !got.CacheMiss || got.Source != SourceNone {
		t.Fatalf("NotFound: %+v, want unbound without error", got)
	}
	if c.Len() != 1 {
		t.Errorf("a NotFound answer was cached: Len = %d", c.Len())
	}
}

func TestResolveLookupErrors(t *testing.T) {
	boom := errors.New("connection refused")
	r := &Resolver{Cache: syncedCache(t), Lookup: (&fakeLookup{err: boom}).lookup, LookupTimeout: time.Second}
	got := r.Resolve(context.Background(), ref("ns", "app"))
	if !errors.Is(got.LookupErr, boom) || got.Bound || !got.CacheMiss {
		t.Fatalf("Resolve = %+v, want LookupErr wrapping %v", got, boom)
	}
	if !strings.Contains(got.LookupErr.Error(), "ns/app") {
		t.Errorf("LookupErr %q does not name the ServiceAccount", got.LookupErr)
	}

	// A lookup that answers nothing at all is an error too.
	r.Lookup = func(context.Context, types.NamespacedName) (*metav1.PartialObjectMetadata, error) { return nil, nil }
	if got := r.Resolve(context.Background(), ref("ns", "app")); got.LookupErr == nil || got.Bound {
		t.Fatalf("nil answer: %+v, want LookupErr", got)
	}

	// An association still binds when the lookup fails, and the error is kept.
	r.Lookup = (&fakeLookup{err: boom}).lookup
	r.Associations = associations(ref("ns", "app"))
	if got := r.Resolve(context.Background(), ref("ns", "app")); !got.Bound || !errors.Is(got.LookupErr, boom) {
		t.Fatalf("association with failed lookup: %+v", got)
	}
}

func TestResolveLookupTimeout(t *testing.T) {
	var deadline time.Time
	r := &Resolver{
		Cache: syncedCache(t),
		Lookup: func(ctx context.Context, _ types.NamespacedName) (*metav1.PartialObjectMetadata, error) {
			deadline, _ = ctx.Deadline()
			<-ctx.Done()
			return nil, ctx.Err()
		},
		LookupTimeout: 20 * time.Millisecond,
	}
	start := time.Now()
	got := r.Resolve(context.Background(), ref("ns", "slow"))
	if !errors.Is(got.LookupErr, context.DeadlineExceeded) {
		t.Fatalf("LookupErr = %v, want DeadlineExceeded", got.LookupErr)
	}
	if got.Bound {
		t.Errorf("bound after a timed-out lookup: %+v", got)
	}
	if d := deadline.Sub(start); d <= 0 || d > time.Second {
		t.Errorf("lookup deadline %v after start, want about %v", d, r.LookupTimeout)
	}
}

func TestResolveLookupDisabled(t *testing.T) {
	f := &fakeLookup{}
	for name, r := range map[string]*Resolver{
		"no lookup":    {Cache: syncedCache(t), LookupTimeout: time.Second},
		"zero timeout": {Cache: syncedCache(t), Lookup: f.lookup},
	} {
		got := r.Resolve(context.Background(), ref("ns", "app"))
		if want := (Resolution{Source: SourceNone, CacheMiss: true}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Resolve = %+v, want %+v", name, got, want)
		}
	}
	if f.calls != 0 {
		t.Errorf("lookup called %d times with a zero timeout", f.calls)
	}
}

// A ServiceAccount name from a pod never becomes a path in the lookup URL,
// and an answer about another object is not cached as this one.
func TestResolveLookupRejectsPaths(t *testing.T) {
	f := &fakeLookup{}
	r := &Resolver{Cache: NewCache(prefix, nil), Lookup: f.lookup, LookupTimeout: time.Second}
	for _, bad := range []types.NamespacedName{
		ref("ns", "../../kube-system/serviceaccounts/x"), ref("ns", ".."), ref("../other", "app"),
	} {
		if got := r.Resolve(context.Background(), bad); got.Bound || got.LookupErr != nil {
			t.Errorf("%v: %+v", bad, got)
		}
	}
	if f.calls != 0 {
		t.Errorf("lookup called %d times for invalid names", f.calls)
	}

	other := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "x",
		Annotations: map[string]string{prefix + "/role-arn": testARN}}}
	r.Lookup = func(context.Context, types.NamespacedName) (*metav1.PartialObjectMetadata, error) { return other, nil }
	if got := r.Resolve(context.Background(), ref("ns", "app")); got.Bound || got.LookupErr == nil {
		t.Errorf("answer about kube-system/x used for ns/app: %+v", got)
	}
}
