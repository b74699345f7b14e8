package s3issuer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

// CloudFrontAPI is the part of the CloudFront client the private mode uses.
type CloudFrontAPI interface {
	ListOriginAccessControls(context.Context, *cloudfront.ListOriginAccessControlsInput, ...func(*cloudfront.Options)) (*cloudfront.ListOriginAccessControlsOutput, error)
	CreateOriginAccessControl(context.Context, *cloudfront.CreateOriginAccessControlInput, ...func(*cloudfront.Options)) (*cloudfront.CreateOriginAccessControlOutput, error)
	ListDistributions(context.Context, *cloudfront.ListDistributionsInput, ...func(*cloudfront.Options)) (*cloudfront.ListDistributionsOutput, error)
	GetDistributionConfig(context.Context, *cloudfront.GetDistributionConfigInput, ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error)
	GetDistribution(context.Context, *cloudfront.GetDistributionInput, ...func(*cloudfront.Options)) (*cloudfront.GetDistributionOutput, error)
	CreateDistributionWithTags(context.Context, *cloudfront.CreateDistributionWithTagsInput, ...func(*cloudfront.Options)) (*cloudfront.CreateDistributionWithTagsOutput, error)
}

// CloudFrontPolicySid names the bucket policy statement that lets the
// distribution, and only it, read the two documents.
const CloudFrontPolicySid = "IrsaCloudFrontIssuerDocuments"

// cachingOptimized is CloudFront's managed cache policy that follows the
// origin's Cache-Control, so the documents' short lifetime holds.
const cachingOptimized = "658327ea-f89d-4fab-a63d-7e88639e58f6"

// originAccessControlName names the origin access control irsa makes for
// bucket; the name is how a second run finds it.
func originAccessControlName(bucket string) string { return "irsa-" + bucket }

// distributionComment marks the distribution irsa makes for bucket; the
// comment is how a second run finds it.
func distributionComment(bucket string) string { return "irsa OIDC issuer for s3://" + bucket }

// CloudFrontReadStatement lets the distribution distributionARN read the
// two documents through its origin access control, and nobody else.
func CloudFrontReadStatement(partitionName, bucket, distributionARN string) Statement {
	arn := "arn:" + partitionName + ":s3:::" + bucket + "/"
	return Statement{
		"Sid":       CloudFrontPolicySid,
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": "cloudfront.amazonaws.com"},
		"Action":    "s3:GetObject",
		"Resource":  []any{arn + DiscoveryKey, arn + KeySetKey},
		"Condition": map[string]any{"StringEquals": map[string]any{"AWS:SourceArn": distributionARN}},
	}
}

// blockAllPublicAccess is the private mode's public access block: the
// bucket is private, CloudFront reads it as a service.
var blockAllPublicAccess = publicAccess{acls: true, policies: true}

// originAccessControl finds or creates the origin access control through
// which CloudFront signs its requests to the bucket.
func (p *publisher) originAccessControl(ctx context.Context) (progress.Step, error) {
	name := originAccessControlName(p.opts.Bucket)
	step := "CloudFront origin access control " + name
	in := &cloudfront.ListOriginAccessControlsInput{}
	for {
		out, err := p.opts.CloudFront.ListOriginAccessControls(ctx, in)
		if err != nil {
			return progress.Step{}, fmt.Errorf("list CloudFront origin access controls: %w", err)
		}
		if out.OriginAccessControlList == nil {
			break
		}
		for _, oac := range out.OriginAccessControlList.Items {
			if aws.ToString(oac.Name) == name {
				p.oacID = aws.ToString(oac.Id)
				return progress.Step{Name: step, Outcome: progress.Unchanged}, nil
			}
		}
		if !aws.ToBool(out.OriginAccessControlList.IsTruncated) {
			break
		}
		in.Marker = out.OriginAccessControlList.NextMarker
	}
	out, err := p.opts.CloudFront.CreateOriginAccessControl(ctx, &cloudfront.CreateOriginAccessControlInput{
		OriginAccessControlConfig: &cftypes.OriginAccessControlConfig{
			Name:                          aws.String(name),
			Description:                   aws.String("irsa: CloudFront reads the OIDC issuer documents in s3://" + p.opts.Bucket),
			OriginAccessControlOriginType: cftypes.OriginAccessControlOriginTypesS3,
			SigningBehavior:               cftypes.OriginAccessControlSigningBehaviorsAlways,
			SigningProtocol:               cftypes.OriginAccessControlSigningProtocolsSigv4,
		},
	})
	if err != nil {
		return progress.Step{}, fmt.Errorf("create %s: %w", step, err)
	}
	p.oacID = aws.ToString(out.OriginAccessControl.Id)
	return progress.Step{Name: step, Outcome: progress.Created}, nil
}

// distribution finds or creates the CloudFront distribution serving the
// bucket over https; its address is the issuer.
func (p *publisher) distribution(ctx context.Context) (progress.Step, error) {
	comment := distributionComment(p.opts.Bucket)
	step := "CloudFront distribution for s3://" + p.opts.Bucket
	found, err := findDistribution(ctx, p.opts.CloudFront, p.opts.Bucket)
	if err != nil {
		return progress.Step{}, err
	}
	if found != nil {
		enabled := found.Enabled
		if enabled == nil {
			// Summaries from emulators leave it out.
			d, err := p.opts.CloudFront.GetDistribution(ctx, &cloudfront.GetDistributionInput{Id: found.Id})
			if err != nil {
				return progress.Step{}, fmt.Errorf("read %s: %w", step, err)
			}
			enabled = d.Distribution.DistributionConfig.Enabled
		}
		if !aws.ToBool(enabled) {
			return progress.Step{}, fmt.Errorf("%s %s is disabled, as irsa teardown leaves it before deleting it: run irsa teardown again to finish, then publish; or enable it again in the CloudFront console", step, aws.ToString(found.Id))
		}
		p.distributionARN = aws.ToString(found.ARN)
		p.result.Issuer = "https://" + aws.ToString(found.DomainName)
		return progress.Step{Name: step, Outcome: progress.Unchanged, Detail: aws.ToString(found.DomainName)}, nil
	}
	origin := p.opts.Bucket + ".s3." + p.opts.Region + "." + p.partition.DNSSuffix
	const originID = "irsa-issuer-bucket"
	var tags []cftypes.Tag
	for k, v := range ownership.Tags("") {
		tags = append(tags, cftypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := p.opts.CloudFront.CreateDistributionWithTags(ctx, &cloudfront.CreateDistributionWithTagsInput{
		DistributionConfigWithTags: &cftypes.DistributionConfigWithTags{
			DistributionConfig: &cftypes.DistributionConfig{
				CallerReference: aws.String("irsa-" + p.opts.Bucket),
				Comment:         aws.String(comment),
				Enabled:         aws.Bool(true),
				PriceClass:      cftypes.PriceClassPriceClass100,
				HttpVersion:     cftypes.HttpVersionHttp2,
				Origins: &cftypes.Origins{Quantity: aws.Int32(1), Items: []cftypes.Origin{{
					Id:                    aws.String(originID),
					DomainName:            aws.String(origin),
					OriginAccessControlId: aws.String(p.oacID),
					// An origin access control replaces the legacy identity.
					S3OriginConfig: &cftypes.S3OriginConfig{OriginAccessIdentity: aws.String("")},
				}}},
				DefaultCacheBehavior: &cftypes.DefaultCacheBehavior{
					TargetOriginId:       aws.String(originID),
					ViewerProtocolPolicy: cftypes.ViewerProtocolPolicyHttpsOnly,
					CachePolicyId:        aws.String(cachingOptimized),
					Compress:             aws.Bool(true),
				},
				ViewerCertificate: &cftypes.ViewerCertificate{CloudFrontDefaultCertificate: aws.Bool(true)},
			},
			Tags: &cftypes.Tags{Items: tags},
		},
	})
	if err != nil {
		return progress.Step{}, fmt.Errorf("create %s: %w", step, err)
	}
	created := out.Distribution
	p.distributionARN = aws.ToString(created.ARN)
	p.result.Issuer = "https://" + aws.ToString(created.DomainName)
	return progress.Step{Name: step, Outcome: progress.Created, Detail: aws.ToString(created.DomainName)}, nil
}

// distributionFinder lists distributions and reads their configuration.
type distributionFinder interface {
	ListDistributions(context.Context, *cloudfront.ListDistributionsInput, ...func(*cloudfront.Options)) (*cloudfront.ListDistributionsOutput, error)
	GetDistributionConfig(context.Context, *cloudfront.GetDistributionConfigInput, ...func(*cloudfront.Options)) (*cloudfront.GetDistributionConfigOutput, error)
}

// findDistribution returns the distribution irsa made for bucket, or nil.
func findDistribution(ctx context.Context, api distributionFinder, bucket string) (*cftypes.DistributionSummary, error) {
	comment := distributionComment(bucket)
	in := &cloudfront.ListDistributionsInput{}
	for {
		out, err := api.ListDistributions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list CloudFront distributions: %w", err)
		}
		if out.DistributionList == nil {
			return nil, nil
		}
		for _, d := range out.DistributionList.Items {
			c, err := commentOf(ctx, api, d)
			if err != nil {
				return nil, err
			}
			if c == comment {
				return &d, nil
			}
		}
		if !aws.ToBool(out.DistributionList.IsTruncated) {
			return nil, nil
		}
		in.Marker = out.DistributionList.NextMarker
	}
}

// commentOf is the comment of the distribution d summarizes; a summary
// without one (emulators leave it out) is read in full.
func commentOf(ctx context.Context, api distributionFinder, d cftypes.DistributionSummary) (string, error) {
	if d.Comment != nil {
		return *d.Comment, nil
	}
	out, err := api.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: d.Id})
	if err != nil {
		return "", fmt.Errorf("read CloudFront distribution %s: %w", aws.ToString(d.Id), err)
	}
	return aws.ToString(out.DistributionConfig.Comment), nil
}

// verifyPrivate checks that S3 refuses anonymous reads of the documents
// and that CloudFront serves them, waiting for a new distribution to
// deploy.
func (p *publisher) verifyPrivate(ctx context.Context) (progress.Step, error) {
	name := "anonymous reads: refused by S3, served by CloudFront"
	if p.opts.Emulated {
		return progress.Step{Name: name, Outcome: progress.Skipped, Detail: "an emulator neither serves CloudFront content nor applies policy principals"}, nil
	}
	direct, _ := IssuerURL(p.opts.Bucket, p.opts.Region)
	client := p.httpClient()
	for _, path := range []string{oidc.DiscoveryPath, oidc.KeySetPath} {
		if status, err := anonymousStatus(ctx, client, direct+path); err != nil {
			return progress.Step{}, err
		} else if status == http.StatusOK {
			return progress.Step{}, fmt.Errorf("%s%s is readable anonymously straight from S3, not only through CloudFront: remove the bucket's public statements or ACLs", direct, path)
		}
	}
	deadline := time.Now().Add(p.opts.DeployTimeout)
	for {
		err := CheckPublished(ctx, client, p.result.Issuer, p.result.Issuer, p.keySet)
		if err == nil {
			return progress.Step{Name: name, Outcome: progress.Checked, Detail: p.result.Issuer}, nil
		}
		if time.Now().After(deadline) {
			return progress.Step{}, fmt.Errorf("%w (a new CloudFront distribution takes minutes to deploy: run again later)", err)
		}
		select {
		case <-ctx.Done():
			return progress.Step{}, ctx.Err()
		case <-time.After(15 * time.Second):
		}
	}
}

// anonymousStatus is the HTTP status an anonymous GET of url gets.
func anonymousStatus(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("anonymous read of %s: %w", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// PrivateIssuer returns the issuer a private publish into bucket serves,
// https://DOMAIN of its CloudFront distribution, or "" when there is none.
func PrivateIssuer(ctx context.Context, api CloudFrontTeardownAPI, bucket string) (string, error) {
	found, err := findDistribution(ctx, api, bucket)
	if err != nil || found == nil {
		return "", err
	}
	return "https://" + aws.ToString(found.DomainName), nil
}
