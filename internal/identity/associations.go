package identity

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"
)

// associationsFile is the Pod Identity association file's format, the same
// as the upstream webhook's --watch-container-credentials-config file.
type associationsFile struct {
	Identities []struct {
		Namespace      string `json:"namespace"`
		ServiceAccount string `json:"serviceAccount"`
	} `json:"identities"`
}

// Associations is the set of ServiceAccounts that use Pod Identity
// (container credentials) instead of a role annotation.
type Associations struct {
	set atomic.Pointer[map[types.NamespacedName]struct{}]
}

// ParseAssociations reads an association file; empty content means none.
func ParseAssociations(data []byte) (map[types.NamespacedName]struct{}, error) {
	set := map[types.NamespacedName]struct{}{}
	if len(data) == 0 {
		return set, nil
	}
	var f associationsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf(`container credentials file: want {"identities": [{"namespace": ..., "serviceAccount": ...}]}: %w`, err)
	}
	for i, id := range f.Identities {
		if id.Namespace == "" || id.ServiceAccount == "" {
			return nil, fmt.Errorf("container credentials file: identities[%d] needs both namespace and serviceAccount", i)
		}
		set[types.NamespacedName{Namespace: id.Namespace, Name: id.ServiceAccount}] = struct{}{}
	}
	return set, nil
}

// Set replaces the associations.
func (a *Associations) Set(set map[types.NamespacedName]struct{}) { a.set.Store(&set) }

// Has reports whether ref uses Pod Identity.
func (a *Associations) Has(ref types.NamespacedName) bool {
	p := a.set.Load()
	if p == nil {
		return false
	}
	_, ok := (*p)[ref]
	return ok
}
