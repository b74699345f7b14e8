package s3issuer

import (
	"net/http"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// virtualHostedS3 matches the public address of an S3 bucket.
var virtualHostedS3 = regexp.MustCompile(`^([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.s3[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// EndpointClient returns an HTTP client that reads
// https://BUCKET.s3.REGION.amazonaws.com/KEY from endpoint/BUCKET/KEY
// instead, path-style and without credentials: how anyone would read a
// public object from an S3-compatible endpoint that is not AWS's, such as
// an emulator. Every other URL is fetched as it is.
func EndpointClient(endpoint string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &endpointRewriter{endpoint: endpoint, next: http.DefaultTransport}}
}

type endpointRewriter struct {
	endpoint string
	next     http.RoundTripper
}

func (r *endpointRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	m := virtualHostedS3.FindStringSubmatch(req.URL.Hostname())
	if m == nil || req.URL.Scheme != "https" {
		return r.next.RoundTrip(req)
	}
	target, err := req.URL.Parse(r.endpoint + "/" + m[1] + req.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.URL = target
	req.Host = target.Host
	return r.next.RoundTrip(req)
}

// QuietChecksums is an S3 client option that stops the SDK logging, for
// every small object read, that it came without a checksum: S3 sends one
// only for objects uploaded with one.
func QuietChecksums(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }
