package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// Mapping ConfigMap: for clusters where ServiceAccounts cannot be annotated.
const (
	MappingConfigMapName = "pod-identity-webhook"
	MappingConfigMapKey  = "config"
)

// MappingEntry is one ServiceAccount's role in the mapping ConfigMap. The
// field names are the upstream webhook's, so existing ConfigMaps keep working.
type MappingEntry struct {
	RoleARN         string `json:"RoleARN"`
	Audience        string `json:"Audience,omitempty"`
	UseRegionalSTS  *bool  `json:"UseRegionalSTS,omitempty"`
	TokenExpiration int64  `json:"TokenExpiration,omitempty"`
}

// Mapping maps "namespace/name" or "*/name" to a role, as read from the
// mapping ConfigMap. It is safe for concurrent use; Set swaps it whole.
type Mapping struct {
	entries atomic.Pointer[map[string]mutate.Identity]
}

// ParseMapping reads the mapping ConfigMap's JSON. Entries with a bad key or
// role ARN are left out and reported; the rest are kept.
func ParseMapping(data string) (map[string]mutate.Identity, error) {
	var raw map[string]MappingEntry
	if strings.TrimSpace(data) == "" {
		return map[string]mutate.Identity{}, nil
	}
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return nil, fmt.Errorf("mapping ConfigMap key %q is not a JSON object of \"namespace/name\": {\"RoleARN\": ...}: %w", MappingConfigMapKey, err)
	}
	entries := make(map[string]mutate.Identity, len(raw))
	var problems []error
	for key, e := range raw {
		ns, name, ok := strings.Cut(key, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			problems = append(problems, fmt.Errorf("mapping key %q: want \"namespace/name\" or \"*/name\"", key))
			continue
		}
		if err := ValidRoleARN(e.RoleARN); err != nil {
			problems = append(problems, fmt.Errorf("mapping key %q: %w", key, err))
			continue
		}
		id := mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: e.RoleARN, Audience: e.Audience, RegionalSTS: e.UseRegionalSTS}
		if e.TokenExpiration != 0 {
			id.TokenExpiration = mutate.ClampExpiration(e.TokenExpiration)
		}
		entries[key] = id
	}
	return entries, errors.Join(problems...)
}

// Set replaces the mapping; nil clears it.
func (m *Mapping) Set(entries map[string]mutate.Identity) {
	m.entries.Store(&entries)
}

// Lookup returns the role mapped to a ServiceAccount, exact name first, then
// the "*" namespace wildcard.
func (m *Mapping) Lookup(ref types.NamespacedName) (mutate.Identity, bool) {
	p := m.entries.Load()
	if p == nil {
		return mutate.Identity{}, false
	}
	if id, ok := (*p)[ref.Namespace+"/"+ref.Name]; ok {
		return id, true
	}
	id, ok := (*p)["*/"+ref.Name]
	return id, ok
}
