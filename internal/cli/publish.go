package cli

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
)

func newOIDCPublishCommand() *cobra.Command {
	var src keySource
	var opts s3issuer.Options
	cmd := &cobra.Command{
		Use:   "publish --bucket NAME --region REGION (--public-key FILE ... | --from-cluster)",
		Short: "Host the issuer's documents in S3, publicly readable, and check them",
		Long: `Host the issuer's discovery document and key set in an S3 bucket, the way AWS
STS can read them:

  - the bucket is created if needed (tagged as irsa's, ACLs disabled);
  - both documents are uploaded as application/json with a short cache lifetime;
  - a bucket policy makes exactly those two objects public, and the public
    access block allows policies but blocks ACLs: no ACL anywhere;
  - both documents are then read back anonymously, and the issuer and every
    key id checked.

Running it again changes nothing unless the keys changed. It prints the issuer
URL to give kube-apiserver (--service-account-issuer) and the IAM identity
provider. A bucket irsa did not create is used only with --adopt.

--private keeps the bucket private (all public access blocked) and serves the
documents through a CloudFront distribution that reads the bucket with an
origin access control; the bucket policy lets only that distribution read the
two documents. The issuer is then https://<distribution>.cloudfront.net.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			keys, err := src.load(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			opts.Keys = keys
			cfg, err := loadAWSConfig(ctx, opts.Region, "")
			if err != nil {
				return err
			}
			opts.Region = cfg.Region
			client := s3.NewFromConfig(cfg, s3issuer.QuietChecksums)
			opts.HTTPClient = documentClient(client, cmd.ErrOrStderr())
			opts.Report = progress.Printer(out)
			if opts.Private {
				cf := cloudfront.NewFromConfig(cfg)
				opts.CloudFront = cf
				if endpoint := aws.ToString(cf.Options().BaseEndpoint); endpoint != "" {
					opts.Emulated = true
					fmt.Fprintf(cmd.ErrOrStderr(), "CloudFront endpoint %s: reads through CloudFront are not checked\n", endpoint)
				}
			}
			res, err := s3issuer.Publish(ctx, client, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nIssuer: %s\n", res.Issuer)
			fmt.Fprintf(out, "Next: kube-apiserver --service-account-issuer=%s, then irsa aws provider create --issuer %s\n", res.Issuer, res.Issuer)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Bucket, "bucket", "", "S3 bucket to host the issuer in (created if missing)")
	cmd.Flags().StringVar(&opts.Region, "region", "", "AWS region of the bucket (default: the configured region)")
	cmd.Flags().BoolVar(&opts.Adopt, "adopt", false, "publish into an existing bucket irsa did not create")
	cmd.Flags().BoolVar(&opts.Private, "private", false, "keep the bucket private and serve the documents through CloudFront (origin access control); the issuer is CloudFront's address")
	cmd.Flags().DurationVar(&opts.DeployTimeout, "deploy-timeout", 25*time.Minute, "with --private: how long to wait for a new distribution to serve the documents")
	cmd.Flags().BoolVar(&opts.KeySetOptions.LegacyEmptyKeyID, "legacy-empty-kid", false, `also publish each key with "kid": "", for tokens from Kubernetes before 1.16`)
	src.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("bucket")
	return cmd
}
