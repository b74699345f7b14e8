// Package e2e proves irsa inside a real kube-apiserver: the API server calls
// the webhook, applies its patches and signs the tokens the tooling checks.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/irsa-dev/irsa/internal/localcluster"
)

// cluster is shared by the package's tests; each test works in namespaces
// of its own.
var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "irsa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster, err = localcluster.Start(dir, localcluster.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot start the test cluster:", err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
