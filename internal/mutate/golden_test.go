package mutate_test

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/irsa-dev/irsa/internal/mutate"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/want.yaml and warnings.txt from the current output")

// identityFile is mutate.Identity as identity.yaml spells it. It converts
// to mutate.Identity directly, so a field added there fails to compile here.
type identityFile struct {
	Mode            mutate.Mode `json:"mode"`
	RoleARN         string      `json:"roleARN,omitempty"`
	Audience        string      `json:"audience,omitempty"`
	RegionalSTS     *bool       `json:"regionalSTS,omitempty"`
	TokenExpiration int64       `json:"tokenExpiration,omitempty"`
	// SessionNameFromPod is what the session-name annotation says.
	SessionNameFromPod *bool `json:"sessionNameFromPod,omitempty"`
}

// optionsFile is mutate.Options as options.yaml spells it; the file holds
// only the fields that differ from mutate.DefaultOptions().
type optionsFile struct {
	AnnotationPrefix              string `json:"annotationPrefix"`
	Audience                      string `json:"audience"`
	MountPath                     string `json:"mountPath"`
	TokenExpiration               int64  `json:"tokenExpiration"`
	Region                        string `json:"region"`
	RegionalSTS                   bool   `json:"regionalSTS"`
	SessionNameFromPod            bool   `json:"sessionNameFromPod"`
	ContainerCredentialsAudience  string `json:"containerCredentialsAudience"`
	ContainerCredentialsFullURI   string `json:"containerCredentialsFullURI"`
	ContainerCredentialsMountPath string `json:"containerCredentialsMountPath"`
	ContainerCredentialsVolume    string `json:"containerCredentialsVolume"`
	ContainerCredentialsTokenFile string `json:"containerCredentialsTokenFile"`
}

// goldenCase is one testdata/<case> folder.
type goldenCase struct {
	name    string
	dir     string
	podJSON []byte
	id      mutate.Identity
	opts    mutate.Options
}

func goldenCases(tb testing.TB) []goldenCase {
	tb.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		tb.Fatal(err)
	}
	var cases []goldenCase
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "fuzz" {
			continue
		}
		cases = append(cases, loadCase(tb, e.Name()))
	}
	if len(cases) == 0 {
		tb.Fatal("no cases in testdata")
	}
	return cases
}

func loadCase(tb testing.TB, name string) goldenCase {
	tb.Helper()
	c := goldenCase{name: name, dir: filepath.Join("testdata", name)}

	podYAML := readFile(tb, filepath.Join(c.dir, "pod.yaml"))
	podJSON, err := yaml.YAMLToJSONStrict(podYAML)
	if err != nil {
		tb.Fatalf("%s/pod.yaml: %v", c.dir, err)
	}
	c.podJSON = podJSON

	var id identityFile
	if err := yaml.UnmarshalStrict(readFile(tb, filepath.Join(c.dir, "identity.yaml")), &id); err != nil {
		tb.Fatalf("%s/identity.yaml: %v", c.dir, err)
	}
	c.id = mutate.Identity(id)

	opts := optionsFile(mutate.DefaultOptions())
	if raw, err := os.ReadFile(filepath.Join(c.dir, "options.yaml")); err == nil {
		if err := yaml.UnmarshalStrict(raw, &opts); err != nil {
			tb.Fatalf("%s/options.yaml: %v", c.dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	c.opts = mutate.Options(opts)
	return c
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestGolden runs every testdata/<case>: pod.yaml is admitted with
// identity.yaml and options.yaml, the patch is applied to the raw pod, and
// the result must be want.yaml with warnings.txt (one warning a line, absent
// when there are none). Run with -update to rewrite both from the output.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			pod, err := decodePod(c.podJSON)
			if err != nil {
				t.Fatalf("decode pod: %v", err)
			}
			res := mutate.Inject(nil, &pod, c.id, c.opts)

			if again, _ := decodePod(c.podJSON); !reflect.DeepEqual(again, pod) {
				t.Error("Inject changed the pod it was given")
			}
			if res2 := mutate.Inject(nil, &pod, c.id, c.opts); !reflect.DeepEqual(res, res2) {
				t.Errorf("Inject is not deterministic:\n%+v\n%+v", res, res2)
			}

			before, err := generic(c.podJSON)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkOps(before, res.Patch); err != nil {
				t.Errorf("patch is not append-only: %v", err)
			}

			patched, err := applyPatch(c.podJSON, res.Patch)
			if err != nil {
				t.Fatal(err)
			}
			after, err := generic(patched)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkOnlyAppended(before, after, ""); err != nil {
				t.Errorf("patch changed the pod beyond appending: %v", err)
			}

			compareWant(t, c, patched)
			compareWarnings(t, c, res.Warnings)

			// Reinvocation: the patched pod needs nothing more, and the
			// user sees the same warnings again.
			mutated, err := decodePod(patched)
			if err != nil {
				t.Fatalf("decode patched pod: %v", err)
			}
			res2 := mutate.Inject(nil, &mutated, c.id, c.opts)
			if len(res2.Patch) != 0 {
				t.Errorf("second Inject on the patched pod is not empty: %s", res2.Patch)
			}
			if !reflect.DeepEqual(res2.Warnings, res.Warnings) {
				t.Errorf("second Inject warnings = %q, first = %q", res2.Warnings, res.Warnings)
			}
		})
	}
}

func compareWant(t *testing.T, c goldenCase, patched []byte) {
	t.Helper()
	got, err := yaml.JSONToYAML(patched)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.dir, "want.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantYAML := readFile(t, path)
	wantJSON, err := yaml.YAMLToJSONStrict(wantYAML)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	w, err := generic(wantJSON)
	if err != nil {
		t.Fatal(err)
	}
	g, err := generic(patched)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("patched pod differs from %s (rerun with -update to accept):\n%s", path, lineDiff(string(normalise(t, wantJSON)), string(got)))
	}
}

// normalise prints a JSON document as YAML the way got is printed, so a
// hand-written want.yaml diffs line by line against the output.
func normalise(t *testing.T, j []byte) []byte {
	t.Helper()
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func compareWarnings(t *testing.T, c goldenCase, warnings []string) {
	t.Helper()
	path := filepath.Join(c.dir, "warnings.txt")
	if *update {
		if len(warnings) == 0 {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(path, []byte(strings.Join(warnings, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	var want []string
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		for line := range strings.Lines(string(raw)) {
			if line = strings.TrimRight(line, "\r\n"); line != "" {
				want = append(want, line)
			}
		}
		if len(want) == 0 {
			t.Errorf("%s is empty; delete it when no warnings are expected", path)
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		t.Fatal(err)
	}
	if !reflect.DeepEqual(warnings, want) && !(len(warnings) == 0 && len(want) == 0) {
		t.Errorf("warnings differ from %s (rerun with -update to accept):\ngot:\n  %s\nwant:\n  %s",
			path, strings.Join(warnings, "\n  "), strings.Join(want, "\n  "))
	}
}

// lineDiff is a small longest-common-subsequence diff of two texts.
func lineDiff(want, got string) string {
	a := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	b := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out bytes.Buffer
	out.WriteString("--- want\n+++ got\n")
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + b[j] + "\n")
			j++
		default:
			out.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
