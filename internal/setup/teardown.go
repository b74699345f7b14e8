package setup

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// TeardownClients reach what teardown removes.
type TeardownClients struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	S3      s3issuer.UnpublishAPI
	IAM     iamoidc.ProviderDeleter
	// CloudFront, when set, also takes back a private issuer's
	// distribution.
	CloudFront s3issuer.CloudFrontTeardownAPI
}

// TeardownOptions say what setup made.
type TeardownOptions struct {
	// Bucket hosts the issuer; empty leaves S3 alone.
	Bucket string
	// Issuer names the IAM provider; empty means the issuer the bucket
	// serves: its CloudFront address when irsa published it privately,
	// else its S3 address in Region.
	Issuer string
	Region string
	// CertMode is the certificate mode the webhook was installed with.
	CertMode string
	Report   func(progress.Step)
}

// Teardown removes what setup created and nothing else: the webhook's
// objects that carry irsa's labels, the IAM provider if irsa created it,
// a private issuer's CloudFront distribution (disabled first, deleted by a
// later run), the issuer documents and irsa's bucket policy statements,
// and the bucket when irsa created it and nothing else is in it. The cluster's
// issuer and signing keys stay: tokens in use depend on them.
func Teardown(ctx context.Context, c TeardownClients, opts TeardownOptions) error {
	report := opts.Report
	if report == nil {
		report = func(progress.Step) {}
	}
	if c.Dynamic != nil {
		if err := removeWebhook(ctx, c, opts.CertMode, report); err != nil {
			return err
		}
	}
	if opts.Issuer == "" && opts.Bucket != "" {
		var err error
		if c.CloudFront != nil {
			if opts.Issuer, err = s3issuer.PrivateIssuer(ctx, c.CloudFront, opts.Bucket); err != nil {
				return err
			}
		}
		if opts.Issuer == "" && opts.Region != "" {
			if opts.Issuer, err = s3issuer.IssuerURL(opts.Bucket, opts.Region); err != nil {
				return err
			}
		}
	}
	if opts.Issuer != "" {
		step, err := iamoidc.Delete(ctx, c.IAM, opts.Issuer)
		if err != nil {
			return err
		}
		report(step)
	}
	if opts.Bucket != "" && c.CloudFront != nil {
		if err := s3issuer.UnpublishCloudFront(ctx, c.CloudFront, opts.Bucket, report); err != nil {
			return err
		}
	}
	if opts.Bucket != "" {
		if err := s3issuer.Unpublish(ctx, c.S3, opts.Bucket, report); err != nil {
			return err
		}
	}
	report(progress.Step{Name: "cluster issuer and signing keys", Outcome: progress.Unchanged, Detail: "kept: tokens in use are signed with them"})
	return nil
}

// removeWebhook deletes, in reverse order, the objects the webhook phase
// applies, each only if it carries irsa's part-of label. The namespace is
// kept: it may hold objects of others, such as the mapping ConfigMap.
func removeWebhook(ctx context.Context, c TeardownClients, mode string, report func(progress.Step)) error {
	if mode == "" {
		mode = deploy.SelfSigned
	}
	objects, err := deploy.Render(mode, "")
	if err != nil {
		return err
	}
	objects = append(objects, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": deploy.TLSSecret, "namespace": deploy.Namespace},
	}}, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": VerifyServiceAccount, "namespace": deploy.Namespace},
	}})
	for i := len(objects) - 1; i >= 0; i-- {
		obj := objects[i]
		gvk := obj.GroupVersionKind()
		name := fmt.Sprintf("%s %s", gvk.Kind, obj.GetName())
		if gvk.Kind == "Namespace" {
			report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: it may hold objects of others; kubectl delete namespace " + obj.GetName() + " when it is empty"})
			continue
		}
		res, err := resourceFor(c.Dynamic, c.Mapper, obj)
		if meta.IsNoMatchError(err) {
			continue // cert-manager's kinds on a cluster without it
		}
		if err != nil {
			return err
		}
		current, err := res.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		labels := current.GetLabels()
		if labels["app.kubernetes.io/part-of"] != "irsa" && labels["app.kubernetes.io/managed-by"] != fieldManager {
			report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: not labelled as irsa's"})
			continue
		}
		if err := res.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		report(progress.Step{Name: name, Outcome: progress.Deleted})
	}
	return nil
}
