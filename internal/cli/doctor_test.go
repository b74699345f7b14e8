package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/irsa-dev/irsa/internal/doctor"
	"github.com/irsa-dev/irsa/internal/localcluster"
)

func TestDoctorCommand(t *testing.T) {
	startMoto(t)
	c, err := localcluster.Start(t.TempDir(), localcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().ServiceAccounts("shop").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "cart"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	doctorCmd := func(args ...string) (string, error) {
		return runCommand(t, NewRootCommand(context.Background()), append([]string{"doctor", "--kubeconfig", c.Kubeconfig}, args...)...)
	}

	out, err := doctorCmd("-n", "shop", "--service-account", "cart")
	if !errors.Is(err, errUnhealthy) {
		t.Fatalf("err = %v, want the unhealthy exit", err)
	}
	for _, want := range []string{"ok           service account: shop/cart", "problem      role annotation", "             fix:   irsa role create -n shop --service-account cart"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	out, err = doctorCmd("-n", "shop", "--service-account", "cart", "-o", "json")
	if !errors.Is(err, errUnhealthy) {
		t.Fatalf("json: err = %v", err)
	}
	var report doctor.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if report.Healthy || report.Checks[1].Name != doctor.CheckAnnotation || report.Checks[1].Status != doctor.Problem {
		t.Errorf("report %+v", report)
	}

	if _, err := doctorCmd("-n", "shop", "--service-account", "cart", "--pod", "x"); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("both targets: %v", err)
	}
	if _, err := doctorCmd("-n", "shop", "--pod", "missing"); !errors.Is(err, errUnhealthy) {
		t.Errorf("missing pod: %v", err)
	}
}
