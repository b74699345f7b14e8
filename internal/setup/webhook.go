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

// Self-signed serving certificates last a year and are renewed by the
// setup run that finds less than a month left.
const (
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
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return progress.Step{}, fmt.Errorf("%s: the cluster does not know %s: install what provides it (for %s objects: cert-manager) or choose another --cert-mode", name, gvk.GroupKind(), gvk.Group)
	}
	if err != nil {
		return progress.Step{}, fmt.Errorf("%s: %w", name, err)
	}
	var res dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		res = client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
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

// selfSignedTLS adds the Secret with the webhook's serving certificate and
// puts its CA in the webhook configuration. A certificate already in the
// cluster is kept until a month before it expires, so a second run changes
// nothing.
func (r *run) selfSignedTLS(ctx context.Context, objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	caPEM, certPEM, keyPEM, err := r.currentTLS(ctx)
	if err != nil {
		return nil, err
	}
	if caPEM == nil {
		service := deploy.Name + "." + deploy.Namespace + ".svc"
		ca, err := servingcert.NewCA("irsa-webhook-ca", certValidity)
		if err != nil {
			return nil, err
		}
		if certPEM, keyPEM, err = ca.Issue(service, []string{service, service + ".cluster.local"}, nil, certValidity); err != nil {
			return nil, err
		}
		caPEM = ca.CertPEM
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
		"data": map[string]any{"tls.crt": b64(certPEM), "tls.key": b64(keyPEM), "ca.crt": b64(caPEM)},
	}}
	var out []*unstructured.Unstructured
	for _, obj := range objects {
		if obj.GetKind() == "MutatingWebhookConfiguration" {
			webhooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
			for _, w := range webhooks {
				if err := unstructured.SetNestedField(w.(map[string]any), b64(caPEM), "clientConfig", "caBundle"); err != nil {
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

// b64 is how JSON carries bytes in Kubernetes objects.
func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// currentTLS returns the serving certificate already in the cluster, or
// nils when there is none or it needs renewing.
func (r *run) currentTLS(ctx context.Context) (caPEM, certPEM, keyPEM []byte, err error) {
	secret, err := r.c.Kube.CoreV1().Secrets(deploy.Namespace).Get(ctx, deploy.TLSSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read Secret %s/%s: %w", deploy.Namespace, deploy.TLSSecret, err)
	}
	caPEM, certPEM, keyPEM = secret.Data["ca.crt"], secret.Data["tls.crt"], secret.Data["tls.key"]
	block, _ := pem.Decode(certPEM)
	if block == nil || len(caPEM) == 0 || len(keyPEM) == 0 {
		return nil, nil, nil, nil
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || r.now().Add(certRenewal).After(cert.NotAfter) {
		return nil, nil, nil, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, nil, nil, nil
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: r.now()}); err != nil {
		return nil, nil, nil, nil
	}
	return bytes.Clone(caPEM), certPEM, keyPEM, nil
}
