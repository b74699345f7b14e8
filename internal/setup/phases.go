package setup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/partition"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// phaseKeys gathers the signing keys to publish: every current and next
// key, from files, the cluster, or a pair kept in the key directory.
func (r *run) phaseKeys(ctx context.Context) (progress.Step, error) {
	r.keys = nil
	var sources []string
	outcome := progress.Unchanged
	keys, err := oidc.ReadKeyFiles(r.opts.KeyFiles)
	if err != nil {
		return progress.Step{}, err
	}
	r.keys = append(r.keys, keys...)
	sources = append(sources, r.opts.KeyFiles...)
	if r.opts.FromCluster {
		found, err := oidc.ReadClusterKeys(ctx, r.c.Kube)
		if err != nil {
			return progress.Step{}, err
		}
		r.keys = append(r.keys, found.Keys...)
		sources = append(sources, found.Sources...)
		for _, w := range found.Warnings {
			r.sub(progress.Step{Name: "warning: " + w, Outcome: progress.Checked})
		}
	}
	if r.opts.GenerateKeys {
		if r.opts.DryRun {
			sources = append(sources, "a new pair in "+r.opts.KeyDir+" (dry run: not made)")
		} else {
			key, created, err := oidc.EnsureSigningKey(r.opts.KeyDir)
			if err != nil {
				return progress.Step{}, err
			}
			if created {
				outcome = progress.Created
			}
			r.keys = append(r.keys, key)
			sources = append(sources, r.opts.KeyDir+"/"+oidc.PublicKeyFile)
		}
	}
	set, err := oidc.KeySet(r.keys, r.opts.KeySetOptions)
	if err != nil {
		return progress.Step{}, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	if len(kids) == 0 && !r.opts.DryRun {
		return progress.Step{}, oidc.ErrNoKeys
	}
	return progress.Step{Outcome: outcome, Detail: fmt.Sprintf("%d key(s) from %s: %s", len(kids), strings.Join(sources, ", "), strings.Join(kids, ", "))}, nil
}

// phasePublish hosts the documents (s3issuer.Publish) and learns the
// issuer URL, which a private issuer only has once CloudFront names it.
func (r *run) phasePublish(ctx context.Context) (progress.Step, error) {
	if r.opts.DryRun {
		return r.planPublish()
	}
	res, err := s3issuer.Publish(ctx, r.c.S3, s3issuer.Options{
		Bucket: r.opts.Bucket, Region: r.opts.Region, Keys: r.keys, KeySetOptions: r.opts.KeySetOptions,
		Adopt: r.opts.Adopt, HTTPClient: r.opts.HTTPClient,
		Private: r.opts.Private, CloudFront: r.c.CloudFront, DeployTimeout: r.opts.DeployTimeout, Emulated: r.opts.Emulated,
		Report: r.sub,
	})
	if err != nil {
		return progress.Step{}, err
	}
	r.result.Issuer = res.Issuer
	return progress.Step{Outcome: summarize(res.Steps), Detail: res.Issuer}, nil
}

func (r *run) planPublish() (progress.Step, error) {
	if r.opts.Private {
		fmt.Fprintf(r.opts.Out, "publish: bucket %s in %s, private, served by a new CloudFront distribution (its address becomes the issuer)\n", r.opts.Bucket, r.opts.Region)
		return progress.Step{Outcome: progress.Skipped, Detail: "dry run"}, nil
	}
	discovery, err := oidc.NewDiscovery(r.result.Issuer, r.keys)
	if err != nil {
		return progress.Step{}, err
	}
	set, err := oidc.KeySet(r.keys, r.opts.KeySetOptions)
	if err != nil {
		return progress.Step{}, err
	}
	part, err := partition.ForRegion(r.opts.Region)
	if err != nil {
		return progress.Step{}, err
	}
	statement := s3issuer.PublicReadStatement(part.Name, r.opts.Bucket)
	for _, doc := range []struct {
		what string
		v    any
	}{
		{"s3://" + r.opts.Bucket + "/" + s3issuer.DiscoveryKey, discovery},
		{"s3://" + r.opts.Bucket + "/" + s3issuer.KeySetKey, set},
		{"bucket policy statement of s3://" + r.opts.Bucket, statement},
	} {
		body, err := s3issuer.Document(doc.v)
		if err != nil {
			return progress.Step{}, err
		}
		fmt.Fprintf(r.opts.Out, "publish: %s\n%s", doc.what, body)
	}
	return progress.Step{Outcome: progress.Skipped, Detail: "dry run: " + r.result.Issuer}, nil
}

// phaseProvider makes sure IAM trusts the issuer.
func (r *run) phaseProvider(ctx context.Context) (progress.Step, error) {
	opts := iamoidc.Options{Issuer: r.result.Issuer, Audiences: r.opts.Audiences, Thumbprint: r.opts.Thumbprint, Report: r.sub}
	if r.opts.DryRun {
		issuer := r.result.Issuer
		if issuer == "" {
			issuer = "(the CloudFront address)"
		}
		fmt.Fprintf(r.opts.Out, "provider: IAM OIDC identity provider %s, client IDs %s\n", issuer, strings.Join(opts.ClientIDs(), ", "))
		return progress.Step{Outcome: progress.Skipped, Detail: "dry run"}, nil
	}
	if err := opts.Validate(); err != nil {
		return progress.Step{}, err
	}
	res, err := iamoidc.Ensure(ctx, r.c.IAM, opts)
	if err != nil {
		return progress.Step{}, err
	}
	r.result.ProviderARN = res.ARN
	return progress.Step{Outcome: summarize(res.Steps), Detail: res.ARN}, nil
}

var errIssuerNotSet = errors.New("the cluster does not sign with the issuer yet")
