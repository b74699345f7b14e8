package s3issuer

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

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
	out, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	if err != nil && apiErrorCode(err) != "NoSuchBucketPolicy" {
		return fmt.Errorf("read the policy of %s: %w", name, err)
	}
	if err == nil {
		policy, changed, empty, err := RemoveStatements(aws.ToString(out.Policy), PolicySid, CloudFrontPolicySid)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", name, err)
		case changed && empty:
			_, err = api.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: &bucket})
		case changed:
			_, err = api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &policy})
		}
		if err != nil {
			return fmt.Errorf("remove irsa's statements from the policy of %s: %w", name, err)
		}
		if changed {
			report(progress.Step{Name: "bucket policy statements of irsa", Outcome: progress.Deleted})
		}
	}
	owned, err := ownedBucket(ctx, api, bucket)
	if err != nil {
		return err
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
