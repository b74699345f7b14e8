package webhook

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// WebhookName is the name of the webhook inside its configuration.
const WebhookName = "pod-identity.irsa.dev"

// Configuration returns a MutatingWebhookConfiguration that sends pod
// creations to clientConfig, as deploy/base ships it: v1 and v1beta1
// reviews, no side effects, reinvoked if another webhook changes the pod,
// and pods labelled with the skip label left alone.
func Configuration(name string, clientConfig admissionregistrationv1.WebhookClientConfig, policy admissionregistrationv1.FailurePolicyType, namespaces *metav1.LabelSelector) *admissionregistrationv1.MutatingWebhookConfiguration {
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    WebhookName,
			ClientConfig:            clientConfig,
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:           &policy,
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			TimeoutSeconds:          ptr.To[int32](10),
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					Scope: ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
			NamespaceSelector: namespaces,
			ObjectSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: mutate.SkipLabel, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"true"},
			}}},
		}},
	}
}
