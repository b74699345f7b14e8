package identity

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestParseAssociations(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    map[types.NamespacedName]struct{}
		wantErr string
	}{
		{name: "empty", data: "", want: map[types.NamespacedName]struct{}{}},
		{name: "no identities", data: `{"identities": []}`, want: map[types.NamespacedName]struct{}{}},
		{name: "valid", data: `{"identities": [{"namespace": "ns", "serviceAccount": "a"}, {"namespace": "other", "serviceAccount": "b"}, {"namespace": "ns", "serviceAccount": "a"}]}`,
			want: map[types.NamespacedName]struct{}{ref("ns", "a"): {}, ref("other", "b"): {}}},
		{name: "missing serviceAccount", data: `{"identities": [{"namespace": "ns", "serviceAccount": "a"}, {"namespace": "ns"}]}`,
			wantErr: "container credentials file: identities[1] needs both namespace and serviceAccount"},
		{name: "missing namespace", data: `{"identities": [{"serviceAccount": "a"}]}`,
			wantErr: "identities[0] needs both namespace and serviceAccount"},
		{name: "bad JSON", data: `identities: []`,
			wantErr: `container credentials file: want {"identities": [{"namespace": ..., "serviceAccount": ...}]}: `},
		{name: "wrong shape", data: `{"identities": {"ns": "a"}}`, wantErr: "container credentials file: want"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAssociations([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("got %v with an error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAssociations = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAssociationsHas(t *testing.T) {
	var a Associations
	if a.Has(ref("ns", "a")) {
		t.Fatal("empty Associations has ns/a")
	}
	a.Set(map[types.NamespacedName]struct{}{ref("ns", "a"): {}})
	if !a.Has(ref("ns", "a")) || a.Has(ref("ns", "b")) || a.Has(ref("other", "a")) {
		t.Fatal("Has does not match the set")
	}
	a.Set(nil)
	if a.Has(ref("ns", "a")) {
		t.Fatal("Associations set to nil still has ns/a")
	}
}
