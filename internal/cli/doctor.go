package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/doctor"
	"github.com/irsa-dev/irsa/internal/mutate"
)

// errUnhealthy makes `irsa doctor` exit non-zero after printing its report.
var errUnhealthy = errors.New("the chain is broken: see the problems above")

// NewDoctorCommand returns `irsa doctor`.
func NewDoctorCommand() *cobra.Command {
	var kube kubeFlags
	var opts doctor.Options
	var output, region string
	cmd := &cobra.Command{
		Use:   "doctor -n NAMESPACE (--pod NAME | --service-account NAME)",
		Short: "Find the broken link between a pod and its IAM role",
		Long: `Check, in order, every link between a pod (or a ServiceAccount) and the IAM
role it should get: the ServiceAccount's annotation, the pod's age and
mutation, the webhook, a token minted for the ServiceAccount, the issuer's
documents as AWS STS reads them, the IAM OIDC provider and its audiences, the
role's trust policy evaluated against the token, the role's policies, and
finally a real AssumeRoleWithWebIdentity. Each check prints ok, problem or
not checked; each problem its cause and the fix. The exit code is 0 only
when every check passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if (opts.Pod == "") == (opts.ServiceAccount == "") {
				return errors.New("give exactly one of --pod and --service-account")
			}
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			client, err := kube.client()
			if err != nil {
				return err
			}
			cfg, err := loadAWSConfig(ctx, region, iamDefaultRegion)
			if err != nil {
				return err
			}
			c := doctor.Clients{Kube: client, IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg)}
			report := doctor.Run(ctx, c, opts)
			if output == "json" {
				if err := printJSON(cmd.OutOrStdout(), report); err != nil {
					return err
				}
			} else {
				printReport(cmd.OutOrStdout(), report)
			}
			if !report.Healthy {
				cmd.SilenceErrors = output == "json"
				return errUnhealthy
			}
			return nil
		},
	}
	f := cmd.Flags()
	kube.addFlags(f)
	f.StringVarP(&opts.Namespace, "namespace", "n", "default", "namespace of the pod or ServiceAccount")
	f.StringVar(&opts.Pod, "pod", "", "the pod to examine")
	f.StringVar(&opts.ServiceAccount, "service-account", "", "the ServiceAccount to examine")
	f.StringVar(&opts.AnnotationPrefix, "annotation-prefix", mutate.DefaultAnnotationPrefix, "the webhook's --annotation-prefix")
	f.StringVar(&opts.MappingNamespace, "mapping-namespace", "irsa-system", "namespace of the webhook's mapping ConfigMap (--watch-config-map), read when a ServiceAccount has no annotation")
	f.StringVarP(&output, "output", "o", "text", "text or json")
	f.StringVar(&opts.Action, "action", "", "a call the pod makes, such as s3:PutObject: the role's policies are evaluated for it")
	f.StringVar(&opts.Resource, "resource", "", "the ARN the --action call is on (default *)")
	f.StringVar(&region, "region", "", "AWS region for STS and IAM (default: the configured region, else "+iamDefaultRegion+")")
	return cmd
}

// printReport writes one line per check, and the cause and fix of each
// problem under it.
func printReport(w io.Writer, r doctor.Report) {
	for _, c := range r.Checks {
		line := fmt.Sprintf("%-12s %s", c.Status, c.Name)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(w, line)
		if c.Cause != "" {
			fmt.Fprintf(w, "             cause: %s\n", c.Cause)
		}
		if c.Fix != "" {
			fmt.Fprintf(w, "             fix:   %s\n", c.Fix)
		}
	}
}
