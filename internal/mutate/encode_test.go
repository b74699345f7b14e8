package mutate

import (
	"testing"

	"github.com/go-json-experiment/json"
)

// The hand-written encoders write what the JSON encoder writes.
func TestEncodersMatchJSON(t *testing.T) {
	seconds := int64(3600)
	cases := []struct {
		name string
		got  []byte
		v    any
	}{
		{"mount", appendMount(nil, VolumeMount{Name: "aws-iam-token", MountPath: "/var/run/x", ReadOnly: true}),
			VolumeMount{Name: "aws-iam-token", MountPath: "/var/run/x", ReadOnly: true}},
		{"env", appendEnv(nil, EnvVar{Name: "AWS_ROLE_ARN", Value: `arn:"quoted"\<tag>&`}),
			EnvVar{Name: "AWS_ROLE_ARN", Value: `arn:"quoted"\<tag>&`}},
		{"env without value", appendEnv(nil, EnvVar{Name: "X"}), EnvVar{Name: "X"}},
		{"env from a field", appendEnv(nil, EnvVar{Name: "X", ValueFrom: &EnvVarSource{FieldRef: ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}),
			EnvVar{Name: "X", ValueFrom: &EnvVarSource{FieldRef: ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
		{"env from a field without API version", appendEnv(nil, EnvVar{Name: "X", ValueFrom: &EnvVarSource{FieldRef: ObjectFieldSelector{FieldPath: `a"b`}}}),
			EnvVar{Name: "X", ValueFrom: &EnvVarSource{FieldRef: ObjectFieldSelector{FieldPath: `a"b`}}}},
		{"volume", appendVolume(nil, tokenVolume(&plan{volume: "v", audience: "sts.amazonaws.com", expiration: seconds, tokenFile: "token"})),
			Volume{Name: "v", Projected: &Projected{Sources: []ProjectedSource{{ServiceAccountToken: &TokenProjection{Audience: "sts.amazonaws.com", ExpirationSeconds: &seconds, Path: "token"}}}}}},
		{"volume without audience", appendVolume(nil, tokenVolume(&plan{volume: "v", expiration: seconds, tokenFile: "t"})),
			Volume{Name: "v", Projected: &Projected{Sources: []ProjectedSource{{ServiceAccountToken: &TokenProjection{ExpirationSeconds: &seconds, Path: "t"}}}}}},
	}
	for _, c := range cases {
		want, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(c.got) != string(want) {
			t.Errorf("%s: wrote %s, the JSON encoder %s", c.name, c.got, want)
		}
	}
}
