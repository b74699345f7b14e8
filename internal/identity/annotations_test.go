package identity

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/irsa-dev/irsa/internal/mutate"
)

const prefix = mutate.DefaultAnnotationPrefix

func ptr[T any](v T) *T { return &v }

func TestFromAnnotations(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:role/app"
	role := prefix + "/" + AnnotationRoleARN
	web := func(arn string) mutate.Identity { return mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn} }

	tests := []struct {
		name        string
		annotations map[string]string
		want        mutate.Identity
		wantOK      bool
		// wantErr is a substring of the error; empty means no error.
		wantErr string
	}{
		{name: "no annotations"},
		{name: "other annotations only", annotations: map[string]string{"example.com/role-arn": arn, prefix + "/audience": "x"}},
		{name: "role under another prefix", annotations: map[string]string{"sts.amazonaws.com/role-arn": arn}},

		{name: "aws", annotations: map[string]string{role: arn}, want: web(arn), wantOK: true},
		{name: "aws-cn", annotations: map[string]string{role: "arn:aws-cn:iam::123456789012:role/app"},
			want: web("arn:aws-cn:iam::123456789012:role/app"), wantOK: true},
		{name: "aws-us-gov", annotations: map[string]string{role: "arn:aws-us-gov:iam::123456789012:role/app"},
			want: web("arn:aws-us-gov:iam::123456789012:role/app"), wantOK: true},
		{name: "with path", annotations: map[string]string{role: "arn:aws:iam::123456789012:role/team/service/app"},
			want: web("arn:aws:iam::123456789012:role/team/service/app"), wantOK: true},
		{name: "surrounding space trimmed", annotations: map[string]string{role: " " + arn + "\n"}, want: web(arn), wantOK: true},
		{name: "name with IAM punctuation", annotations: map[string]string{role: "arn:aws:iam::123456789012:role/a+b=c,d.e@f_g-h"},
			want: web("arn:aws:iam::123456789012:role/a+b=c,d.e@f_g-h"), wantOK: true},

		{name: "empty role", annotations: map[string]string{role: ""}, wantErr: role},
		{name: "wrong service", annotations: map[string]string{role: "arn:aws:sts::123456789012:role/app"}, wantErr: role},
		{name: "s3 bucket", annotations: map[string]string{role: "arn:aws:s3:::bucket"}, wantErr: role},
		{name: "user instead of role", annotations: map[string]string{role: "arn:aws:iam::123456789012:user/bob"}, wantErr: role},
		{name: "11-digit account", annotations: map[string]string{role: "arn:aws:iam::12345678901:role/app"}, wantErr: role},
		{name: "13-digit account", annotations: map[string]string{role: "arn:aws:iam::1234567890123:role/app"}, wantErr: role},
		{name: "unknown partition", annotations: map[string]string{role: "arn:azure:iam::123456789012:role/app"}, wantErr: role},
		{name: "no role name", annotations: map[string]string{role: "arn:aws:iam::123456789012:role/"}, wantErr: role},
		{name: "role name too long", annotations: map[string]string{role: "arn:aws:iam::123456789012:role/" + strings.Repeat("a", 65)}, wantErr: role},
		{name: "garbage", annotations: map[string]string{role: "my-role"}, wantErr: role},

		{name: "audience", annotations: map[string]string{role: arn, prefix + "/audience": "my-audience"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, Audience: "my-audience"}, wantOK: true},
		{name: "blank audience means default", annotations: map[string]string{role: arn, prefix + "/audience": "  "},
			want: web(arn), wantOK: true},

		{name: "regional true", annotations: map[string]string{role: arn, prefix + "/sts-regional-endpoints": "true"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, RegionalSTS: ptr(true)}, wantOK: true},
		{name: "regional false", annotations: map[string]string{role: arn, prefix + "/sts-regional-endpoints": "false"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, RegionalSTS: ptr(false)}, wantOK: true},
		{name: "regional bad keeps the role", annotations: map[string]string{role: arn, prefix + "/sts-regional-endpoints": "yes please"},
			want: web(arn), wantOK: true, wantErr: prefix + `/sts-regional-endpoints="yes please": want true or false`},

		{name: "expiration", annotations: map[string]string{role: arn, prefix + "/token-expiration": "3600"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, TokenExpiration: 3600}, wantOK: true},
		{name: "expiration below minimum is raised", annotations: map[string]string{role: arn, prefix + "/token-expiration": "60"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, TokenExpiration: mutate.MinTokenExpiration}, wantOK: true},
		{name: "expiration above maximum is lowered", annotations: map[string]string{role: arn, prefix + "/token-expiration": "99999999999"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, TokenExpiration: mutate.MaxTokenExpiration}, wantOK: true},
		{name: "expiration bad keeps the role", annotations: map[string]string{role: arn, prefix + "/token-expiration": "1h"},
			want: web(arn), wantOK: true, wantErr: prefix + `/token-expiration="1h": want whole seconds`},

		{name: "session name from the pod", annotations: map[string]string{role: arn, prefix + "/session-name": "pod"},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, SessionNameFromPod: ptr(true)}, wantOK: true},
		{name: "session name off", annotations: map[string]string{role: arn, prefix + "/session-name": " false "},
			want: mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn, SessionNameFromPod: ptr(false)}, wantOK: true},
		{name: "session name bad keeps the role", annotations: map[string]string{role: arn, prefix + "/session-name": "metadata.name"},
			want: web(arn), wantOK: true, wantErr: prefix + `/session-name="metadata.name": want pod or false`},
		{name: "session name without a role", annotations: map[string]string{prefix + "/session-name": "pod"}},

		{name: "all optional annotations bad", annotations: map[string]string{role: arn,
			prefix + "/sts-regional-endpoints": "maybe", prefix + "/token-expiration": "soon", prefix + "/session-name": "yes"},
			want: web(arn), wantOK: true, wantErr: "session-name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := FromAnnotations(prefix, tt.annotations)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("identity = %+v, want %+v", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "":
				if !errors.Is(err, ErrInvalidAnnotation) {
					t.Errorf("error %v does not wrap ErrInvalidAnnotation", err)
				}
				if errors.Is(err, ErrInvalidRoleARN) != !ok {
					t.Errorf("error %v: ErrInvalidRoleARN must mark exactly the errors that leave the pods without a role", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not contain %q", err, tt.wantErr)
				}
			}
		})
	}
}

func TestFromAnnotationsOtherPrefix(t *testing.T) {
	const openshift = "sts.amazonaws.com"
	got, ok, err := FromAnnotations(openshift, map[string]string{
		openshift + "/role-arn":               "arn:aws:iam::123456789012:role/app",
		openshift + "/sts-regional-endpoints": "true",
		prefix + "/token-expiration":          "3600", // other prefix: ignored
	})
	want := mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: "arn:aws:iam::123456789012:role/app", RegionalSTS: ptr(true)}
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("FromAnnotations = %+v, %v, %v; want %+v, true, nil", got, ok, err, want)
	}
}

func TestInvalidRoleARNNamesTheAnnotation(t *testing.T) {
	_, _, err := FromAnnotations(prefix, map[string]string{prefix + "/role-arn": "arn:aws:iam::123456789012:user/bob"})
	want := `invalid annotation eks.amazonaws.com/role-arn: "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN of the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}

func TestKeys(t *testing.T) {
	want := []string{"p.example/role-arn", "p.example/audience", "p.example/sts-regional-endpoints", "p.example/token-expiration", "p.example/session-name"}
	if got := Keys("p.example"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys = %v, want %v", got, want)
	}
}
