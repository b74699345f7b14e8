package setup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/progress"
)

// OpenShiftAuthentication is OpenShift's cluster authentication config,
// whose spec.serviceAccountIssuer sets kube-apiserver's issuer.
var OpenShiftAuthentication = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "authentications"}

// phaseClusterIssuer makes the cluster sign tokens with the issuer. On
// OpenShift that is one field, which OpenShift rolls out keeping the old
// issuer accepted; elsewhere it is kube-apiserver flags, which only the
// cluster's owner can set: they are printed.
func (r *run) phaseClusterIssuer(ctx context.Context) (progress.Step, error) {
	issuer := r.result.Issuer
	auth, err := r.c.Dynamic.Resource(OpenShiftAuthentication).Get(ctx, "cluster", metav1.GetOptions{})
	switch {
	case err == nil:
		return r.openShiftIssuer(ctx, auth, issuer)
	case !apierrors.IsNotFound(err):
		return progress.Step{}, fmt.Errorf("read %s/cluster: %w", OpenShiftAuthentication.GroupResource(), err)
	}

	current, err := oidc.ReadClusterIssuer(ctx, r.c.Kube)
	if err != nil {
		return progress.Step{}, err
	}
	if current == issuer {
		return progress.Step{Outcome: progress.Checked, Detail: "kube-apiserver already signs with " + issuer}, nil
	}
	flags := IssuerFlags(issuer, current, r.opts)
	fmt.Fprintf(r.opts.Out, "cluster-issuer: set these kube-apiserver flags on every control-plane node, then restart kube-apiserver:\n  %s\n", strings.Join(flags, "\n  "))
	return progress.Step{Outcome: progress.Skipped, Detail: "kube-apiserver flags to set by hand: " + strings.Join(flags, " ")}, nil
}

// IssuerFlags are the kube-apiserver flags that switch it to issuer: the
// new issuer first (it signs), the old one after it (tokens it signed
// still verify), and the generated keys when there are any.
func IssuerFlags(issuer, current string, opts Options) []string {
	flags := []string{"--service-account-issuer=" + issuer}
	if current != "" && current != issuer {
		flags = append(flags, "--service-account-issuer="+current)
	}
	if opts.GenerateKeys {
		flags = append(flags,
			"--service-account-signing-key-file="+opts.KeyDir+"/"+oidc.SigningKeyFile,
			"--service-account-key-file="+opts.KeyDir+"/"+oidc.PublicKeyFile+" (in addition to the current key files)")
	}
	return flags
}

func (r *run) openShiftIssuer(ctx context.Context, auth *unstructured.Unstructured, issuer string) (progress.Step, error) {
	current, _, _ := unstructured.NestedString(auth.Object, "spec", "serviceAccountIssuer")
	if current == issuer {
		return progress.Step{Outcome: progress.Unchanged, Detail: "authentication.config.openshift.io/cluster spec.serviceAccountIssuer is " + issuer}, nil
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"serviceAccountIssuer": issuer}})
	fmt.Fprintf(r.opts.Out, "cluster-issuer: merge patch on authentication.config.openshift.io/cluster:\n%s\n", patch)
	if r.opts.DryRun {
		return progress.Step{Outcome: progress.Skipped, Detail: "dry run"}, nil
	}
	if _, err := r.c.Dynamic.Resource(OpenShiftAuthentication).Patch(ctx, "cluster", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager}); err != nil {
		return progress.Step{}, fmt.Errorf("set spec.serviceAccountIssuer on authentication.config.openshift.io/cluster: %w", err)
	}
	detail := "spec.serviceAccountIssuer " + issuer + "; OpenShift rolls out kube-apiserver, which takes minutes"
	if current != "" {
		detail += " (was " + current + ", still accepted)"
	}
	return progress.Step{Outcome: progress.Updated, Detail: detail}, nil
}
