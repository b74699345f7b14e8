package doctor

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/token"
	"github.com/irsa-dev/irsa/internal/webhook"
)

// Check names, in the order they run.
const (
	CheckServiceAccount = "service account"
	CheckAnnotation     = "role annotation"
	CheckPodAge         = "pod created after the annotation"
	CheckPodMutated     = "pod mutated by the webhook"
	CheckWebhook        = "webhook registered"
	CheckToken          = "token minted by the cluster"
	CheckIssuer         = "issuer documents"
	CheckProvider       = "IAM OIDC provider"
	CheckTrust          = "role trust policy"
	CheckPermissions    = "role permissions"
	CheckAssumeRole     = "AssumeRoleWithWebIdentity"
)

// upstreamWebhookName is amazon-eks-pod-identity-webhook's webhook, which
// does the same job.
const upstreamWebhookName = "iam-for-pods.amazonaws.com"

func (d *doctor) checkServiceAccount(ctx context.Context) {
	ns := d.opts.Namespace
	name := d.opts.ServiceAccount
	if d.opts.Pod != "" {
		pod, err := d.c.Kube.CoreV1().Pods(ns).Get(ctx, d.opts.Pod, metav1.GetOptions{})
		if err != nil {
			d.problem(CheckServiceAccount, "", fmt.Sprintf("cannot read pod %s/%s: %v", ns, d.opts.Pod, err), "check the namespace and pod name, and that you may get pods there")
			return
		}
		d.pod = pod
		name = pod.Spec.ServiceAccountName
		if name == "" {
			name = "default"
		}
		d.report.ServiceAccount = name
	}
	sa, err := d.c.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		d.problem(CheckServiceAccount, "", fmt.Sprintf("ServiceAccount %s/%s does not exist", ns, name),
			fmt.Sprintf("irsa role create -n %s --service-account %s ... creates it with its role", ns, name))
		return
	case err != nil:
		d.problem(CheckServiceAccount, "", fmt.Sprintf("cannot read ServiceAccount %s/%s: %v", ns, name, err), "check your access to the cluster")
		return
	}
	d.sa = sa
	d.ok(CheckServiceAccount, ns+"/"+name)
}

func (d *doctor) roleAnnotation() string {
	return d.opts.AnnotationPrefix + "/" + identity.AnnotationRoleARN
}

func (d *doctor) checkAnnotation(ctx context.Context) {
	if d.sa == nil {
		d.skip(CheckAnnotation, "no ServiceAccount")
		return
	}
	key := d.roleAnnotation()
	id, found, err := identity.FromAnnotations(d.opts.AnnotationPrefix, d.sa.Annotations)
	source := "annotation " + key
	if !found && err == nil {
		if mapped, where := d.mapped(ctx); mapped.RoleARN != "" {
			id, found, source = mapped, true, where
		}
	}
	switch {
	case !found && err == nil:
		d.problem(CheckAnnotation, "", fmt.Sprintf("ServiceAccount %s/%s has no %s annotation, so the webhook gives its pods no role", d.sa.Namespace, d.sa.Name, key),
			fmt.Sprintf("irsa role create -n %s --service-account %s ... (or kubectl annotate serviceaccount -n %s %s %s=arn:aws:iam::ACCOUNT:role/NAME)", d.sa.Namespace, d.sa.Name, d.sa.Namespace, d.sa.Name, key))
		return
	case !found:
		d.problem(CheckAnnotation, d.sa.Annotations[key], err.Error(),
			fmt.Sprintf("annotate the full role ARN: kubectl annotate --overwrite serviceaccount -n %s %s %s=arn:aws:iam::ACCOUNT:role/NAME", d.sa.Namespace, d.sa.Name, key))
		return
	}
	d.roleARN = id.RoleARN
	d.audience = id.Audience
	if d.audience == "" {
		d.audience = mutate.DefaultAudience
	}
	detail := id.RoleARN + ", audience " + d.audience + ", from " + source
	if err != nil {
		detail += " (" + err.Error() + ")"
	}
	d.ok(CheckAnnotation, detail)
}

// mapped returns the role the webhook's mapping ConfigMap gives the
// ServiceAccount, for webhooks run with --watch-config-map.
func (d *doctor) mapped(ctx context.Context) (mutate.Identity, string) {
	ns := d.opts.MappingNamespace
	if ns == "" {
		ns = deploy.Namespace
	}
	cm, err := d.c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, identity.MappingConfigMapName, metav1.GetOptions{})
	if err != nil {
		return mutate.Identity{}, ""
	}
	entries, _ := identity.ParseMapping(cm.Data[identity.MappingConfigMapKey])
	var m identity.Mapping
	m.Set(entries)
	id, _ := m.Lookup(types.NamespacedName{Namespace: d.sa.Namespace, Name: d.sa.Name})
	return id, "ConfigMap " + ns + "/" + identity.MappingConfigMapName
}

// annotatedAt is when the role annotation last changed, from the
// ServiceAccount's managed fields; zero when they do not say.
func (d *doctor) annotatedAt() time.Time {
	field := `"f:` + d.roleAnnotation() + `"`
	var at time.Time
	for _, mf := range d.sa.ManagedFields {
		if mf.FieldsV1 != nil && mf.Time != nil && strings.Contains(string(mf.FieldsV1.Raw), field) && mf.Time.After(at) {
			at = mf.Time.Time
		}
	}
	return at
}

func (d *doctor) checkPodAge() {
	if d.pod == nil || d.roleARN == "" {
		d.skip(CheckPodAge, "no pod or no role annotation")
		return
	}
	at := d.annotatedAt()
	created := d.pod.CreationTimestamp.Time
	if at.IsZero() {
		d.skip(CheckPodAge, "the ServiceAccount's managed fields do not say when the annotation was set")
		return
	}
	// Managed field times have a resolution of one second, and move when
	// the same manager changes any field of its own: a pod that has its
	// role is fine whatever they say.
	if created.Before(at.Truncate(time.Second)) && !d.podHasRole() {
		d.problem(CheckPodAge, fmt.Sprintf("pod created %s, annotation set %s", stamp(created), stamp(at)),
			"the pod was created before its ServiceAccount got the role annotation; a pod's environment is fixed when it is created",
			restartFix(d.pod))
		return
	}
	d.ok(CheckPodAge, fmt.Sprintf("pod created %s, annotation set %s", stamp(created), stamp(at)))
}

// podHasRole reports whether a container of the pod has the annotated role.
func (d *doctor) podHasRole() bool {
	for _, c := range d.pod.Spec.Containers {
		if envValue(c, mutate.EnvRoleARN) == d.roleARN {
			return true
		}
	}
	return false
}

// skippedContainers are the containers the pod asks the webhook to leave
// alone.
func (d *doctor) skippedContainers() map[string]bool {
	skipped := map[string]bool{}
	for _, name := range strings.Split(d.pod.Annotations[d.opts.AnnotationPrefix+"/skip-containers"], ",") {
		if name = strings.TrimSpace(name); name != "" {
			skipped[name] = true
		}
	}
	return skipped
}

func (d *doctor) checkPodMutated() {
	if d.pod == nil || d.roleARN == "" {
		d.skip(CheckPodMutated, "no pod or no role annotation")
		return
	}
	var missing []string
	skipped := d.skippedContainers()
	for _, c := range d.pod.Spec.Containers {
		if skipped[c.Name] {
			continue
		}
		if v := envValue(c, mutate.EnvRoleARN); v != d.roleARN {
			if v == "" {
				missing = append(missing, fmt.Sprintf("container %s has no %s", c.Name, mutate.EnvRoleARN))
			} else {
				missing = append(missing, fmt.Sprintf("container %s has %s=%s, the annotation says %s", c.Name, mutate.EnvRoleARN, v, d.roleARN))
			}
			continue
		}
		if envValue(c, mutate.EnvWebIdentityTokenFile) == "" {
			missing = append(missing, fmt.Sprintf("container %s has no %s", c.Name, mutate.EnvWebIdentityTokenFile))
		}
		if !hasMount(c, mutate.VolumeName) {
			missing = append(missing, fmt.Sprintf("container %s does not mount volume %s", c.Name, mutate.VolumeName))
		}
	}
	if !hasTokenVolume(d.pod) {
		missing = append(missing, "the pod has no projected token volume "+mutate.VolumeName)
	}
	if len(missing) > 0 {
		d.problem(CheckPodMutated, strings.Join(missing, "; "),
			"the webhook did not give this pod its role: it was not running or not registered when the pod was created, the pod or its namespace is excluded, or the pod predates the annotation",
			"check the webhook below, then "+restartFix(d.pod))
		return
	}
	d.ok(CheckPodMutated, fmt.Sprintf("%s, token volume %s", mutate.EnvRoleARN, mutate.VolumeName))
}

func (d *doctor) checkWebhook(ctx context.Context) {
	list, err := d.c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
	if err != nil {
		d.problem(CheckWebhook, "", fmt.Sprintf("cannot list MutatingWebhookConfigurations: %v", err), "run doctor with rights to read admission configuration")
		return
	}
	var ns *corev1.Namespace
	if got, err := d.c.Kube.CoreV1().Namespaces().Get(ctx, d.opts.Namespace, metav1.GetOptions{}); err == nil {
		ns = got
	}
	var found []string
	for _, cfg := range list.Items {
		for _, w := range cfg.Webhooks {
			if w.Name != webhook.WebhookName && w.Name != upstreamWebhookName {
				continue
			}
			where := cfg.Name + "/" + w.Name
			if problem := d.excludes(w, ns); problem != "" {
				d.problem(CheckWebhook, where, problem, "label the namespace or pod so the webhook's selectors match, or remove the skip label")
				return
			}
			if cause, fix := webhookReachable(ctx, d, w); cause != "" {
				d.problem(CheckWebhook, where, cause, fix)
				return
			}
			found = append(found, where)
		}
	}
	if len(found) == 0 {
		d.problem(CheckWebhook, "", "no MutatingWebhookConfiguration has the pod identity webhook ("+webhook.WebhookName+" or "+upstreamWebhookName+"): nothing injects roles into pods",
			"irsa setup --skip-phases keys,publish,provider,cluster-issuer,verify --issuer ISSUER installs it")
		return
	}
	d.ok(CheckWebhook, strings.Join(found, ", "))
}

// excludes says why w does not see this namespace or pod, or "".
func (d *doctor) excludes(w admissionregistrationv1.MutatingWebhook, ns *corev1.Namespace) string {
	if w.NamespaceSelector != nil && ns != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.NamespaceSelector)
		if err == nil && !sel.Matches(labels.Set(ns.Labels)) {
			return fmt.Sprintf("its namespaceSelector (%s) does not match namespace %s", sel, ns.Name)
		}
	}
	if w.ObjectSelector != nil && d.pod != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.ObjectSelector)
		if err == nil && !sel.Matches(labels.Set(d.pod.Labels)) {
			return fmt.Sprintf("its objectSelector (%s) does not match the pod's labels", sel)
		}
	}
	return ""
}

// webhookReachable checks what can be checked from here of how the API
// server reaches the webhook: its Service has ready endpoints and its CA
// bundle holds a valid certificate.
func webhookReachable(ctx context.Context, d *doctor, w admissionregistrationv1.MutatingWebhook) (cause, fix string) {
	if len(w.ClientConfig.CABundle) > 0 {
		block, _ := pem.Decode(w.ClientConfig.CABundle)
		if block == nil {
			return "its caBundle is not a PEM certificate, so the API server cannot trust the webhook", "rerun irsa setup (webhook phase) or let cert-manager/service-ca inject the CA"
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Sprintf("its caBundle does not parse: %v", err), "rerun irsa setup (webhook phase)"
		}
		if d.now().After(cert.NotAfter) {
			return fmt.Sprintf("the CA in its caBundle expired %s", stamp(cert.NotAfter)), "rerun irsa setup (webhook phase) to renew the certificate"
		}
	}
	svc := w.ClientConfig.Service
	if svc == nil {
		return "", ""
	}
	slices, err := d.c.Kube.DiscoveryV1().EndpointSlices(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc.Name})
	if err != nil {
		return fmt.Sprintf("cannot read the endpoints of Service %s/%s: %v", svc.Namespace, svc.Name, err), "check your access to the cluster"
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				return "", ""
			}
		}
	}
	if _, err := d.c.Kube.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Sprintf("its Service %s/%s does not exist", svc.Namespace, svc.Name), "irsa setup (webhook phase) installs it"
	}
	return fmt.Sprintf("its Service %s/%s has no ready endpoint: the webhook is not running", svc.Namespace, svc.Name),
		fmt.Sprintf("kubectl -n %s get pods,deployments: look at why the webhook's pods are not ready", svc.Namespace)
}

func (d *doctor) checkToken(ctx context.Context) {
	if d.sa == nil {
		d.skip(CheckToken, "no ServiceAccount")
		return
	}
	audience := d.audience
	if audience == "" {
		audience = mutate.DefaultAudience
		d.audience = audience
	}
	tr, err := d.c.Kube.CoreV1().ServiceAccounts(d.sa.Namespace).CreateToken(ctx, d.sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		d.problem(CheckToken, "", fmt.Sprintf("the cluster would not mint a token for %s/%s: %v", d.sa.Namespace, d.sa.Name, err),
			"run doctor with rights to create serviceaccounts/token, and check kube-apiserver's --service-account-issuer and key flags")
		return
	}
	d.raw = tr.Status.Token
	claims, err := token.Peek(d.raw)
	if err != nil {
		d.problem(CheckToken, "", "the cluster minted a token that is not a JWT: "+err.Error(), "check kube-apiserver's --service-account-signing-key-file")
		return
	}
	d.claims = claims
	sub := "system:serviceaccount:" + d.sa.Namespace + ":" + d.sa.Name
	switch {
	case claims.Subject != sub:
		d.problem(CheckToken, claims.Subject, fmt.Sprintf("the token's sub is %q, not %q", claims.Subject, sub), "check the cluster's ServiceAccount token settings")
	case !slices.Contains(claims.Audience, audience):
		d.problem(CheckToken, strings.Join(claims.Audience, ","), fmt.Sprintf("the token's aud is %v, not %s", claims.Audience, audience), "check kube-apiserver's --api-audiences")
	default:
		d.ok(CheckToken, fmt.Sprintf("iss %s, sub %s, aud %s, kid %s", claims.Issuer, claims.Subject, audience, claims.KeyID))
	}
}

func restartFix(pod *corev1.Pod) string {
	for _, ref := range pod.OwnerReferences {
		if ptr.Deref(ref.Controller, false) {
			return fmt.Sprintf("recreate the pod: kubectl delete pod -n %s %s (its %s makes a new one), or kubectl rollout restart the workload", pod.Namespace, pod.Name, ref.Kind)
		}
	}
	return fmt.Sprintf("recreate the pod: kubectl get pod -n %s %s -o yaml > pod.yaml, kubectl delete pod -n %s %s, kubectl apply -f pod.yaml", pod.Namespace, pod.Name, pod.Namespace, pod.Name)
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func hasMount(c corev1.Container, volume string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return true
		}
	}
	return false
}

func hasTokenVolume(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Name == mutate.VolumeName && v.Projected != nil {
			return true
		}
	}
	return false
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
