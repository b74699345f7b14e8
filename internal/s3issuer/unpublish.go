package s3issuer

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

// UnpublishAPI is the part of the S3 client Unpublish uses.
type UnpublishAPI interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketTagging(context.Context, *s3.GetBucketTaggingInput, ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	DeleteBucketPolicy(context.Context, *s3.DeleteBucketPolicyInput, ...func(*s3.Options)) (*s3.DeleteBucketPolicyOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// Unpublish takes back what Publish did in bucket: the two documents and
// irsa's policy statements go, and the bucket too when irsa created it and
// nothing else is in it. Objects and statements of anyone else stay.
func Unpublish(ctx context.Context, api UnpublishAPI, bucket string, report func(progress.Step)) error {
	name := "bucket " + bucket
	_, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket})
	var notFound *s3types.NotFound
	if errors.As(err, &notFound) {
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "not there"})
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	owned, err := ownedBucket(ctx, api, bucket)
	if err != nil {
		return err
	}
	policy, err := bucketPolicy(ctx, api, bucket)
	if err != nil {
		return err
	}
	remaining, ours, empty, err := RemoveStatements(policy, PolicySid, CloudFrontPolicySid)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// The documents are irsa's only in a bucket irsa made or published
	// into: another tool's issuer in a bucket named by mistake stays.
	if !owned && !ours {
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept with its documents: irsa neither created it nor published into it"})
		return nil
	}
	for _, key := range []string{DiscoveryKey, KeySetKey} {
		_, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		if _, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(key)}); err != nil {
			return fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
		}
		report(progress.Step{Name: "object " + key, Outcome: progress.Deleted})
	}
	if ours {
		if empty {
			_, err = api.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket})
		} else {
			_, err = api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &remaining})
		}
		if err != nil {
			return fmt.Errorf("remove irsa's statements from the policy of %s: %w", name, err)
		}
		report(progress.Step{Name: "bucket policy statements of irsa", Outcome: progress.Deleted})
	}
	if !owned {
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: irsa did not create it"})
		return nil
	}
	list, err := api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, MaxKeys: aws.Int32(1)})
	if err != nil {
		return fmt.Errorf("list %s: %w", name, err)
	}
	if len(list.Contents) > 0 {
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: it holds objects irsa did not write"})
		return nil
	}
	if _, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	report(progress.Step{Name: name, Outcome: progress.Deleted})
	return nil
}

// CloudFrontTeardownAPI is the part of the CloudFront client
// UnpublishCloudFront uses.
type CloudFrontTeardownAPI interface {
	distributionFinder
	GetDistribution(context.Context, *cloudfront.GetDistributionInput, ...func(*cloudfront.Options)) (*cloudfront.GetDistributionOutput, error)
	UpdateDistribution(context.Context, *cloudfront.UpdateDistributionInput, ...func(*cloudfront.Options)) (*cloudfront.UpdateDistributionOutput, error)
	DeleteDistribution(context.Context, *cloudfront.DeleteDistributionInput, ...func(*cloudfront.Options)) (*cloudfront.DeleteDistributionOutput, error)
	ListTagsForResource(context.Context, *cloudfront.ListTagsForResourceInput, ...func(*cloudfront.Options)) (*cloudfront.ListTagsForResourceOutput, error)
	ListOriginAccessControls(context.Context, *cloudfront.ListOriginAccessControlsInput, ...func(*cloudfront.Options)) (*cloudfront.ListOriginAccessControlsOutput, error)
	GetOriginAccessControl(context.Context, *cloudfront.GetOriginAccessControlInput, ...func(*cloudfront.Options)) (*cloudfront.GetOriginAccessControlOutput, error)
	DeleteOriginAccessControl(context.Context, *cloudfront.DeleteOriginAccessControlInput, ...func(*cloudfront.Options)) (*cloudfront.DeleteOriginAccessControlOutput, error)
}

// UnpublishCloudFront takes back the distribution and origin access
// control a private publish made for bucket. CloudFront deletes only a
// disabled distribution whose change has deployed, which takes minutes: the
// first run disables it, a later run deletes it. A distribution without
// irsa's tag is left alone.
func UnpublishCloudFront(ctx context.Context, api CloudFrontTeardownAPI, bucket string, report func(progress.Step)) error {
	name := "CloudFront distribution for s3://" + bucket
	found, err := findDistribution(ctx, api, bucket)
	if err != nil {
		return err
	}
	if found == nil {
		// A run cut off after deleting the distribution left its origin
		// access control.
		return deleteOriginAccessControl(ctx, api, bucket, report)
	}
	tags, err := api.ListTagsForResource(ctx, &cloudfront.ListTagsForResourceInput{Resource: found.ARN})
	if err != nil {
		return fmt.Errorf("read the tags of %s: %w", name, err)
	}
	owned := map[string]string{}
	if tags.Tags != nil {
		for _, t := range tags.Tags.Items {
			owned[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	if !ownership.Owned(owned) {
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: irsa did not create it"})
		return nil
	}
	d, err := api.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: found.Id})
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	enabled := aws.ToBool(d.Distribution.DistributionConfig.Enabled)
	deployed := aws.ToString(d.Distribution.Status) == "Deployed"
	switch {
	case enabled:
		cfg := d.Distribution.DistributionConfig
		cfg.Enabled = aws.Bool(false)
		if _, err := api.UpdateDistribution(ctx, &cloudfront.UpdateDistributionInput{Id: found.Id, IfMatch: d.ETag, DistributionConfig: cfg}); err != nil {
			return fmt.Errorf("disable %s: %w", name, err)
		}
		report(progress.Step{Name: name, Outcome: progress.Updated, Detail: "disabled; CloudFront deletes it only once that has deployed: run teardown again in a few minutes"})
		return nil
	case !deployed:
		report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "disabling is still deploying: run teardown again in a few minutes"})
		return nil
	}
	if _, err := api.DeleteDistribution(ctx, &cloudfront.DeleteDistributionInput{Id: found.Id, IfMatch: d.ETag}); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	report(progress.Step{Name: name, Outcome: progress.Deleted, Detail: aws.ToString(found.DomainName)})
	return deleteOriginAccessControl(ctx, api, bucket, report)
}

func deleteOriginAccessControl(ctx context.Context, api CloudFrontTeardownAPI, bucket string, report func(progress.Step)) error {
	name := originAccessControlName(bucket)
	in := &cloudfront.ListOriginAccessControlsInput{}
	for {
		out, err := api.ListOriginAccessControls(ctx, in)
		if err != nil {
			return fmt.Errorf("list CloudFront origin access controls: %w", err)
		}
		if out.OriginAccessControlList == nil {
			return nil
		}
		for _, oac := range out.OriginAccessControlList.Items {
			if aws.ToString(oac.Name) != name {
				continue
			}
			got, err := api.GetOriginAccessControl(ctx, &cloudfront.GetOriginAccessControlInput{Id: oac.Id})
			if err != nil {
				return fmt.Errorf("read origin access control %s: %w", name, err)
			}
			if _, err := api.DeleteOriginAccessControl(ctx, &cloudfront.DeleteOriginAccessControlInput{Id: oac.Id, IfMatch: got.ETag}); err != nil {
				return fmt.Errorf("delete origin access control %s: %w", name, err)
			}
			report(progress.Step{Name: "CloudFront origin access control " + name, Outcome: progress.Deleted})
			return nil
		}
		if !aws.ToBool(out.OriginAccessControlList.IsTruncated) {
			return nil
		}
		in.Marker = out.OriginAccessControlList.NextMarker
	}
}
