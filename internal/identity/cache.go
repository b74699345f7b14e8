package identity

import (
	"fmt"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// entry is what the cache keeps per ServiceAccount: nothing but the parsed
// identity. Unbound ServiceAccounts all share one entry, so memory grows by
// a map key per ServiceAccount and stays flat as they multiply.
type entry struct {
	id      mutate.Identity
	bound   bool
	problem error
}

var unbound = &entry{}

// ProblemFunc is told when a ServiceAccount's annotations become invalid.
type ProblemFunc func(ref types.NamespacedName, uid types.UID, err error)

// Cache keeps the identity of every ServiceAccount in the cluster. It is the
// store of a client-go Reflector over ServiceAccount metadata, and keeps only
// the annotations it reads.
type Cache struct {
	prefix    string
	keys      []string
	onProblem ProblemFunc

	mu      sync.RWMutex
	entries map[types.NamespacedName]*entry
	synced  atomic.Bool
}

var _ cache.TransformingStore = (*Cache)(nil)

// NewCache returns an empty cache for annotations under prefix. onProblem may
// be nil.
func NewCache(prefix string, onProblem ProblemFunc) *Cache {
	return &Cache{
		prefix:    prefix,
		keys:      Keys(prefix),
		onProblem: onProblem,
		entries:   map[types.NamespacedName]*entry{},
	}
}

// HasSynced reports whether the first full list has been stored.
func (c *Cache) HasSynced() bool { return c.synced.Load() }

// Len returns how many ServiceAccounts the cache knows.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// get returns the entry of a ServiceAccount, if known.
func (c *Cache) get(ref types.NamespacedName) (*entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[ref]
	return e, ok
}

// Transformer strips a ServiceAccount to its name and the annotations the
// cache reads. The reflector applies it to the objects it buffers while
// streaming the initial list (WatchList), so even that transient copy stays
// small; the cache itself keeps only parsed entries.
func (c *Cache) Transformer() cache.TransformFunc {
	return func(obj any) (any, error) {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return obj, nil
		}
		slim := &metav1.PartialObjectMetadata{
			TypeMeta: m.TypeMeta,
			ObjectMeta: metav1.ObjectMeta{
				Name:            m.Name,
				Namespace:       m.Namespace,
				UID:             m.UID,
				ResourceVersion: m.ResourceVersion,
			},
		}
		for _, k := range c.keys {
			if v, found := m.Annotations[k]; found {
				if slim.Annotations == nil {
					slim.Annotations = map[string]string{}
				}
				slim.Annotations[k] = v
			}
		}
		return slim, nil
	}
}

// Add stores a ServiceAccount.
func (c *Cache) Add(obj any) error { return c.store(obj) }

// Update stores a changed ServiceAccount.
func (c *Cache) Update(obj any) error { return c.store(obj) }

// Delete forgets a ServiceAccount.
func (c *Cache) Delete(obj any) error {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, err := metadata(obj)
	if err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.entries, types.NamespacedName{Namespace: m.Namespace, Name: m.Name})
	c.mu.Unlock()
	return nil
}

// Replace swaps the whole content for a fresh list.
func (c *Cache) Replace(list []any, _ string) error {
	entries := make(map[types.NamespacedName]*entry, len(list))
	var problems []*metav1.PartialObjectMetadata
	for _, obj := range list {
		m, err := metadata(obj)
		if err != nil {
			return err
		}
		ref := types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
		e := c.parse(m)
		if e.problem != nil && !c.sameProblem(ref, e) {
			problems = append(problems, m)
		}
		entries[ref] = e
	}
	c.mu.Lock()
	c.entries = entries
	c.mu.Unlock()
	c.synced.Store(true)
	for _, m := range problems {
		c.report(m, entries[types.NamespacedName{Namespace: m.Namespace, Name: m.Name}])
	}
	return nil
}

// Resync does nothing: the cache has no downstream to resync.
func (c *Cache) Resync() error { return nil }

// put stores a ServiceAccount fetched outside the watch, unless the watch
// has already stored it. A problem is reported here: the watch delivering
// the same ServiceAccount later sees it as already reported. A put racing a
// watch Delete may keep a deleted ServiceAccount until the next relist; the
// API server's ServiceAccount admission rejects pods naming it anyway.
func (c *Cache) put(m *metav1.PartialObjectMetadata) *entry {
	ref := types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
	e := c.parse(m)
	c.mu.Lock()
	if existing, ok := c.entries[ref]; ok {
		c.mu.Unlock()
		return existing
	}
	c.entries[ref] = e
	c.mu.Unlock()
	if e.problem != nil {
		c.report(m, e)
	}
	return e
}

func (c *Cache) store(obj any) error {
	m, err := metadata(obj)
	if err != nil {
		return err
	}
	ref := types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
	e := c.parse(m)
	report := e.problem != nil && !c.sameProblem(ref, e)
	c.mu.Lock()
	c.entries[ref] = e
	c.mu.Unlock()
	if report {
		c.report(m, e)
	}
	return nil
}

func (c *Cache) parse(m *metav1.PartialObjectMetadata) *entry {
	id, bound, err := FromAnnotations(c.prefix, m.Annotations)
	if !bound && err == nil {
		return unbound
	}
	return &entry{id: id, bound: bound, problem: err}
}

// sameProblem reports whether ref already had the problem e has, so an
// Event is emitted once per change rather than once per resync.
func (c *Cache) sameProblem(ref types.NamespacedName, e *entry) bool {
	old, ok := c.get(ref)
	return ok && old.problem != nil && old.problem.Error() == e.problem.Error()
}

func (c *Cache) report(m *metav1.PartialObjectMetadata, e *entry) {
	if c.onProblem != nil {
		c.onProblem(types.NamespacedName{Namespace: m.Namespace, Name: m.Name}, m.UID, e.problem)
	}
}

func metadata(obj any) (*metav1.PartialObjectMetadata, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil, fmt.Errorf("identity cache: unexpected object %T", obj)
	}
	return m, nil
}
