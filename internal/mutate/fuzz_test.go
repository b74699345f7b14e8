package mutate_test

import (
	corev1 "k8s.io/api/core/v1"
	"reflect"
	"testing"
	"unicode/utf8"

	k8sjson "sigs.k8s.io/json"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// Fuzz flags select the identity and options.
const (
	fuzzContainerCredentials = 1 << iota
	fuzzOptionRegionalSTS
	fuzzIdentityRegionalSTSSet
	fuzzIdentityRegionalSTS
	fuzzIdentityAudience
	fuzzOptionSessionName
	fuzzIdentitySessionNameSet
	fuzzIdentitySessionName
)

// FuzzInject admits arbitrary pod JSON as the webhook does (decode, Inject)
// and applies the patch as the API server does. The patch must apply, only
// append, and leave a pod that needs no second patch. Plain `go test` runs
// the seeds: every testdata pod and a few odd ones.
//
//	go test ./internal/mutate -run XXX -fuzz FuzzInject -fuzztime 60s
func FuzzInject(f *testing.F) {
	for _, c := range goldenCases(f) {
		var flags uint8
		if c.id.Mode == mutate.ModeContainerCredentials {
			flags |= fuzzContainerCredentials
		}
		if c.opts.RegionalSTS {
			flags |= fuzzOptionRegionalSTS
		}
		flags |= optionalFlags(c.id.RegionalSTS, fuzzIdentityRegionalSTSSet, fuzzIdentityRegionalSTS)
		if c.id.Audience != "" {
			flags |= fuzzIdentityAudience
		}
		if c.opts.SessionNameFromPod {
			flags |= fuzzOptionSessionName
		}
		flags |= optionalFlags(c.id.SessionNameFromPod, fuzzIdentitySessionNameSet, fuzzIdentitySessionName)
		mountPath := c.opts.MountPath
		if c.id.Mode == mutate.ModeContainerCredentials {
			mountPath = c.opts.ContainerCredentialsMountPath
		}
		f.Add(c.podJSON, c.opts.AnnotationPrefix, mountPath, c.opts.Region, flags, c.id.TokenExpiration)
	}
	for _, raw := range []string{
		`{}`,
		`null`,
		`{"spec":null}`,
		`{"spec":{"containers":[{}]}}`,
		`{"spec":{"containers":[{"name":"a","env":[],"volumeMounts":[]}],"volumes":[]}}`,
		`{"spec":{"containers":[{"name":"a","env":null,"volumeMounts":null}],"volumes":null}}`,
		`{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"aws-iam-token","mountPath":"/elsewhere"}]}]}}`,
		`{"spec":{"containers":[{"name":"a","volumeMounts":[{"name":"aws-iam-token","mountPath":"/var/run/secrets/eks.amazonaws.com/serviceaccount"}]}]}}`,
		`{"spec":{"containers":[{"name":"a"}],"volumes":[{"name":"aws-iam-token","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}]}}`,
		`{"spec":{"containers":[{"name":"a"}],"volumes":[{"name":"aws-iam-token","projected":{"sources":[]}}]}}`,
		`{"metadata":{"annotations":{"eks.amazonaws.com/token-expiration":"-1","eks.amazonaws.com/skip-containers":",,a,"}},"spec":{"initContainers":[{"name":"a"},{"name":"b","restartPolicy":"Always"}],"containers":[{"name":"c","env":[{"name":"AWS_REGION"}]}]}}`,
		`{"metadata":{"annotations":{"eks.amazonaws.com/token-expiration":"99999999999999999999"}},"spec":{"os":{"name":"windows"},"containers":[{"name":"a"}]}}`,
		`{"spec":{"containers":[{"name":"a"},{"name":"a"}]}}`,
		`{"metadata":{"generateName":"g-","annotations":{"eks.amazonaws.com/session-name":"pod"}},"spec":{"containers":[{"name":"a","env":[{"name":"AWS_ROLE_SESSION_NAME","value":"mine"}]},{"name":"b"}]}}`,
		`{"metadata":{"name":"x","annotations":{"eks.amazonaws.com/session-name":"yes"}},"spec":{"containers":[{"name":"a"}]}}`,
		// Not what an API server sends (skipped by apiServerForm): a
		// case-mismatched key, a duplicate key, a null container.
		`{"Spec":{"containers":[{"name":"a"}]}}`,
		`{"spec":{"containers":[{"name":"a"}]},"spec":{}}`,
		`{"spec":{"containers":[null]}}`,
	} {
		f.Add([]byte(raw), mutate.DefaultAnnotationPrefix, mutate.DefaultMountPath, "eu-west-1", uint8(0xff), int64(0))
	}

	f.Fuzz(func(t *testing.T, raw []byte, prefix, mountPath, region string, flags uint8, expiration int64) {
		pod, err := decodePod(raw)
		if err != nil || !apiServerForm(raw, pod) {
			t.Skip()
		}
		// A mount path that is not UTF-8 is mangled by json.Marshal into
		// the patch, so it never matches on reinvocation and every pass
		// appends another mount. It can only come from a flag, so it is
		// for the webhook's option validation to reject.
		if !utf8.ValidString(mountPath) {
			t.Skip()
		}
		opts := mutate.DefaultOptions()
		opts.AnnotationPrefix = prefix
		opts.MountPath = mountPath
		opts.ContainerCredentialsMountPath = mountPath
		opts.Region = region
		opts.RegionalSTS = flags&fuzzOptionRegionalSTS != 0
		opts.SessionNameFromPod = flags&fuzzOptionSessionName != 0
		id := mutate.Identity{
			Mode:            mutate.ModeWebIdentity,
			RoleARN:         "arn:aws:iam::111122223333:role/fuzz",
			TokenExpiration: expiration,
		}
		if flags&fuzzContainerCredentials != 0 {
			id = mutate.Identity{Mode: mutate.ModeContainerCredentials, TokenExpiration: expiration}
		}
		id.RegionalSTS = optionalBool(flags, fuzzIdentityRegionalSTSSet, fuzzIdentityRegionalSTS)
		if flags&fuzzIdentityAudience != 0 {
			id.Audience = "fuzz.example.com"
		}
		id.SessionNameFromPod = optionalBool(flags, fuzzIdentitySessionNameSet, fuzzIdentitySessionName)

		res := mutate.Inject(nil, &pod, id, opts)

		before, err := generic(raw)
		if err != nil {
			t.Fatalf("raw pod decodes into mutate.Pod but not generically: %v", err)
		}
		if err := checkOps(before, res.Patch); err != nil {
			t.Fatalf("patch is not append-only: %v", err)
		}
		patched, err := applyPatch(raw, res.Patch)
		if err != nil {
			t.Fatalf("patch does not apply: %v", err)
		}
		after, err := generic(patched)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkOnlyAppended(before, after, ""); err != nil {
			t.Fatalf("patch changed the pod beyond appending: %v", err)
		}

		mutated, err := decodePod(patched)
		if err != nil {
			t.Fatalf("patched pod does not decode: %v", err)
		}
		res2 := mutate.Inject(nil, &mutated, id, opts)
		if len(res2.Patch) != 0 {
			t.Fatalf("second Inject is not empty:\nfirst: %+v\nsecond: %s", res.Patch, res2.Patch)
		}
		if !reflect.DeepEqual(res.Warnings, res2.Warnings) {
			t.Fatalf("second Inject warnings = %q, first = %q", res2.Warnings, res.Warnings)
		}
	})
}

// optionalFlags encodes an optional bool as two flags: set, and its value.
func optionalFlags(b *bool, set, value uint8) uint8 {
	switch {
	case b == nil:
		return 0
	case *b:
		return set | value
	}
	return set
}

// optionalBool decodes what optionalFlags encodes.
func optionalBool(flags, set, value uint8) *bool {
	if flags&set == 0 {
		return nil
	}
	b := flags&value != 0
	return &b
}

// apiServerForm reports whether raw is JSON an API server could send in an
// AdmissionReview. It serialises the typed Pod it decoded, so keys are
// exact-case and unique, and a container is never null. encoding/json, which
// the webhook uses, reads other inputs differently from the JSON Patch the
// API server applies (it matches keys case-insensitively, merges duplicate
// keys and reads a null container as an empty one), and that is no fault of
// Inject.
func apiServerForm(raw []byte, _ mutate.Pod) bool {
	var strict corev1.Pod
	strictErrs, err := k8sjson.UnmarshalStrict(raw, &strict, k8sjson.DisallowDuplicateFields)
	if err != nil || len(strictErrs) != 0 {
		return false
	}
	doc, err := generic(raw)
	if err != nil {
		return false
	}
	spec, _ := field(doc, "spec").(map[string]any)
	for _, list := range []string{"initContainers", "containers"} {
		containers, _ := spec[list].([]any)
		for _, c := range containers {
			if c == nil {
				return false
			}
		}
	}
	return true
}

func field(v any, name string) any {
	m, _ := v.(map[string]any)
	return m[name]
}
