package identity

import (
	"reflect"
	"strings"
	"testing"

	"github.com/irsa-dev/irsa/internal/mutate"
)

func TestParseMapping(t *testing.T) {
	web := func(arn string) mutate.Identity { return mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn} }
	tests := []struct {
		name string
		data string
		want map[string]mutate.Identity
		// wantErr lists substrings of the error; nil means no error.
		wantErr []string
	}{
		{name: "empty", data: "", want: map[string]mutate.Identity{}},
		{name: "blank", data: " \n\t", want: map[string]mutate.Identity{}},
		{name: "empty object", data: "{}", want: map[string]mutate.Identity{}},
		{name: "exact and wildcard", data: `{"ns/app": {"RoleARN": "` + testARN + `"}, "*/app": {"RoleARN": "arn:aws-cn:iam::123456789012:role/x"}}`,
			want: map[string]mutate.Identity{"ns/app": web(testARN), "*/app": web("arn:aws-cn:iam::123456789012:role/x")}},
		{name: "all fields", data: `{"ns/app": {"RoleARN": "` + testARN + `", "Audience": "aud", "UseRegionalSTS": false, "TokenExpiration": 3600}}`,
			want: map[string]mutate.Identity{"ns/app": {Mode: mutate.ModeWebIdentity, RoleARN: testARN, Audience: "aud", RegionalSTS: ptr(false), TokenExpiration: 3600}}},
		{name: "expiration below minimum is raised", data: `{"ns/app": {"RoleARN": "` + testARN + `", "TokenExpiration": 60}}`,
			want: map[string]mutate.Identity{"ns/app": {Mode: mutate.ModeWebIdentity, RoleARN: testARN, TokenExpiration: mutate.MinTokenExpiration}}},
		{name: "expiration above maximum is lowered", data: `{"ns/app": {"RoleARN": "` + testARN + `", "TokenExpiration": 99999999999}}`,
			want: map[string]mutate.Identity{"ns/app": {Mode: mutate.ModeWebIdentity, RoleARN: testARN, TokenExpiration: mutate.MaxTokenExpiration}}},
		{name: "negative expiration is raised", data: `{"ns/app": {"RoleARN": "` + testARN + `", "TokenExpiration": -5}}`,
			want: map[string]mutate.Identity{"ns/app": {Mode: mutate.ModeWebIdentity, RoleARN: testARN, TokenExpiration: mutate.MinTokenExpiration}}},

		{name: "bad keys are left out, good ones kept",
			data: `{"noslash": {"RoleARN": "` + testARN + `"}, "/x": {"RoleARN": "` + testARN + `"}, "x/": {"RoleARN": "` + testARN + `"},
			        "a/b/c": {"RoleARN": "` + testARN + `"}, "ns/ok": {"RoleARN": "` + testARN + `"}}`,
			want: map[string]mutate.Identity{"ns/ok": web(testARN)},
			wantErr: []string{
				`mapping key "noslash": want "namespace/name" or "*/name"`,
				`mapping key "/x": want`,
				`mapping key "x/": want`,
				`mapping key "a/b/c": want`,
			}},
		{name: "bad ARN is left out", data: `{"ns/bad": {"RoleARN": "arn:aws:iam::123456789012:user/deployer"}, "ns/none": {}, "ns/ok": {"RoleARN": "` + testARN + `"}}`,
			want: map[string]mutate.Identity{"ns/ok": web(testARN)},
			wantErr: []string{
				`mapping key "ns/bad": "arn:aws:iam::123456789012:user/deployer" is not an IAM role ARN`,
				`mapping key "ns/none": "" is not an IAM role ARN`,
			}},
		{name: "not JSON", data: `ns/app: arn`, wantErr: []string{`mapping ConfigMap key "config" is not a JSON object of "namespace/name": {"RoleARN": ...}: `}},
		{name: "JSON array", data: `[]`, wantErr: []string{`is not a JSON object`}},
		{name: "wrong field type", data: `{"ns/app": {"RoleARN": 42}}`, wantErr: []string{`is not a JSON object`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMapping(tt.data)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseMapping =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestMappingLookup(t *testing.T) {
	var m Mapping
	if _, ok := m.Lookup(ref("ns", "app")); ok {
		t.Fatal("empty Mapping binds")
	}
	m.Set(map[string]mutate.Identity{
		"ns/app": {RoleARN: "exact"},
		"*/app":  {RoleARN: "wildcard"},
		"*/only": {RoleARN: "only"},
	})
	for _, tt := range []struct {
		ref  string
		want string
		ok   bool
	}{
		{"ns/app", "exact", true},
		{"other/app", "wildcard", true},
		{"ns/only", "only", true},
		{"ns/none", "", false},
		{"*/app", "wildcard", true},
	} {
		ns, name, _ := strings.Cut(tt.ref, "/")
		id, ok := m.Lookup(ref(ns, name))
		if ok != tt.ok || id.RoleARN != tt.want {
			t.Errorf("Lookup(%s) = %q, %v; want %q, %v", tt.ref, id.RoleARN, ok, tt.want, tt.ok)
		}
	}
	m.Set(nil)
	if _, ok := m.Lookup(ref("ns", "app")); ok {
		t.Fatal("cleared Mapping binds")
	}
}
