// Command irsa: IAM Roles for Service Accounts on any Kubernetes or
// OpenShift cluster.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/irsa-dev/irsa/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.NewRootCommand(ctx).Execute()
	stop()
	if err != nil {
		os.Exit(1)
	}
}
