package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/deploy"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/s3issuer"
	"github.com/irsa-dev/irsa/internal/setup"
)

// NewSetupCommand returns `irsa setup`, the platform team's command.
func NewSetupCommand() *cobra.Command {
	var kube kubeFlags
	opts := setup.Options{CertMode: deploy.SelfSigned}
	cmd := &cobra.Command{
		Use:   "setup --bucket NAME --region REGION (--from-cluster | --public-key FILE ... | --generate-keys --key-dir DIR)",
		Short: "Set up IAM Roles for Service Accounts for a cluster, in named phases",
		Long: `Set up IAM Roles for Service Accounts for the cluster, in phases:

  keys            the signing keys to publish: the cluster's own (--from-cluster),
                  files (--public-key), or a new pair kept in --key-dir
  publish         the issuer documents in S3 (see irsa oidc publish)
  provider        the IAM OIDC identity provider (see irsa aws provider create)
  cluster-issuer  OpenShift: spec.serviceAccountIssuer of
                  authentication.config.openshift.io/cluster; other clusters:
                  the kube-apiserver flags to set, keeping the old issuer accepted
  webhook         irsa webhook installed from deploy/, certificates by --cert-mode
  verify          a token minted for a ServiceAccount, verified as AWS STS will

Every phase looks before it changes anything: running setup again changes
nothing, and a run cut off after any phase continues where it stopped.
--dry-run prints the plan and the exact documents; --skip-phases leaves
phases out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			if err := opts.Validate(); err != nil {
				return err
			}
			restConfig, err := kube.restConfig()
			if err != nil {
				return err
			}
			var c setup.Clients
			if c.Kube, c.Dynamic, c.Mapper, err = setup.KubeClients(restConfig); err != nil {
				return err
			}
			// Without a bucket only IAM is called, which is global.
			fallback := ""
			if opts.Bucket == "" {
				fallback = iamDefaultRegion
			}
			cfg, err := loadAWSConfig(ctx, opts.Region, fallback)
			if err != nil {
				return err
			}
			opts.Region = cfg.Region
			s3Client := s3.NewFromConfig(cfg, s3issuer.QuietChecksums)
			cf := cloudfront.NewFromConfig(cfg)
			c.S3, c.CloudFront, c.IAM = s3Client, cf, iam.NewFromConfig(cfg)
			opts.HTTPClient = documentClient(s3Client, cmd.ErrOrStderr())
			opts.Emulated = aws.ToString(cf.Options().BaseEndpoint) != ""
			opts.Out = out
			opts.Report = progress.Printer(out)
			res, err := setup.Run(ctx, c, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\nIssuer: %s\n", res.Issuer)
			if res.ProviderARN != "" {
				fmt.Fprintf(out, "Provider: %s\n", res.ProviderARN)
				fmt.Fprintf(out, "Next, for each application: irsa role create --namespace NS --service-account SA --issuer %s ...\n", res.Issuer)
			}
			return nil
		},
	}
	f := cmd.Flags()
	kube.addFlags(f)
	f.StringArrayVar(&opts.KeyFiles, "public-key", nil, "PEM file with signing keys to publish (repeatable)")
	f.BoolVar(&opts.FromCluster, "from-cluster", false, "publish the keys the cluster signs with now (and OpenShift's next keys)")
	f.BoolVar(&opts.GenerateKeys, "generate-keys", false, "make a new signing key pair in --key-dir (kept and reused on the next run)")
	f.StringVar(&opts.KeyDir, "key-dir", "", "directory of the generated key pair")
	f.BoolVar(&opts.KeySetOptions.LegacyEmptyKeyID, "legacy-empty-kid", false, `also publish each key with "kid": "", for tokens from Kubernetes before 1.16`)
	f.StringVar(&opts.Bucket, "bucket", "", "S3 bucket hosting the issuer")
	f.StringVar(&opts.Region, "region", "", "AWS region of the bucket (default: the configured region)")
	f.BoolVar(&opts.Private, "private", false, "keep the bucket private and serve the issuer through CloudFront")
	f.BoolVar(&opts.Adopt, "adopt", false, "publish into an existing bucket irsa did not create")
	f.DurationVar(&opts.DeployTimeout, "deploy-timeout", 25*time.Minute, "with --private: how long to wait for a new distribution")
	f.StringVar(&opts.Issuer, "issuer", "", "issuer URL, when the publish phase is skipped")
	f.StringVar(&opts.ExistingIssuer, "existing-issuer", "", "the issuer the cluster already has and serves (ROSA with STS, EKS): no keys or publish phase; verify checks its documents hold the key the cluster signs with now")
	f.StringArrayVar(&opts.Audiences, "audience", nil, "client ID to allow besides sts.amazonaws.com (repeatable)")
	f.StringVar(&opts.Thumbprint, "thumbprint", "", "the issuer host's certificate thumbprint (default: fetched, or none for S3 and CloudFront)")
	f.StringVar(&opts.CertMode, "cert-mode", opts.CertMode, "who issues the webhook's serving certificate: "+strings.Join(deploy.Modes, ", "))
	f.StringVar(&opts.Image, "image", "", "the webhook's image (default: the manifests' own)")
	f.StringSliceVar(&opts.SkipPhases, "skip-phases", nil, "phases to leave out: "+strings.Join(setup.Phases, ", "))
	f.BoolVar(&opts.DryRun, "dry-run", false, "change nothing: print the plan and the exact documents")
	return cmd
}

// NewTeardownCommand returns `irsa teardown`, which removes what setup made.
func NewTeardownCommand() *cobra.Command {
	var kube kubeFlags
	var opts setup.TeardownOptions
	var region string
	cmd := &cobra.Command{
		Use:   "teardown --bucket NAME --region REGION [--issuer URL]",
		Short: "Remove what irsa setup created, and nothing else",
		Long: `Remove what irsa setup created, and nothing else: the webhook's objects that
carry irsa's labels, the IAM OIDC provider if irsa created it, the issuer
documents and irsa's bucket policy statements, and the bucket if irsa
created it and nothing else is in it. A private issuer's CloudFront
distribution is disabled, and deleted by a run once that has deployed
(minutes later). The webhook's namespace, the cluster's issuer and its
signing keys are kept. Running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			restConfig, err := kube.restConfig()
			if err != nil {
				return err
			}
			var c setup.TeardownClients
			if _, c.Dynamic, c.Mapper, err = setup.KubeClients(restConfig); err != nil {
				return err
			}
			cfg, err := loadAWSConfig(ctx, region, "")
			if err != nil {
				return err
			}
			opts.Region = cfg.Region
			c.S3, c.IAM, c.CloudFront = s3.NewFromConfig(cfg, s3issuer.QuietChecksums), iam.NewFromConfig(cfg), cloudfront.NewFromConfig(cfg)
			opts.Report = progress.Printer(cmd.OutOrStdout())
			return setup.Teardown(ctx, c, opts)
		},
	}
	f := cmd.Flags()
	kube.addFlags(f)
	f.StringVar(&opts.Bucket, "bucket", "", "S3 bucket hosting the issuer")
	f.StringVar(&region, "region", "", "AWS region of the bucket (default: the configured region)")
	f.StringVar(&opts.Issuer, "issuer", "", "issuer URL of the IAM provider (default: the address the bucket is served at, CloudFront's for a private issuer)")
	f.StringVar(&opts.CertMode, "cert-mode", deploy.SelfSigned, "the certificate mode setup used")
	return cmd
}
