package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// noGoPlugins is the build tag that keeps kustomize from linking Go's plugin
// package (see the Makefile).
const noGoPlugins = "kustomize_disable_go_plugin_support"

// goList runs `go list` in the module root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	// The tags under test are passed explicitly; GOFLAGS from the Makefile
	// would add them a second time.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	return strings.Fields(string(out))
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// TestBinaryLinksNoGoPlugins guards the webhook's memory: a dependency that
// imports Go's plugin package makes the linker export every method, which
// doubles the binary and its resident memory (36 to 78 MiB for an idle
// webhook when kustomize's plugin loader slipped in).
func TestBinaryLinksNoGoPlugins(t *testing.T) {
	deps := goList(t, "-deps", "-tags", noGoPlugins, "./cmd/irsa")
	if slices.Contains(deps, "plugin") {
		importers := goList(t, "-deps", "-tags", noGoPlugins, "-f",
			`{{range .Imports}}{{if eq . "plugin"}}{{$.ImportPath}}{{end}}{{end}}`, "./cmd/irsa")
		t.Errorf("irsa links Go's plugin package, imported by %v; find that package's build tag that leaves it out and add it to the Makefile and Containerfile", importers)
	}
}

// TestContainerfileBuildsLikeTheMakefile checks what the image build cannot
// be run here to show: that it copies every directory the binary's packages
// live in, and builds with the tag that leaves Go plugins out.
func TestContainerfileBuildsLikeTheMakefile(t *testing.T) {
	containerfile, err := os.ReadFile("../../Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) `).FindAllSubmatch(containerfile, -1) {
		copied[string(m[1])] = true
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs := goList(t, "-deps", "-tags", noGoPlugins, "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}`, "./cmd/irsa")
	for _, dir := range dirs {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		top := strings.Split(filepath.ToSlash(rel), "/")[0]
		if !copied[top] {
			t.Errorf("Containerfile does not COPY %s, where package %s lives", top, rel)
			copied[top] = true // one error per directory
		}
	}
	if !regexp.MustCompile(`go build .*-tags ` + noGoPlugins).Match(containerfile) {
		t.Errorf("Containerfile's go build does not set -tags %s", noGoPlugins)
	}
}
