// Package s3issuer hosts an OIDC issuer's two documents in an S3 bucket:
// it creates the bucket, uploads the documents, makes exactly those two
// objects publicly readable with a bucket policy (never an ACL), and checks
// that anyone can read them, as AWS STS will.
package s3issuer

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/go-jose/go-jose/v4"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/partition"
	"github.com/irsa-dev/irsa/internal/progress"
)

// S3API is the part of the S3 client publishing uses.
type S3API interface {
	HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	CreateBucket(context.Context, *s3.CreateBucketInput, ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	GetBucketTagging(context.Context, *s3.GetBucketTaggingInput, ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	PutBucketTagging(context.Context, *s3.PutBucketTaggingInput, ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error)
	GetBucketOwnershipControls(context.Context, *s3.GetBucketOwnershipControlsInput, ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error)
	PutBucketOwnershipControls(context.Context, *s3.PutBucketOwnershipControlsInput, ...func(*s3.Options)) (*s3.PutBucketOwnershipControlsOutput, error)
	GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error)
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// CacheControl is set on both documents: short, so a key rotation reaches
// every reader within minutes.
const CacheControl = "max-age=300"

// Object keys of the two documents, as the issuer URL's paths name them.
var (
	DiscoveryKey = strings.TrimPrefix(oidc.DiscoveryPath, "/")
	KeySetKey    = strings.TrimPrefix(oidc.KeySetPath, "/")
)

// PolicySid names the bucket policy statement irsa owns; other statements
// in the policy are kept as they are.
const PolicySid = "IrsaPublicIssuerDocuments"

// Options say what to publish where.
type Options struct {
	Bucket string
	Region string
	// Keys are every current and next signing key.
	Keys          []crypto.PublicKey
	KeySetOptions oidc.KeySetOptions
	// Adopt allows publishing into a bucket irsa did not create. Its
	// settings are changed to irsa's; nothing in it is deleted.
	Adopt bool
	// HTTPClient makes the anonymous reads of the issuer URL; nil means a
	// plain client. For an S3 endpoint that is not AWS's, EndpointClient.
	HTTPClient *http.Client
	// Report, when set, is told of each step as it ends.
	Report func(progress.Step)

	// Private serves the documents through CloudFront with an origin
	// access control; the bucket stays private and CloudFront's address is
	// the issuer.
	Private    bool
	CloudFront CloudFrontAPI
	// DeployTimeout bounds the wait for a new distribution to serve the
	// documents; zero checks once.
	DeployTimeout time.Duration
	// Emulated says the endpoints are an AWS emulator, which serves no
	// content at CloudFront addresses and ignores the principal of bucket
	// policy statements: the private mode's read checks are then skipped
	// and reported as such.
	Emulated bool
}

// Result is what Publish did.
type Result struct {
	// Issuer is the issuer URL to give kube-apiserver, the IAM identity
	// provider and trust policies.
	Issuer string
	Steps  []progress.Step
}

// Changed reports whether any step changed something in AWS.
func (r Result) Changed() bool { return progress.Changed(r.Steps) }

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// ValidateBucket rejects a name S3 refuses, and names with dots, whose
// virtual-hosted https address no certificate of S3's matches.
func ValidateBucket(name string) error {
	switch {
	case strings.Contains(name, "."):
		return fmt.Errorf("bucket %q: no dots, please: https://%s.s3.<region>.amazonaws.com would not match S3's certificate, and STS refuses the issuer", name, name)
	case !bucketName.MatchString(name) || strings.HasPrefix(name, "xn--"):
		return fmt.Errorf("bucket %q: S3 bucket names are 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit", name)
	}
	return nil
}

// IssuerURL is the issuer served by bucket in region: its virtual-hosted
// https address.
func IssuerURL(bucket, region string) (string, error) {
	p, err := partition.ForRegion(region)
	if err != nil {
		return "", err
	}
	return "https://" + bucket + ".s3." + region + "." + p.DNSSuffix, nil
}

// Publish makes sure the bucket serves the issuer's documents to anyone,
// directly or through CloudFront, and checks it does. Each run changes only
// what differs from the wanted state, so a second run changes nothing.
func Publish(ctx context.Context, api S3API, opts Options) (Result, error) {
	p := &publisher{api: api, opts: opts}
	if err := ValidateBucket(opts.Bucket); err != nil {
		return p.result, err
	}
	var err error
	if p.partition, err = partition.ForRegion(opts.Region); err != nil {
		return p.result, err
	}
	if p.keySet, err = oidc.KeySet(opts.Keys, opts.KeySetOptions); err != nil {
		return p.result, err
	}
	if len(p.keySet.Keys) == 0 {
		return p.result, oidc.ErrNoKeys
	}
	var steps []func(context.Context) (progress.Step, error)
	if opts.Private {
		if opts.CloudFront == nil {
			return p.result, errors.New("private issuer: no CloudFront client")
		}
		// CloudFront's address is the issuer, so the distribution comes
		// before the documents; the bucket policy lets only it read them.
		steps = []func(context.Context) (progress.Step, error){
			p.bucket, p.ownershipControls, p.originAccessControl, p.distribution,
			p.discoveryObject, p.keySetObject,
			p.policy(CloudFrontPolicySid, PolicySid), p.publicAccessBlock(blockAllPublicAccess),
			p.verifyPrivate,
		}
	} else {
		p.result.Issuer, _ = IssuerURL(opts.Bucket, opts.Region)
		// The public access block must allow policies before a public
		// policy can be set.
		steps = []func(context.Context) (progress.Step, error){
			p.bucket, p.ownershipControls, p.publicAccessBlock(publicPolicyOnly),
			p.discoveryObject, p.keySetObject,
			p.policy(PolicySid, CloudFrontPolicySid),
			p.verify,
		}
	}
	for _, step := range steps {
		s, err := step(ctx)
		if err != nil {
			return p.result, err
		}
		p.result.Steps = append(p.result.Steps, s)
		if opts.Report != nil {
			opts.Report(s)
		}
	}
	return p.result, nil
}

type publisher struct {
	api       S3API
	opts      Options
	partition partition.Partition
	keySet    jose.JSONWebKeySet
	result    Result
	// Private mode: what the CloudFront steps found or made.
	oacID, distributionARN string
}

func (p *publisher) bucket(ctx context.Context) (progress.Step, error) {
	name := "bucket " + p.opts.Bucket
	head, err := p.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &p.opts.Bucket})
	var notFound *s3types.NotFound
	switch {
	case errors.As(err, &notFound):
		return p.createBucket(ctx, name)
	case awserr.Code(err) == "Forbidden" || awserr.Code(err) == "AccessDenied":
		return progress.Step{}, fmt.Errorf("%s exists but these credentials cannot use it: it belongs to another account (bucket names are global: choose another) or they lack s3:ListBucket: %w", name, err)
	case err != nil:
		return progress.Step{}, fmt.Errorf("%s: %w", name, err)
	}
	if r := aws.ToString(head.BucketRegion); r != "" && r != p.opts.Region {
		return progress.Step{}, fmt.Errorf("%s is in %s, not %s: the issuer URL names the bucket's region; run again with --region %s", name, r, p.opts.Region, r)
	}
	owned, err := p.owned(ctx)
	if err != nil {
		return progress.Step{}, err
	}
	if owned {
		return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
	}
	if resumed, err := p.resumeCreatedBucket(ctx); err != nil || resumed {
		return progress.Step{Name: name, Outcome: progress.Updated, Detail: "tagged as irsa's: an interrupted run had created it"}, err
	}
	if !p.opts.Adopt {
		return progress.Step{}, fmt.Errorf("%s exists and irsa did not create it (no %s tag): choose another bucket name, or pass --adopt to publish into it (its public access block, ownership controls and irsa's policy statement are set; nothing in it is deleted)", name, ownership.TagKey)
	}
	if !p.opts.Private {
		// The public access block will let policies through: a public
		// statement someone else left, inert until now, would come alive.
		current, err := bucketPolicy(ctx, p.api, p.opts.Bucket)
		if err != nil {
			return progress.Step{}, err
		}
		if public := PublicStatements(current, PolicySid); len(public) > 0 {
			return progress.Step{}, fmt.Errorf("%s has public policy statements (%s) that its public access block may be keeping inert; publishing lets public policies through for the whole bucket: remove them, choose another bucket, or use --private", name, strings.Join(public, ", "))
		}
	}
	return progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "adopted: not created by irsa"}, nil
}

// resumeCreatedBucket tags the bucket as irsa's when it is exactly what an
// interrupted run leaves behind between creating and tagging it: no tags,
// no objects, no policy.
func (p *publisher) resumeCreatedBucket(ctx context.Context) (bool, error) {
	_, err := p.api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &p.opts.Bucket})
	if awserr.Code(err) != "NoSuchTagSet" {
		return false, nil
	}
	list, err := p.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &p.opts.Bucket, MaxKeys: aws.Int32(1)})
	if err != nil {
		return false, fmt.Errorf("list bucket %s: %w", p.opts.Bucket, err)
	}
	policy, err := bucketPolicy(ctx, p.api, p.opts.Bucket)
	if err != nil || len(list.Contents) > 0 || policy != "" {
		return false, err
	}
	return true, p.tagBucket(ctx)
}

// policyReader reads a bucket's policy.
type policyReader interface {
	GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
}

// bucketPolicy is the bucket's policy, or "" when it has none.
func bucketPolicy(ctx context.Context, api policyReader, bucket string) (string, error) {
	out, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: &bucket})
	switch {
	case awserr.Code(err) == "NoSuchBucketPolicy":
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read the policy of bucket %s: %w", bucket, err)
	}
	return aws.ToString(out.Policy), nil
}

func (p *publisher) createBucket(ctx context.Context, name string) (progress.Step, error) {
	in := &s3.CreateBucketInput{
		Bucket:          &p.opts.Bucket,
		ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced,
	}
	// us-east-1 is the one region that refuses its own name as location.
	if p.opts.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(p.opts.Region)}
	}
	_, err := p.api.CreateBucket(ctx, in)
	var taken *s3types.BucketAlreadyExists
	if errors.As(err, &taken) {
		return progress.Step{}, fmt.Errorf("%s belongs to another AWS account (bucket names are global): choose another name", name)
	}
	if err != nil {
		return progress.Step{}, fmt.Errorf("create %s in %s: %w", name, p.opts.Region, err)
	}
	if err := p.tagBucket(ctx); err != nil {
		return progress.Step{}, err
	}
	return progress.Step{Name: name, Outcome: progress.Created, Detail: p.opts.Region}, nil
}

// tagBucket marks the bucket as irsa's.
func (p *publisher) tagBucket(ctx context.Context) error {
	// A private issuer's address is not known yet: CloudFront names it.
	var tagSet []s3types.Tag
	for k, v := range ownership.Tags(p.result.Issuer) {
		tagSet = append(tagSet, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := p.api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: &p.opts.Bucket, Tagging: &s3types.Tagging{TagSet: tagSet}}); err != nil {
		return fmt.Errorf("tag bucket %s: %w", p.opts.Bucket, err)
	}
	return nil
}

func (p *publisher) owned(ctx context.Context) (bool, error) {
	return ownedBucket(ctx, p.api, p.opts.Bucket)
}

// tagReader reads a bucket's tags.
type tagReader interface {
	GetBucketTagging(context.Context, *s3.GetBucketTaggingInput, ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
}

// ownedBucket reports whether irsa created bucket, by its tags.
func ownedBucket(ctx context.Context, api tagReader, bucket string) (bool, error) {
	out, err := api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: &bucket})
	if awserr.Code(err) == "NoSuchTagSet" {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the tags of bucket %s: %w", bucket, err)
	}
	tags := map[string]string{}
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return ownership.Owned(tags), nil
}

// ownershipControls disables ACLs on the bucket: the bucket owner owns
// every object and only policies grant access.
func (p *publisher) ownershipControls(ctx context.Context) (progress.Step, error) {
	name := "ACLs disabled (object ownership BucketOwnerEnforced)"
	out, err := p.api.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: &p.opts.Bucket})
	if err != nil && awserr.Code(err) != "OwnershipControlsNotFoundError" {
		return progress.Step{}, fmt.Errorf("read the ownership controls of bucket %s: %w", p.opts.Bucket, err)
	}
	if err == nil && out.OwnershipControls != nil && len(out.OwnershipControls.Rules) == 1 &&
		out.OwnershipControls.Rules[0].ObjectOwnership == s3types.ObjectOwnershipBucketOwnerEnforced {
		return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
	}
	_, err = p.api.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{
		Bucket: &p.opts.Bucket,
		OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{
			{ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced},
		}},
	})
	if err != nil {
		return progress.Step{}, fmt.Errorf("disable ACLs on bucket %s: %w", p.opts.Bucket, err)
	}
	return progress.Step{Name: name, Outcome: progress.Updated}, nil
}

// publicAccess is what a bucket's public access block lets through.
type publicAccess struct{ acls, policies bool }

// publicPolicyOnly blocks public ACLs but lets a bucket policy make the two
// documents public.
var publicPolicyOnly = publicAccess{acls: true, policies: false}

func (a publicAccess) config() *s3types.PublicAccessBlockConfiguration {
	return &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls:       aws.Bool(a.acls),
		IgnorePublicAcls:      aws.Bool(a.acls),
		BlockPublicPolicy:     aws.Bool(a.policies),
		RestrictPublicBuckets: aws.Bool(a.policies),
	}
}

func (p *publisher) publicAccessBlock(want publicAccess) func(context.Context) (progress.Step, error) {
	name := "public access block (ACLs blocked, policies allowed)"
	if want.policies {
		name = "public access block (all public access blocked)"
	}
	return func(ctx context.Context) (progress.Step, error) {
		out, err := p.api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &p.opts.Bucket})
		if err != nil && awserr.Code(err) != "NoSuchPublicAccessBlockConfiguration" {
			return progress.Step{}, fmt.Errorf("read the public access block of bucket %s: %w", p.opts.Bucket, err)
		}
		if err == nil && samePublicAccessBlock(out.PublicAccessBlockConfiguration, want.config()) {
			return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
		}
		_, err = p.api.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &p.opts.Bucket, PublicAccessBlockConfiguration: want.config()})
		if err != nil {
			return progress.Step{}, fmt.Errorf("set the public access block of bucket %s: %w", p.opts.Bucket, err)
		}
		return progress.Step{Name: name, Outcome: progress.Updated}, nil
	}
}

func samePublicAccessBlock(a, b *s3types.PublicAccessBlockConfiguration) bool {
	return a != nil &&
		aws.ToBool(a.BlockPublicAcls) == aws.ToBool(b.BlockPublicAcls) &&
		aws.ToBool(a.IgnorePublicAcls) == aws.ToBool(b.IgnorePublicAcls) &&
		aws.ToBool(a.BlockPublicPolicy) == aws.ToBool(b.BlockPublicPolicy) &&
		aws.ToBool(a.RestrictPublicBuckets) == aws.ToBool(b.RestrictPublicBuckets)
}

// Document renders v as the bytes irsa publishes: indented JSON ending in
// a newline, the same bytes `irsa oidc keys` and `discovery` print.
func Document(v any) ([]byte, error) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func (p *publisher) discoveryObject(ctx context.Context) (progress.Step, error) {
	discovery, err := oidc.NewDiscovery(p.result.Issuer, p.opts.Keys)
	if err != nil {
		return progress.Step{}, err
	}
	return p.object(ctx, DiscoveryKey, discovery)
}

func (p *publisher) keySetObject(ctx context.Context) (progress.Step, error) {
	return p.object(ctx, KeySetKey, p.keySet)
}

func (p *publisher) object(ctx context.Context, key string, v any) (progress.Step, error) {
	name := "object " + key
	body, err := Document(v)
	if err != nil {
		return progress.Step{}, err
	}
	got, err := p.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.opts.Bucket, Key: &key})
	var noKey *s3types.NoSuchKey
	outcome := progress.Updated
	switch {
	case errors.As(err, &noKey):
		outcome = progress.Created
	case err != nil:
		return progress.Step{}, fmt.Errorf("read %s: %w", name, err)
	default:
		old, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil {
			return progress.Step{}, fmt.Errorf("read %s: %w", name, err)
		}
		if bytes.Equal(old, body) && aws.ToString(got.ContentType) == "application/json" && aws.ToString(got.CacheControl) == CacheControl {
			return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
		}
	}
	_, err = p.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:       &p.opts.Bucket,
		Key:          &key,
		Body:         bytes.NewReader(body),
		ContentType:  aws.String("application/json"),
		CacheControl: aws.String(CacheControl),
	})
	if err != nil {
		return progress.Step{}, fmt.Errorf("upload %s: %w", name, err)
	}
	return progress.Step{Name: name, Outcome: outcome}, nil
}

// policy puts irsa's statement sid into the bucket policy and drops the
// statement of the other mode, which irsa also owns.
func (p *publisher) policy(sid, drop string) func(context.Context) (progress.Step, error) {
	name := "bucket policy statement " + sid
	return func(ctx context.Context) (progress.Step, error) {
		current, err := bucketPolicy(ctx, p.api, p.opts.Bucket)
		if err != nil {
			return progress.Step{}, err
		}
		statement := PublicReadStatement(p.partition.Name, p.opts.Bucket)
		if sid == CloudFrontPolicySid {
			statement = CloudFrontReadStatement(p.partition.Name, p.opts.Bucket, p.distributionARN)
		}
		policy, changed, err := MergePolicy(current, statement, drop)
		if err != nil {
			return progress.Step{}, fmt.Errorf("bucket %s: %w", p.opts.Bucket, err)
		}
		if !changed {
			return progress.Step{Name: name, Outcome: progress.Unchanged}, nil
		}
		_, err = p.api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &p.opts.Bucket, Policy: &policy})
		if awserr.Code(err) == "AccessDenied" {
			return progress.Step{}, fmt.Errorf("set the policy of bucket %s: access denied. If S3 Block Public Access is on for the whole account, it refuses public bucket policies: allow public policies for the account or publish with --private (CloudFront): %w", p.opts.Bucket, err)
		}
		if err != nil {
			return progress.Step{}, fmt.Errorf("set the policy of bucket %s: %w", p.opts.Bucket, err)
		}
		if current == "" {
			return progress.Step{Name: name, Outcome: progress.Created}, nil
		}
		return progress.Step{Name: name, Outcome: progress.Updated}, nil
	}
}

// verify fetches both documents anonymously, as STS does, and checks them.
func (p *publisher) verify(ctx context.Context) (progress.Step, error) {
	if err := CheckPublished(ctx, p.httpClient(), p.result.Issuer, p.result.Issuer, p.keySet); err != nil {
		return progress.Step{}, err
	}
	return progress.Step{Name: "anonymous read of both documents", Outcome: progress.Checked, Detail: p.result.Issuer}, nil
}

func (p *publisher) httpClient() *http.Client {
	if p.opts.HTTPClient != nil {
		return p.opts.HTTPClient
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// CheckPublished fetches the discovery document and the key set from
// base without credentials and checks that the discovery document names
// issuer, byte for byte, and that the key set holds every key of want.
func CheckPublished(ctx context.Context, client *http.Client, base, issuer string, want jose.JSONWebKeySet) error {
	var d oidc.Discovery
	if err := fetchJSON(ctx, client, base+oidc.DiscoveryPath, &d); err != nil {
		return err
	}
	if d.Issuer != issuer {
		return fmt.Errorf("%s%s names issuer %q, want %q: STS compares them byte for byte", base, oidc.DiscoveryPath, d.Issuer, issuer)
	}
	if d.JWKSURI != issuer+oidc.KeySetPath {
		return fmt.Errorf("%s%s has jwks_uri %q, want %q", base, oidc.DiscoveryPath, d.JWKSURI, issuer+oidc.KeySetPath)
	}
	var got jose.JSONWebKeySet
	if err := fetchJSON(ctx, client, base+oidc.KeySetPath, &got); err != nil {
		return err
	}
	for _, k := range want.Keys {
		if len(got.Key(k.KeyID)) == 0 {
			return fmt.Errorf("%s%s lacks key id %q: tokens signed with that key will be refused", base, oidc.KeySetPath, k.KeyID)
		}
	}
	return nil
}

func fetchJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("anonymous read of %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("anonymous read of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("anonymous read of %s: %s: STS cannot read it either (is the bucket policy statement %s in place?)", url, resp.Status, PolicySid)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("anonymous read of %s: not the JSON document expected: %w", url, err)
	}
	return nil
}
