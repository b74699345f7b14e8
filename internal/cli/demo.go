package cli

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/demo"
)

// NewDemoCommand returns `irsa demo`.
func NewDemoCommand(ctx context.Context) *cobra.Command {
	opts := demo.Options{Out: os.Stdout}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole chain on a local cluster this machine starts and stops",
		Long: `Start a real kube-apiserver and etcd on 127.0.0.1 (built by "make testbin"),
run the irsa webhook against them, and walk through what a user does: annotate
a ServiceAccount with a role, create a pod, see the role injected, and verify
the token the cluster signs for it. Everything started is stopped at the end;
the exit status is 0 only if every step held.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Out = cmd.OutOrStdout()
			return demo.Run(ctx, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.KeepDir, "keep", false, "keep the cluster's files and logs")
	return cmd
}
