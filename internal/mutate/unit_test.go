package mutate

import (
	"encoding/json"
	"math"
	"path"
	"reflect"
	"strings"
	"testing"
)

func TestClampExpiration(t *testing.T) {
	for _, tc := range []struct {
		in, want int64
	}{
		{math.MinInt64, MinTokenExpiration},
		{-1, MinTokenExpiration},
		{0, MinTokenExpiration},
		{599, MinTokenExpiration},
		{600, 600},
		{601, 601},
		{3600, 3600},
		{86400, 86400},
		{MaxTokenExpiration - 1, MaxTokenExpiration - 1},
		{MaxTokenExpiration, MaxTokenExpiration},
		{MaxTokenExpiration + 1, MaxTokenExpiration},
		{math.MaxInt64, MaxTokenExpiration},
	} {
		if got := ClampExpiration(tc.in); got != tc.want {
			t.Errorf("ClampExpiration(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSkippedContainers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{",", nil},
		{" , ,, ", nil},
		{"app", []string{"app"}},
		{"a,b", []string{"a", "b"}},
		{"a, b", []string{"a", "b"}},
		{" a ,b ,  c  ", []string{"a", "b", "c"}},
		{"a,,b,", []string{"a", "b"}},
		{",a", []string{"a"}},
		{"a,a", []string{"a"}},
		{"\ta,\nb\n", []string{"a", "b"}},
		// A name is matched whole: spaces inside one are kept.
		{"log shipper", []string{"log shipper"}},
		// Only commas separate.
		{"a;b", []string{"a;b"}},
	} {
		got := skippedContainers(tc.in)
		var names []string
		for name := range got {
			names = append(names, name)
		}
		if !sameSet(names, tc.want) {
			t.Errorf("skippedContainers(%q) = %v, want %v", tc.in, names, tc.want)
		}
		if got[""] {
			t.Errorf("skippedContainers(%q) skips the empty name", tc.in)
		}
	}
}

func sameSet(a, b []string) bool {
	set := map[string]bool{}
	for _, s := range a {
		set[s] = true
	}
	if len(set) != len(a) {
		return false
	}
	for _, s := range b {
		if !set[s] {
			return false
		}
		delete(set, s)
	}
	return len(set) == 0
}

// TestSkipContainersOnlyWithPrefix checks that skip-containers is read with
// the configured annotation prefix and matches init containers too.
func TestSkipContainersOnlyWithPrefix(t *testing.T) {
	pod := &Pod{
		Metadata: ObjectMeta{Annotations: map[string]string{
			"eks.amazonaws.com/skip-containers": "init, app",
			"sts.amazonaws.com/skip-containers": "sidecar",
		}},
		Spec: PodSpec{
			InitContainers: []Container{{Name: "init"}},
			Containers:     []Container{{Name: "app"}, {Name: "sidecar"}},
		},
	}
	id := Identity{Mode: ModeWebIdentity, RoleARN: "arn:aws:iam::111122223333:role/r"}

	injectedInto := func(opts Options) []string {
		var paths []string
		var ops []struct{ Path string }
		if err := json.Unmarshal(Inject(nil, pod, id, opts).Patch, &ops); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if strings.HasSuffix(op.Path, "/volumeMounts") {
				paths = append(paths, strings.TrimSuffix(op.Path, "/volumeMounts"))
			}
		}
		return paths
	}
	if got, want := injectedInto(DefaultOptions()), []string{"/spec/containers/1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("default prefix: injected into %v, want %v", got, want)
	}
	opts := DefaultOptions()
	opts.AnnotationPrefix = "sts.amazonaws.com"
	if got, want := injectedInto(opts), []string{"/spec/initContainers/0", "/spec/containers/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sts.amazonaws.com prefix: injected into %v, want %v", got, want)
	}
}

func TestTokenExpiration(t *testing.T) {
	const key = DefaultAnnotationPrefix + "/token-expiration"
	for _, tc := range []struct {
		name       string
		annotation *string
		identity   int64
		option     int64
		want       int64
		warning    bool
	}{
		{name: "option", option: 43200, want: 43200},
		{name: "identity over option", identity: 7200, option: 43200, want: 7200},
		{name: "annotation over identity", annotation: ptr("3600"), identity: 7200, option: 43200, want: 3600},
		{name: "annotation with spaces", annotation: ptr(" 3600 "), option: 86400, want: 3600},
		{name: "annotation with plus sign", annotation: ptr("+3600"), option: 86400, want: 3600},
		{name: "annotation below minimum", annotation: ptr("60"), option: 86400, want: MinTokenExpiration},
		{name: "annotation zero", annotation: ptr("0"), identity: 7200, option: 86400, want: MinTokenExpiration},
		{name: "annotation negative", annotation: ptr("-3600"), option: 86400, want: MinTokenExpiration},
		{name: "annotation above maximum", annotation: ptr("9999999999"), option: 86400, want: MaxTokenExpiration},
		{name: "identity below minimum", identity: 1, option: 86400, want: MinTokenExpiration},
		{name: "option below minimum", option: 1, want: MinTokenExpiration},
		{name: "annotation empty", annotation: ptr(""), identity: 7200, option: 86400, want: 7200, warning: true},
		{name: "annotation with unit", annotation: ptr("1h"), identity: 7200, option: 86400, want: 7200, warning: true},
		{name: "annotation fractional", annotation: ptr("3600.5"), option: 86400, want: 86400, warning: true},
		{name: "annotation hex", annotation: ptr("0xE10"), option: 86400, want: 86400, warning: true},
		{name: "annotation overflows int64", annotation: ptr("99999999999999999999"), option: 86400, want: 86400, warning: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &Pod{}
			if tc.annotation != nil {
				pod.Metadata.Annotations = map[string]string{key: *tc.annotation}
			}
			opts := DefaultOptions()
			opts.TokenExpiration = tc.option
			var res Result
			got := tokenExpiration(pod, Identity{TokenExpiration: tc.identity}, opts, &res)
			if got != tc.want {
				t.Errorf("tokenExpiration = %d, want %d", got, tc.want)
			}
			if warned := len(res.Warnings) > 0; warned != tc.warning {
				t.Errorf("warnings = %q, want a warning: %v", res.Warnings, tc.warning)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestTokenPath(t *testing.T) {
	for _, tc := range []struct {
		mountPath, file string
		windows         bool
		want            string
	}{
		{DefaultMountPath, TokenFile, false, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
		{DefaultMountPath + "/", TokenFile, false, "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
		{DefaultMountPath, TokenFile, true, `C:\var\run\secrets\eks.amazonaws.com\serviceaccount\token`},
		{DefaultContainerCredentialsMountPath, DefaultContainerCredentialsTokenFile, true, `C:\var\run\secrets\pods.eks.amazonaws.com\serviceaccount\eks-pod-identity-token`},
		{"/", TokenFile, false, "/token"},
	} {
		if got := tokenPath(tc.mountPath, tc.file, tc.windows); got != tc.want {
			t.Errorf("tokenPath(%q, %q, %v) = %q, want %q", tc.mountPath, tc.file, tc.windows, got, tc.want)
		}
	}
}

func TestIsWindows(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec PodSpec
		want bool
	}{
		{"nothing", PodSpec{}, false},
		{"linux node selector", PodSpec{NodeSelector: NodeSelector{OS: "linux"}}, false},
		{"windows node selector", PodSpec{NodeSelector: NodeSelector{OS: "windows"}}, true},
		{"beta windows node selector", PodSpec{NodeSelector: NodeSelector{BetaOS: "windows"}}, true},
		{"os linux", PodSpec{OS: &PodOS{Name: "linux"}}, false},
		{"os windows", PodSpec{OS: &PodOS{Name: "windows"}}, true},
	} {
		p := &Pod{Spec: tc.spec}
		if got := p.isWindows(); got != tc.want {
			t.Errorf("%s: isWindows = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestIsTokenVolume pins what counts as the webhook's own volume, which
// decides between "already injected" and "foreign volume, warn".
func TestIsTokenVolume(t *testing.T) {
	token := func(path string) ProjectedSource {
		return ProjectedSource{ServiceAccountToken: &TokenProjection{Path: path}}
	}
	for _, tc := range []struct {
		name string
		v    Volume
		want bool
	}{
		{"not projected", Volume{Name: VolumeName}, false},
		{"no sources", Volume{Name: VolumeName, Projected: &Projected{}}, false},
		{"ours", Volume{Name: VolumeName, Projected: &Projected{Sources: []ProjectedSource{token(TokenFile)}}}, true},
		{"other file", Volume{Name: VolumeName, Projected: &Projected{Sources: []ProjectedSource{token("jwt")}}}, false},
		{"non-token source", Volume{Name: VolumeName, Projected: &Projected{Sources: []ProjectedSource{{}}}}, false},
		{"extra source", Volume{Name: VolumeName, Projected: &Projected{Sources: []ProjectedSource{token(TokenFile), {}}}}, false},
	} {
		if got := isTokenVolume(tc.v, TokenFile); got != tc.want {
			t.Errorf("%s: isTokenVolume = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A mount path written with a trailing slash is the same directory: the
// container is reported, not given a second mount at that path.
func TestMountPathTakenWithTrailingSlash(t *testing.T) {
	pod := &Pod{Spec: PodSpec{Containers: []Container{{
		Name:         "app",
		VolumeMounts: []VolumeMount{{Name: "other", MountPath: DefaultMountPath + "/"}},
	}}}}
	res := Inject(nil, pod, Identity{Mode: ModeWebIdentity, RoleARN: "arn:aws:iam::111122223333:role/r"}, DefaultOptions())
	if len(res.Patch) != 0 || len(res.Warnings) != 1 {
		t.Fatalf("patch %v warnings %v: want no patch and one warning", res.Patch, res.Warnings)
	}
}

func TestParseSessionName(t *testing.T) {
	for _, tc := range []struct {
		in          string
		fromPod, ok bool
	}{
		{"pod", true, true},
		{" Pod\n", true, true},
		{"false", false, true},
		{"FALSE", false, true},
		{"", false, false},
		{"true", false, false},
		{"yes", false, false},
		{"metadata.name", false, false},
	} {
		if fromPod, ok := ParseSessionName(tc.in); fromPod != tc.fromPod || ok != tc.ok {
			t.Errorf("ParseSessionName(%q) = %v, %v; want %v, %v", tc.in, fromPod, ok, tc.fromPod, tc.ok)
		}
	}
}

// TestSessionNameLength pins which pod names become session names: the
// name as given, or as the API server will generate it from generateName.
func TestSessionNameLength(t *testing.T) {
	name := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name string
		meta ObjectMeta
		want bool
	}{
		{"one character", ObjectMeta{Name: "a"}, false},
		{"two characters", ObjectMeta{Name: "ab"}, true},
		{"64 characters", ObjectMeta{Name: name(64)}, true},
		{"65 characters", ObjectMeta{Name: name(65)}, false},
		{"253 characters", ObjectMeta{Name: name(253)}, false},
		{"name wins over generateName", ObjectMeta{Name: name(65), GenerateName: "a-"}, false},
		{"one-character generateName", ObjectMeta{GenerateName: "a"}, true},
		{"59-character generateName", ObjectMeta{GenerateName: name(59)}, true},
		{"253-character generateName", ObjectMeta{GenerateName: name(253)}, true},
		{"no name at all", ObjectMeta{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.SessionNameFromPod = true
			var res Result
			got := sessionNameFromPod(&Pod{Metadata: tc.meta}, Identity{Mode: ModeWebIdentity}, opts, &res)
			if got != tc.want {
				t.Errorf("sessionNameFromPod = %v, want %v", got, tc.want)
			}
			if warned := len(res.Warnings) == 1; warned == tc.want {
				t.Errorf("warnings = %q, want one only when the name does not fit", res.Warnings)
			}
		})
	}
}

// sameMountPath is the comparison of cleaned paths, without cleaning the
// usual mount path.
func TestSameMountPath(t *testing.T) {
	paths := []string{"", ".", "/", "//", "/a", "/a/", "a", "a/", "/a/b", "/a/b/", "/a//b", "/a/./b", "/a/c/../b",
		"/a/b/.", "/a/b/..", "/a/bc", "/a/b2", "./a/b", "../a/b", "a/b", "/../a/b"}
	for _, m := range paths {
		for _, p := range paths {
			clean := path.Clean(p)
			if got, want := sameMountPath(m, clean), path.Clean(m) == clean; got != want {
				t.Errorf("sameMountPath(%q, %q) = %v, want %v", m, clean, got, want)
			}
		}
	}
}

func TestAnnotationsGet(t *testing.T) {
	a := Annotations{
		"eks.amazonaws.com/skip-containers": "a",
		"example.com/token-expiration":      "b",
		"eks.amazonaws.comx/session-name":   "c",
		"eks.amazonaws.com/session-names":   "d",
	}
	for _, tc := range []struct {
		prefix, name, want string
		found              bool
	}{
		{"eks.amazonaws.com", "skip-containers", "a", true},
		{"example.com", "token-expiration", "b", true},
		{"eks.amazonaws.com", "token-expiration", "", false},
		{"eks.amazonaws.com", "session-name", "", false},
		{"eks.amazonaws.co", "skip-containers", "", false},
	} {
		if got, found := a.get(tc.prefix, tc.name); got != tc.want || found != tc.found {
			t.Errorf("get(%q, %q) = %q, %v; want %q, %v", tc.prefix, tc.name, got, found, tc.want, tc.found)
		}
	}
}
