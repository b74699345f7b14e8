// Package cli builds the irsa command tree. Each command binds its flags to
// one options struct and hands it to a run function, so tests can replace
// the run function and check what the flags parsed to.
package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// NewRootCommand returns the irsa command with every subcommand.
func NewRootCommand(ctx context.Context) *cobra.Command {
	root := &cobra.Command{
		Use:   "irsa",
		Short: "IAM Roles for Service Accounts on any Kubernetes or OpenShift cluster",
		Long: `irsa gives each pod exactly the AWS IAM role its ServiceAccount is bound to,
through a projected ServiceAccount token and OIDC federation with AWS STS.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetContext(ctx)
	root.AddCommand(NewSetupCommand(), NewTeardownCommand(), NewDoctorCommand())
	root.AddCommand(NewRoleCommand())
	root.AddCommand(NewWebhookCommand(ctx, runWebhook), NewOIDCCommand(), NewTokenCommand(), NewDemoCommand(ctx), NewAWSCommand())
	return root
}
