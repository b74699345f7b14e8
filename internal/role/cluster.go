package role

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/ownership"
)

// ManagedByLabel marks a ServiceAccount irsa created (value
// ownership.TagValue); Delete deletes only those.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// DiscoverIssuer returns the issuer the cluster signs ServiceAccount
// tokens with (see oidc.DiscoverIssuer) and where it was found, checked
// for use with AWS.
func DiscoverIssuer(ctx context.Context, client kubernetes.Interface) (issuer, source string, err error) {
	issuer, source, err = oidc.DiscoverIssuer(ctx, client)
	if err != nil {
		return "", "", fmt.Errorf("%w (give the issuer with --issuer)", err)
	}
	if err := oidc.ValidateIssuer(issuer); err != nil {
		return "", "", fmt.Errorf("the cluster's ServiceAccount issuer (from %s) cannot be used with AWS: %w: publish one (irsa oidc publish) and give it to kube-apiserver as --service-account-issuer", source, err)
	}
	return issuer, source, nil
}

// getServiceAccount returns the ServiceAccount, or nil when it does not
// exist yet in an existing namespace.
func getServiceAccount(ctx context.Context, client kubernetes.Interface, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return sa, nil
	case !apierrors.IsNotFound(err):
		return nil, kubeError("get", "serviceaccounts", namespace, name, err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("namespace %s does not exist: create it first (kubectl create namespace %s)", namespace, namespace)
	}
	// Any other answer about the namespace (forbidden, say) leaves the
	// ServiceAccount's creation to tell.
	return nil, nil
}

// kubeError says what failed on which object; for a refusal, which
// permission the kubeconfig's user lacks. resource is plural, as RBAC
// names it.
func kubeError(verb, resource, namespace, name string, err error) error {
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s %s %s/%s: forbidden: the kubeconfig's user needs %s on %s in namespace %s: %w", verb, resource, namespace, name, verb, resource, namespace, err)
	}
	return fmt.Errorf("%s %s %s/%s: %w", verb, resource, namespace, name, err)
}

// annotationPatch returns a JSON merge patch setting the annotations
// (a nil value removes one).
func annotationPatch(annotations map[string]*string) []byte {
	patch := map[string]any{"metadata": map[string]any{"annotations": annotations}}
	out, _ := json.Marshal(patch)
	return out
}

// Pod is a pod that must restart to receive the role.
type Pod struct {
	Name string `json:"name"`
	// Controller is the KIND/NAME of the pod's controller, when it has one.
	Controller string `json:"controller,omitempty"`
}

// podsToRestart returns the pods of the ServiceAccount that still run or
// wait to run without the role: the webhook sets a pod's identity only
// when the pod is created. A pod has the role when a container carries
// AWS_ROLE_ARN with its ARN (the webhook injects into every container not
// skipped).
func podsToRestart(ctx context.Context, client kubernetes.Interface, namespace, serviceAccount, roleARN string) ([]Pod, error) {
	list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.serviceAccountName", serviceAccount).String(),
	})
	if err != nil {
		return nil, kubeError("list", "pods", namespace, "*", err)
	}
	pods := []Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if hasRole(&p, roleARN) {
			continue
		}
		pod := Pod{Name: p.Name}
		if owner := metav1.GetControllerOf(&p); owner != nil {
			pod.Controller = owner.Kind + "/" + owner.Name
		}
		pods = append(pods, pod)
	}
	slices.SortFunc(pods, func(a, b Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

func hasRole(p *corev1.Pod, roleARN string) bool {
	for _, c := range slices.Concat(p.Spec.InitContainers, p.Spec.Containers) {
		for _, e := range c.Env {
			if e.Name == mutate.EnvRoleARN && e.Value == roleARN {
				return true
			}
		}
	}
	return false
}

// roleAnnotation returns the ServiceAccount annotation naming its role.
func roleAnnotation(prefix string) string { return prefix + "/" + identity.AnnotationRoleARN }

// audienceAnnotation returns the ServiceAccount annotation naming its
// token audience.
func audienceAnnotation(prefix string) string { return prefix + "/" + identity.AnnotationAudience }

// createdByIrsa reports whether irsa created the ServiceAccount.
func createdByIrsa(sa *corev1.ServiceAccount) bool {
	return sa.Labels[ManagedByLabel] == ownership.TagValue
}
