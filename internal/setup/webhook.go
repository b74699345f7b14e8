package setup

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/servingcert"
)

// fieldManager names irsa as the writer of what it applies.
const fieldManager = "irsa"

// Self-signed TLS: the CA lasts ten years and the serving certificate one;
// a setup run renews either once less than a month of it is left. The CA's
// key is kept in the Secret, so renewing the serving certificate leaves the
// caBundle the API server trusts as it is.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
	certRenewal  = 30 * 24 * time.Hour
)

// phaseWebhook installs the webhook: the shipped manifests for the
// certificate mode, applied server-side as irsa.
func (r *run) phaseWebhook(ctx context.Context) (progress.Step, error) {
	objects, err := deploy.Render(r.opts.CertMode, r.opts.Image)
	if err != nil {
		return progress.Step{}, err
	}
	if r.opts.CertMode == deploy.SelfSigned {
		if objects, err = r.selfSignedTLS(ctx, objects); err != nil {
			return progress.Step{}, err
		}
	}
	if r.opts.DryRun {
		for _, obj := range objects {
			data, err := yaml.Marshal(obj.Object)
			if err != nil {
				return progress.Step{}, err
			}
			if obj.GetKind() == "Secret" {
				data = []byte(fmt.Sprintf("# Secret %s/%s with a new CA, serving certificate and key\n", obj.GetNamespace(), obj.GetName()))
			}
			fmt.Fprintf(r.opts.Out, "---\n%s", data)
		}
		return progress.Step{Outcome: progress.Skipped, Detail: fmt.Sprintf("dry run: %d objects", len(objects))}, nil
	}
	var steps []progress.Step
	for _, obj := range objects {
		step, err := apply(ctx, r.c.Dynamic, r.c.Mapper, obj)
		if err != nil {
			return progress.Step{}, err
		}
		r.sub(step)
		steps = append(steps, step)
	}
	return progress.Step{Outcome: summarize(steps), Detail: fmt.Sprintf("%d objects, certificates by %s", len(objects), r.opts.CertMode)}, nil
}

// apply writes obj with server-side apply and says whether that created
// it, changed it or left it as it was.
func apply(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) (progress.Step, error) {
	gvk := obj.GroupVersionKind()
	name := strings.ToLower(gvk.Kind) + " " + obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = strings.ToLower(gvk.Kind) + " " + ns + "/" + obj.GetName()
	}
	res, err := resourceFor(client, mapper, obj)
	if meta.IsNoMatchError(err) {
		return progress.Step{}, fmt.Errorf("%s: the cluster does not know %s: install what provides it (for %s objects: cert-manager) or choose another --cert-mode", name, gvk.GroupKind(), gvk.Group)
	}
	if err != nil {
		return progress.Step{}, fmt.Errorf("%s: %w", name, err)
	}
	before, err := res.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		before = nil
	case err != nil:
		return progress.Step{}, fmt.Errorf("read %s: %w", name, err)
	}
	after, err := res.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return progress.Step{}, fmt.Errorf("apply %s: %w", name, err)
	}
	switch {
	case before == nil:
		return progress.Step{Name: name, Outcome: progress.Created}, nil
	case before.GetResourceVersion() != after.GetResourceVersion():
		return progress.Step{Name: name, Outcome: progress.Updated}, nil
	}
	return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
}

// resourceFor is the client for obj's kind, in obj's namespace when the
// kind has namespaces.
func resourceFor(client dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return client.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return client.Resource(mapping.Resource), nil
}

// selfSignedTLS adds the Secret with the webhook's CA and serving
// certificate and puts the CA in the webhook configuration. What is in the
// cluster is kept while it has more than a month left, so a second run
// changes nothing.
func (r *run) selfSignedTLS(ctx context.Context, objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	tls, err := r.renewTLS(ctx)
	if err != nil {
		return nil, err
	}
	caKeyPEM, err := tls.ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata": map[string]any{
			"name":      deploy.TLSSecret,
			"namespace": deploy.Namespace,
			"labels":    map[string]any{"app.kubernetes.io/part-of": "irsa", "app.kubernetes.io/managed-by": fieldManager},
		},
		"type": "kubernetes.io/tls",
		"data": map[string]any{"tls.crt": b64(tls.certPEM), "tls.key": b64(tls.keyPEM), "ca.crt": b64(tls.ca.CertPEM), "ca.key": b64(caKeyPEM)},
	}}
	var out []*unstructured.Unstructured
	for _, obj := range objects {
		if obj.GetKind() == "MutatingWebhookConfiguration" {
			webhooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
			for _, w := range webhooks {
				if err := unstructured.SetNestedField(w.(map[string]any), b64(tls.bundle), "clientConfig", "caBundle"); err != nil {
					return nil, err
				}
			}
			if err := unstructured.SetNestedSlice(obj.Object, webhooks, "webhooks"); err != nil {
				return nil, err
			}
			out = append(out, secret)
		}
		out = append(out, obj)
	}
	return out, nil
}

// webhookTLS is the webhook's CA, its serving pair, and the CA bundle the
// API server is to trust.
type webhookTLS struct {
	ca              *servingcert.CA
	certPEM, keyPEM []byte
	bundle          []byte
}

// renewTLS returns what the Secret should hold: the CA and serving pair in
// the cluster while they have time left, else new ones. A new CA goes into
// the bundle next to the old one, so the webhook's old certificate is
// trusted until its pods have read the new one.
func (r *run) renewTLS(ctx context.Context) (webhookTLS, error) {
	var tls webhookTLS
	secret, err := r.c.Kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, deploy.TLSSecret, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		secret = &corev1.Secret{}
	case err != nil:
		return tls, fmt.Errorf("read Secret %s/%s: %w", deploy.Namespace, deploy.TLSSecret, err)
	}
	oldCA := secret.Data["ca.crt"]
	if ca, err := servingcert.LoadCA(oldCA, secret.Data["ca.key"]); err == nil && r.now().Add(certRenewal).Before(ca.Cert.NotAfter) {
		tls.ca = ca
	}
	rotated := tls.ca == nil
	if rotated {
		if tls.ca, err = servingcert.NewCA("irsa-webhook-ca", caValidity); err != nil {
			return tls, err
		}
	}
	tls.bundle = tls.ca.CertPEM
	if rotated && stillValid(oldCA, r.now()) {
		tls.bundle = append(bytes.Clone(tls.ca.CertPEM), oldCA...)
	}
	tls.certPEM, tls.keyPEM = secret.Data["tls.crt"], secret.Data["tls.key"]
	if !rotated && r.servesUntilRenewal(tls.certPEM, tls.keyPEM, tls.ca) {
		return tls, nil
	}
	service := deploy.Name + "." + deploy.Namespace + ".svc"
	tls.certPEM, tls.keyPEM, err = tls.ca.Issue(service, []string{service, service + ".cluster.local"}, nil, certValidity)
	return tls, err
}

// servesUntilRenewal reports whether the serving pair is signed by ca and
// has more than a month left.
func (r *run) servesUntilRenewal(certPEM, keyPEM []byte, ca *servingcert.CA) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil || len(keyPEM) == 0 {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || r.now().Add(certRenewal).After(cert.NotAfter) {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: r.now()})
	return err == nil
}

// stillValid reports whether the PEM certificate has not expired yet.
func stillValid(certPEM []byte, now time.Time) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return err == nil && now.Before(cert.NotAfter)
}

// b64 is how JSON carries bytes in Kubernetes objects.
func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
