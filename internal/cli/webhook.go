package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/webhook"
)

// WebhookRunner runs the webhook with parsed options.
type WebhookRunner func(ctx context.Context, opts *webhook.Options) error

// NewWebhookCommand returns `irsa webhook`.
func NewWebhookCommand(ctx context.Context, run WebhookRunner) *cobra.Command {
	opts := webhook.NewOptions()
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Serve the pod identity admission webhook",
		Long: `Serve the mutating admission webhook that gives pods the AWS identity of their
ServiceAccount: a projected token volume, its mount, and the variables the
AWS SDKs read. A drop-in for amazon-eks-pod-identity-webhook: same
annotations and flag names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			return run(ctx, opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runWebhook(ctx context.Context, opts *webhook.Options) error {
	return webhook.Run(ctx, opts, opts.NewLogger(os.Stderr))
}
