package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/irsa-dev/irsa/internal/s3issuer"
)

// loadAWSConfig reads the AWS configuration the way the aws CLI does:
// credentials from the standard chain, endpoints from AWS_ENDPOINT_URL_*
// and the shared config. region overrides the configured region;
// fallback, when not empty, stands in for a region configured nowhere.
func loadAWSConfig(ctx context.Context, region, fallback string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if fallback != "" {
		opts = append(opts, config.WithDefaultRegion(fallback))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, fmt.Errorf("no AWS region: pass --region or set AWS_REGION")
	}
	return cfg, nil
}

// documentClient returns the client that reads published issuer documents
// anonymously: for an S3 endpoint that is not AWS's, one that reads them
// from that endpoint, path-style (notes says so); else nil, a plain client.
func documentClient(client *s3.Client, notes io.Writer) *http.Client {
	endpoint := strings.TrimSuffix(aws.ToString(client.Options().BaseEndpoint), "/")
	if endpoint == "" {
		return nil
	}
	fmt.Fprintf(notes, "S3 endpoint %s: the issuer's documents are read from there\n", endpoint)
	return s3issuer.EndpointClient(endpoint)
}
