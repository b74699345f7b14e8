package s3issuer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

var moto *motoserver.Server

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, &moto)) }

// newS3 resets the emulator and returns a client for region.
func newS3(t *testing.T, region string) *s3.Client {
	t.Helper()
	cfg := moto.Fresh(t, region)
	return s3.NewFromConfig(cfg, s3issuer.QuietChecksums)
}

func newKeys(t *testing.T) (rsaKey, ecKey crypto.PublicKey) {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &r.PublicKey, &e.PublicKey
}

func options(bucket, region string, keys ...crypto.PublicKey) s3issuer.Options {
	return s3issuer.Options{Bucket: bucket, Region: region, Keys: keys, HTTPClient: moto.HTTPClient()}
}

// anonymousGet reads url without credentials, as STS does.
func anonymousGet(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func outcomes(r s3issuer.Result) map[string]progress.Outcome {
	out := map[string]progress.Outcome{}
	for _, s := range r.Steps {
		out[s.Name] = s.Outcome
	}
	return out
}

func TestPublish(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "irsa-issuer-test"
	rsaKey, ecKey := newKeys(t)

	res, err := s3issuer.Publish(ctx, api, options(bucket, "us-east-1", rsaKey, ecKey))
	if err != nil {
		t.Fatal(err)
	}
	if res.Issuer != "https://irsa-issuer-test.s3.us-east-1.amazonaws.com" {
		t.Errorf("issuer %q", res.Issuer)
	}
	got := outcomes(res)
	for name, want := range map[string]progress.Outcome{
		"bucket " + bucket:                              progress.Created,
		"object .well-known/openid-configuration":       progress.Created,
		"object keys.json":                              progress.Created,
		"bucket policy statement " + s3issuer.PolicySid: progress.Created,
		"anonymous read of both documents":              progress.Checked,
	} {
		if got[name] != want {
			t.Errorf("step %q: %q, want %q (all: %v)", name, got[name], want, got)
		}
	}

	// Both documents are public, with JSON content type and a short cache
	// lifetime; anything else in the bucket stays private.
	for _, key := range []string{s3issuer.DiscoveryKey, s3issuer.KeySetKey} {
		resp := anonymousGet(t, moto.URL+"/"+bucket+"/"+key)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != s3issuer.CacheControl {
			t.Errorf("%s: %s, Content-Type %q, Cache-Control %q", key, resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("private.txt"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if resp := anonymousGet(t, moto.URL+"/"+bucket+"/private.txt"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another object is readable anonymously: %s", resp.Status)
	}

	// No ACL grants anything to anyone but the owner.
	acl, err := api.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	objACL, err := api.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String(bucket), Key: aws.String(s3issuer.KeySetKey)})
	if err != nil {
		t.Fatal(err)
	}
	for _, grants := range [][]s3types.Grant{acl.Grants, objACL.Grants} {
		if len(grants) != 1 || grants[0].Permission != s3types.PermissionFullControl || grants[0].Grantee.Type != s3types.TypeCanonicalUser {
			t.Errorf("ACL grants beyond the owner: %+v", grants)
		}
	}
	own, err := api.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String(bucket)})
	if err != nil || own.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("ownership controls: %+v, %v", own, err)
	}
	pab, err := api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if c := pab.PublicAccessBlockConfiguration; !*c.BlockPublicAcls || !*c.IgnorePublicAcls || *c.BlockPublicPolicy || *c.RestrictPublicBuckets {
		t.Errorf("public access block %+v", c)
	}
	policy, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil || !strings.Contains(*policy.Policy, s3issuer.PolicySid) {
		t.Errorf("bucket policy %v, %v", policy, err)
	}
	tags, err := api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil || !slices.ContainsFunc(tags.TagSet, func(tag s3types.Tag) bool { return *tag.Key == ownership.TagKey && *tag.Value == ownership.TagValue }) {
		t.Errorf("bucket tags %+v, %v", tags, err)
	}

	// The second run changes nothing: not even an object is rewritten.
	before := etags(t, api, bucket)
	res, err = s3issuer.Publish(ctx, api, options(bucket, "us-east-1", ecKey, rsaKey))
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() {
		t.Errorf("second run changed: %+v", res.Steps)
	}
	if after := etags(t, api, bucket); !maps(before, after) {
		t.Errorf("objects rewritten: %v then %v", before, after)
	}
}

func etags(t *testing.T, api *s3.Client, bucket string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, key := range []string{s3issuer.DiscoveryKey, s3issuer.KeySetKey} {
		h, err := api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		out[key] = aws.ToString(h.ETag) + " " + h.LastModified.String()
	}
	return out
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestPublishRotation adds the next key: only the key set changes, and it
// then holds both keys.
func TestPublishRotation(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "eu-west-1")
	const bucket = "irsa-rotation"
	current, next := newKeys(t)
	if _, err := s3issuer.Publish(ctx, api, options(bucket, "eu-west-1", current)); err != nil {
		t.Fatal(err)
	}
	loc, err := api.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil || loc.LocationConstraint != "eu-west-1" {
		t.Errorf("bucket location %+v, %v", loc, err)
	}
	res, err := s3issuer.Publish(ctx, api, options(bucket, "eu-west-1", current, next))
	if err != nil {
		t.Fatal(err)
	}
	got := outcomes(res)
	if got["object keys.json"] != progress.Updated || got["bucket "+bucket] != progress.Unchanged {
		t.Errorf("rotation steps: %v", got)
	}
	// ES256 joins RS256 in the discovery document.
	if got["object .well-known/openid-configuration"] != progress.Updated {
		t.Errorf("discovery document not updated: %v", got)
	}
	want, err := oidc.KeySet([]crypto.PublicKey{current, next}, oidc.KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s3issuer.CheckPublished(ctx, http.DefaultClient, moto.URL+"/"+bucket, res.Issuer, want); err != nil {
		t.Error(err)
	}
}

// TestPublishLeavesForeignBucketsAlone: a bucket irsa did not create is
// used only when the user says so, and even then its other policy
// statements and objects stay.
func TestPublishLeavesForeignBucketsAlone(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "someone-elses"
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	theirs := `{"Version":"2012-10-17","Statement":[{"Sid":"Theirs","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::someone-elses"}]}`
	if _, err := api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(theirs)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("theirs.txt"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	key, _ := newKeys(t)

	_, err := s3issuer.Publish(ctx, api, options(bucket, "us-east-1", key))
	if err == nil || !strings.Contains(err.Error(), "--adopt") {
		t.Fatalf("foreign bucket: err = %v", err)
	}
	policy, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil || *policy.Policy != theirs {
		t.Fatalf("policy changed without --adopt: %v, %v", aws.ToString(policy.Policy), err)
	}

	opts := options(bucket, "us-east-1", key)
	opts.Adopt = true
	if _, err := s3issuer.Publish(ctx, api, opts); err != nil {
		t.Fatal(err)
	}
	policy, err = api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil || !strings.Contains(*policy.Policy, `"Sid":"Theirs"`) || !strings.Contains(*policy.Policy, s3issuer.PolicySid) {
		t.Errorf("merged policy %s, %v", aws.ToString(policy.Policy), err)
	}
	if _, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("theirs.txt")}); err != nil {
		t.Errorf("their object: %v", err)
	}
	tags, err := api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err == nil && len(tags.TagSet) > 0 {
		t.Errorf("adopted bucket tagged as irsa's: %+v", tags.TagSet)
	}
}

func TestPublishWrongRegion(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "eu-west-1")
	key, _ := newKeys(t)
	if _, err := s3issuer.Publish(ctx, api, options("irsa-west", "eu-west-1", key)); err != nil {
		t.Fatal(err)
	}
	east := newClientNoReset(t, "us-east-1")
	_, err := s3issuer.Publish(ctx, east, options("irsa-west", "us-east-1", key))
	if err == nil || !strings.Contains(err.Error(), "eu-west-1") {
		t.Errorf("wrong region: err = %v", err)
	}
}

func newClientNoReset(t *testing.T, region string) *s3.Client {
	cfg, err := moto.Config(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, s3issuer.QuietChecksums)
}

// TestCheckPublished finds what breaks an issuer after publishing.
func TestCheckPublished(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "irsa-broken"
	key, next := newKeys(t)
	res, err := s3issuer.Publish(ctx, api, options(bucket, "us-east-1", key))
	if err != nil {
		t.Fatal(err)
	}
	base := moto.URL + "/" + bucket
	want, _ := oidc.KeySet([]crypto.PublicKey{key, next}, oidc.KeySetOptions{})
	if err := s3issuer.CheckPublished(ctx, http.DefaultClient, base, res.Issuer, want); err == nil || !strings.Contains(err.Error(), "lacks key id") {
		t.Errorf("missing next key: err = %v", err)
	}
	if err := s3issuer.CheckPublished(ctx, http.DefaultClient, base, res.Issuer+"/", want); err == nil || !strings.Contains(err.Error(), "byte for byte") {
		t.Errorf("issuer with slash: err = %v", err)
	}
	if _, err := api.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if err := s3issuer.CheckPublished(ctx, http.DefaultClient, base, res.Issuer, want); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("no policy: err = %v", err)
	}
	// Publishing again repairs it.
	res, err = s3issuer.Publish(ctx, api, options(bucket, "us-east-1", key, next))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed() {
		t.Error("repair reported no change")
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	key, _ := newKeys(t)
	for _, tc := range []struct{ bucket, region, want string }{
		{"my.bucket", "us-east-1", "no dots"},
		{"My-Bucket", "us-east-1", "lower-case"},
		{"ab", "us-east-1", "3 to 63"},
		{"good-bucket", "useast1", "not an AWS region"},
	} {
		// No client: bad input must fail before any AWS call.
		_, err := s3issuer.Publish(context.Background(), nil, options(tc.bucket, tc.region, key))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s in %s: err = %v, want %q", tc.bucket, tc.region, err, tc.want)
		}
	}
	_, err := s3issuer.Publish(context.Background(), nil, options("good-bucket", "us-east-1"))
	if !errors.Is(err, oidc.ErrNoKeys) {
		t.Errorf("no keys: err = %v", err)
	}
}

func TestIssuerURLPartitions(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":     "https://b-1.s3.us-east-1.amazonaws.com",
		"cn-north-1":    "https://b-1.s3.cn-north-1.amazonaws.com.cn",
		"us-gov-west-1": "https://b-1.s3.us-gov-west-1.amazonaws.com",
	} {
		got, err := s3issuer.IssuerURL("b-1", region)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", region, got, err, want)
		}
	}
	st := s3issuer.PublicReadStatement("aws-cn", "b-1")
	if r := fmt.Sprint(st["Resource"]); !strings.Contains(r, "arn:aws-cn:s3:::b-1/keys.json") {
		t.Errorf("resource %s", r)
	}
}

// newCloudFront returns a CloudFront client of the emulator.
func newCloudFront(t *testing.T) *cloudfront.Client {
	t.Helper()
	cfg, err := moto.Config(context.Background(), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return cloudfront.NewFromConfig(cfg)
}

// TestPublishPrivate serves the documents through CloudFront with an
// origin access control. moto creates the distribution but serves no
// content at its address, and lets anyone read what any Allow statement
// covers, whatever its principal: so the reads are not checked here, the
// documents that decide them are.
func TestPublishPrivate(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	cf := newCloudFront(t)
	const bucket = "irsa-private"
	key, _ := newKeys(t)

	// It was public before: going private takes that back.
	if _, err := s3issuer.Publish(ctx, api, options(bucket, "us-east-1", key)); err != nil {
		t.Fatal(err)
	}
	opts := options(bucket, "us-east-1", key)
	opts.Private, opts.CloudFront, opts.Emulated = true, cf, true
	res, err := s3issuer.Publish(ctx, api, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Issuer, "https://") || !strings.HasSuffix(res.Issuer, ".cloudfront.net") {
		t.Fatalf("issuer %q is not CloudFront's", res.Issuer)
	}
	got := outcomes(res)
	if got["anonymous reads: refused by S3, served by CloudFront"] != progress.Skipped || got["CloudFront distribution for s3://"+bucket] != progress.Created {
		t.Errorf("steps %v", got)
	}

	// The distribution reads the bucket. (moto does not return the origin
	// access control of an origin, so that it is set is not checked here.)
	dists, err := cf.ListDistributions(ctx, &cloudfront.ListDistributionsInput{})
	if err != nil || len(dists.DistributionList.Items) != 1 {
		t.Fatalf("distributions %+v, %v", dists, err)
	}
	d := dists.DistributionList.Items[0]
	dc, err := cf.GetDistributionConfig(ctx, &cloudfront.GetDistributionConfigInput{Id: d.Id})
	if err != nil {
		t.Fatal(err)
	}
	origin := dc.DistributionConfig.Origins.Items[0]
	if aws.ToString(origin.DomainName) != bucket+".s3.us-east-1.amazonaws.com" {
		t.Errorf("origin %+v", origin)
	}
	if dc.DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy != cftypes.ViewerProtocolPolicyHttpsOnly {
		t.Errorf("viewer protocol %s", dc.DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy)
	}

	oacs, err := cf.ListOriginAccessControls(ctx, &cloudfront.ListOriginAccessControlsInput{})
	if err != nil || len(oacs.OriginAccessControlList.Items) != 1 || aws.ToString(oacs.OriginAccessControlList.Items[0].Name) != "irsa-"+bucket {
		t.Errorf("origin access controls %+v, %v", oacs, err)
	}

	// Only that distribution may read, only the two documents.
	policy, err := api.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if p := *policy.Policy; !strings.Contains(p, s3issuer.CloudFrontPolicySid) || !strings.Contains(p, aws.ToString(d.ARN)) || strings.Contains(p, `"`+s3issuer.PolicySid+`"`) {
		t.Errorf("bucket policy %s", p)
	}
	pab, err := api.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if c := pab.PublicAccessBlockConfiguration; !*c.BlockPublicAcls || !*c.IgnorePublicAcls || !*c.BlockPublicPolicy || !*c.RestrictPublicBuckets {
		t.Errorf("public access block %+v", c)
	}
	obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3issuer.DiscoveryKey)})
	if err != nil {
		t.Fatal(err)
	}
	var d0 oidc.Discovery
	if err := json.NewDecoder(obj.Body).Decode(&d0); err != nil || d0.Issuer != res.Issuer {
		t.Errorf("discovery issuer %q, %v; want %q", d0.Issuer, err, res.Issuer)
	}
	obj.Body.Close()

	// The second run finds the same distribution and changes nothing.
	again, err := s3issuer.Publish(ctx, api, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || again.Issuer != res.Issuer {
		t.Errorf("second run: %+v", again)
	}
}

// TestUnpublishCloudFront disables the distribution a private publish
// made, then deletes it and its origin access control on the next run.
func TestUnpublishCloudFront(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	cf := newCloudFront(t)
	const bucket = "irsa-private-gone"
	key, _ := newKeys(t)
	opts := options(bucket, "us-east-1", key)
	opts.Private, opts.CloudFront, opts.Emulated = true, cf, true
	published, err := s3issuer.Publish(ctx, api, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Teardown finds the issuer (and so the IAM provider) by it.
	if issuer, err := s3issuer.PrivateIssuer(ctx, cf, bucket); err != nil || issuer != published.Issuer {
		t.Errorf("PrivateIssuer = %q, %v; want %q", issuer, err, published.Issuer)
	}
	var steps []progress.Step
	report := func(s progress.Step) { steps = append(steps, s) }
	for run, want := range []progress.Outcome{progress.Updated, progress.Deleted} {
		steps = nil
		if err := s3issuer.UnpublishCloudFront(ctx, cf, bucket, report); err != nil {
			t.Fatal(err)
		}
		if len(steps) == 0 || steps[0].Outcome != want {
			t.Fatalf("run %d: %+v, want %s", run+1, steps, want)
		}
	}
	oacs, err := cf.ListOriginAccessControls(ctx, &cloudfront.ListOriginAccessControlsInput{})
	if err != nil || len(oacs.OriginAccessControlList.Items) != 0 {
		t.Errorf("origin access controls left: %+v, %v", oacs, err)
	}
	steps = nil
	if err := s3issuer.UnpublishCloudFront(ctx, cf, bucket, report); err != nil || len(steps) != 0 {
		t.Errorf("third run: %+v, %v", steps, err)
	}
}

// TestUnpublishKeepsAnotherToolsIssuer: teardown pointed at a bucket that
// serves an issuer irsa did not publish leaves its documents alone.
func TestUnpublishKeepsAnotherToolsIssuer(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "kops-issuer"
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{s3issuer.DiscoveryKey, s3issuer.KeySetKey} {
		if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	var steps []progress.Step
	if err := s3issuer.Unpublish(ctx, api, bucket, func(s progress.Step) { steps = append(steps, s) }); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{s3issuer.DiscoveryKey, s3issuer.KeySetKey} {
		if _, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
			t.Errorf("%s of another tool deleted: %v (steps %+v)", key, err, steps)
		}
	}
}

// TestPublishResumesAfterCreate: a run cut off between creating and
// tagging its bucket leaves an empty, untagged bucket; the next run takes
// it as its own.
func TestPublishResumesAfterCreate(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "irsa-cut-off"
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	key, _ := newKeys(t)
	res, err := s3issuer.Publish(ctx, api, options(bucket, "us-east-1", key))
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res)["bucket "+bucket]; got != progress.Updated {
		t.Errorf("bucket step %s", got)
	}
	tags, err := api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil || len(tags.TagSet) == 0 {
		t.Errorf("bucket not tagged: %+v, %v", tags, err)
	}
}

// TestPublishRefusesToWakePublicStatements: adopting a bucket whose policy
// has a public statement would make it effective once policies may be
// public.
func TestPublishRefusesToWakePublicStatements(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	const bucket = "old-website"
	if _, err := api.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	stale := `{"Version":"2012-10-17","Statement":[{"Sid":"OldSite","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::old-website/site/*"}]}`
	if _, err := api.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(stale)}); err != nil {
		t.Fatal(err)
	}
	key, _ := newKeys(t)
	opts := options(bucket, "us-east-1", key)
	opts.Adopt = true
	if _, err := s3issuer.Publish(ctx, api, opts); err == nil || !strings.Contains(err.Error(), "OldSite") {
		t.Errorf("err = %v, want a refusal naming the public statement", err)
	}
}

// TestPublishPrivateAfterHalfTeardown: a distribution teardown disabled is
// not quietly reused by publish.
func TestPublishPrivateAfterHalfTeardown(t *testing.T) {
	ctx := context.Background()
	api := newS3(t, "us-east-1")
	cf := newCloudFront(t)
	const bucket = "irsa-half-gone"
	key, _ := newKeys(t)
	opts := options(bucket, "us-east-1", key)
	opts.Private, opts.CloudFront, opts.Emulated = true, cf, true
	if _, err := s3issuer.Publish(ctx, api, opts); err != nil {
		t.Fatal(err)
	}
	if err := s3issuer.UnpublishCloudFront(ctx, cf, bucket, func(progress.Step) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3issuer.Publish(ctx, api, opts); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("err = %v, want the disabled distribution named", err)
	}
}
