package webhook

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/irsa-dev/irsa/internal/identity"
)

// mappingListWatch watches only the mapping ConfigMap.
func mappingListWatch(kube kubernetes.Interface, namespace string) *cache.ListWatch {
	return cache.NewListWatchFromClient(kube.CoreV1().RESTClient(), "configmaps", namespace,
		fields.OneTermEqualSelector("metadata.name", identity.MappingConfigMapName))
}

// mappingStore feeds the mapping ConfigMap into the identity Mapping. A bad
// entry is logged and left out; the others keep working. Deleting the
// ConfigMap clears the mapping.
type mappingStore struct {
	mapping *identity.Mapping
	log     *slog.Logger
	synced  atomic.Bool
}

func (s *mappingStore) HasSynced() bool { return s.synced.Load() }

func (s *mappingStore) Add(obj any) error    { return s.set(obj) }
func (s *mappingStore) Update(obj any) error { return s.set(obj) }
func (s *mappingStore) Resync() error        { return nil }

func (s *mappingStore) Delete(any) error {
	s.mapping.Set(nil)
	s.log.Info("mapping ConfigMap deleted; mapping cleared")
	return nil
}

func (s *mappingStore) Replace(list []any, _ string) error {
	defer s.synced.Store(true)
	if len(list) == 0 {
		s.mapping.Set(nil)
		return nil
	}
	return s.set(list[0])
}

func (s *mappingStore) set(obj any) error {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return fmt.Errorf("mapping: unexpected object %T", obj)
	}
	entries, err := identity.ParseMapping(cm.Data[identity.MappingConfigMapKey])
	if err != nil {
		s.log.Error("mapping ConfigMap has problems; valid entries are used", "configMap", cm.Namespace+"/"+cm.Name, "err", err)
	}
	if entries != nil {
		s.mapping.Set(entries)
		s.log.Info("mapping ConfigMap loaded", "entries", len(entries))
	}
	return nil
}

// associationsPoller polls the Pod Identity association file. An unreadable
// or invalid file keeps the last good content.
type associationsPoller struct {
	path string
	set  *identity.Associations
	log  *slog.Logger
	last []byte
}

func (f *associationsPoller) load() error {
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("--watch-container-credentials-config: %w", err)
	}
	if f.last != nil && bytes.Equal(data, f.last) {
		return nil
	}
	set, err := identity.ParseAssociations(data)
	if err != nil {
		return fmt.Errorf("--watch-container-credentials-config %s: %w", f.path, err)
	}
	f.set.Set(set)
	f.last = data
	f.log.Info("container credentials associations loaded", "file", f.path, "serviceAccounts", len(set))
	return nil
}

func (f *associationsPoller) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.load(); err != nil && err.Error() != lastErr {
				f.log.Error("container credentials file not reloaded; keeping the previous associations", "err", err)
				lastErr = err.Error()
			} else if err == nil {
				lastErr = ""
			}
		}
	}
}
