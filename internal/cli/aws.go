package cli

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
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
