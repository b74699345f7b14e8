package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/progress"
)

// iamDefaultRegion signs IAM calls when no region is configured: IAM is
// global, and a region only picks the partition (aws, aws-cn, aws-us-gov).
const iamDefaultRegion = "us-east-1"

// NewAWSCommand returns `irsa aws`, what irsa makes in an AWS account.
func NewAWSCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Make the AWS side of IAM Roles for Service Accounts",
	}
	provider := &cobra.Command{
		Use:   "provider",
		Short: "The IAM OpenID Connect identity provider of the cluster's issuer",
	}
	provider.AddCommand(newProviderCreateCommand())
	cmd.AddCommand(provider)
	return cmd
}

func newProviderCreateCommand() *cobra.Command {
	var opts iamoidc.Options
	var region string
	cmd := &cobra.Command{
		Use:   "create --issuer URL [--audience ID ...] [--thumbprint HEX] [--region REGION]",
		Short: "Make sure IAM has the OIDC identity provider for the issuer",
		Long: `Make sure AWS IAM has exactly one OpenID Connect identity provider for the
issuer, so that AWS STS accepts the cluster's ServiceAccount tokens:

  - client ID sts.amazonaws.com, and each --audience besides;
  - the thumbprint of the last certificate of the chain the issuer's host
    serves on port 443 (verified against the system's roots), or --thumbprint;
    none for S3 and CloudFront hosts, whose certificates IAM checks itself;
  - tagged as irsa's when irsa creates it.

An existing provider for the issuer is completed, never duplicated: missing
client IDs and a new thumbprint are added; client IDs, thumbprints and tags
someone else set are kept. Running it again changes nothing.

IAM is global: --region only picks the partition and the signing region.
Default: the configured region, else ` + iamDefaultRegion + `; for aws-cn or aws-us-gov,
name a region of that partition.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			// Bad flags are reported before any AWS configuration is read.
			if err := opts.Validate(); err != nil {
				return err
			}
			cfg, err := loadAWSConfig(ctx, region, iamDefaultRegion)
			if err != nil {
				return err
			}
			opts.Report = progress.Printer(out)
			res, err := iamoidc.Ensure(ctx, iam.NewFromConfig(cfg), opts)
			var unverified *tls.CertificateVerificationError
			if errors.As(err, &unverified) {
				return fmt.Errorf("%w\n(give a thumbprint with --thumbprint)", err)
			}
			if err != nil {
				return err
			}
			hostPath := strings.TrimPrefix(opts.Issuer, "https://")
			fmt.Fprintf(out, "\nProvider: %s\n", res.ARN)
			fmt.Fprintf(out, "Next: IAM roles that trust this provider for sts:AssumeRoleWithWebIdentity, with conditions on %s:sub (one ServiceAccount) and %s:aud (%s): irsa role create\n",
				hostPath, hostPath, iamoidc.STSAudience)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Issuer, "issuer", "", "issuer URL, exactly as the cluster's --service-account-issuer")
	cmd.Flags().StringArrayVar(&opts.Audiences, "audience", nil, "client ID to allow besides "+iamoidc.STSAudience+" (repeatable)")
	cmd.Flags().StringVar(&opts.Thumbprint, "thumbprint", "", "SHA-1 of the issuer's top certificate, 40 hex digits (default: fetched over TLS)")
	cmd.Flags().StringVar(&region, "region", "", "AWS region picking the partition and signing (default: the configured region, else "+iamDefaultRegion+")")
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}
