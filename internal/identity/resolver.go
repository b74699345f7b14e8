package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// Source says where a resolved identity came from.
type Source string

// Sources of an identity.
const (
	SourceNone        Source = "none"
	SourceAnnotation  Source = "annotation"
	SourceMapping     Source = "config-map"
	SourceAssociation Source = "pod-identity"
)

// Lookup is how the Resolver reads one ServiceAccount from the API when the
// cache does not know it yet.
type Lookup func(ctx context.Context, ref types.NamespacedName) (*metav1.PartialObjectMetadata, error)

// Resolution is the identity a ServiceAccount is bound to.
type Resolution struct {
	Identity mutate.Identity
	// Bound is false when the pod gets nothing.
	Bound  bool
	Source Source
	// Problem is an invalid annotation: when Bound is false it is why.
	Problem error
	// CacheMiss is true when the cache did not know the ServiceAccount.
	CacheMiss bool
	// LookupFound is true when the direct lookup after a miss found it.
	LookupFound bool
	// LookupErr is set when the direct lookup after a cache miss failed.
	LookupErr error
}

// Resolver finds the identity of a ServiceAccount: a Pod Identity
// association first, then its annotations, then the mapping ConfigMap.
type Resolver struct {
	Cache        *Cache
	Mapping      *Mapping      // optional
	Associations *Associations // optional
	// Lookup, when set, reads a ServiceAccount the cache does not know yet,
	// so a pod created right after its ServiceAccount is still mutated.
	Lookup        Lookup
	LookupTimeout time.Duration
}

// Resolve returns the identity ref is bound to.
func (r *Resolver) Resolve(ctx context.Context, ref types.NamespacedName) Resolution {
	var res Resolution
	e, known := r.Cache.get(ref)
	if !known {
		res.CacheMiss = true
		e, res.LookupErr = r.lookup(ctx, ref)
		res.LookupFound = e != nil
	}

	if r.Associations != nil && r.Associations.Has(ref) {
		res.Bound, res.Source = true, SourceAssociation
		res.Identity = mutate.Identity{Mode: mutate.ModeContainerCredentials}
		if e != nil && e.bound {
			res.Identity.RegionalSTS = e.id.RegionalSTS
			res.Identity.TokenExpiration = e.id.TokenExpiration
		}
		return res
	}
	if e != nil {
		res.Problem = e.problem
		if e.bound {
			res.Bound, res.Source, res.Identity = true, SourceAnnotation, e.id
			return res
		}
		if e.problem != nil {
			res.Source = SourceNone
			return res
		}
	}
	if r.Mapping != nil {
		if id, ok := r.Mapping.Lookup(ref); ok {
			res.Bound, res.Source, res.Identity = true, SourceMapping, id
			return res
		}
	}
	res.Source = SourceNone
	return res
}

// lookup reads ref from the API, bounded by LookupTimeout. A ServiceAccount
// that does not exist is not an error: the pod is simply not bound.
func (r *Resolver) lookup(ctx context.Context, ref types.NamespacedName) (*entry, error) {
	if r.Lookup == nil || r.LookupTimeout <= 0 {
		return nil, nil
	}
	// The name comes from the pod; a path in it must not reach the URL.
	if len(validation.IsDNS1123Label(ref.Namespace)) > 0 || len(validation.IsDNS1123Subdomain(ref.Name)) > 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.LookupTimeout)
	defer cancel()
	m, err := r.Lookup(ctx, ref)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up ServiceAccount %s: %w", ref, err)
	case m == nil || m.Namespace != ref.Namespace || m.Name != ref.Name:
		return nil, errors.New("look up ServiceAccount " + ref.String() + ": the API answered with another object")
	}
	return r.Cache.put(m), nil
}
