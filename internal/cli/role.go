package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/progress"
	"github.com/irsa-dev/irsa/internal/role"
)

// NewRoleCommand returns `irsa role`, the application team's command: an
// IAM role for one ServiceAccount.
func NewRoleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Give one ServiceAccount an IAM role of its own",
	}
	cmd.AddCommand(newRoleCreateCommand(), newRoleDeleteCommand(), newRoleTrustCommand())
	return cmd
}

// roleTarget is what both role commands are told: where, which
// ServiceAccount, and how to print.
type roleTarget struct {
	kube   kubeFlags
	region string
	output string
}

// addFlags binds the flags both commands have: those naming the
// ServiceAccount and the role go to opts.
func (r *roleTarget) addFlags(fs *pflag.FlagSet, opts *role.Options) {
	fs.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the ServiceAccount")
	fs.StringVar(&opts.ServiceAccount, "service-account", "", "name of the ServiceAccount")
	fs.StringVar(&opts.RoleName, "role-name", "", "IAM role name (default irsa-NAMESPACE-SERVICEACCOUNT, shortened with a hash past 64 characters)")
	fs.StringVar(&opts.AnnotationPrefix, "annotation-prefix", mutate.DefaultAnnotationPrefix, "prefix of the ServiceAccount annotations, as the webhook's --annotation-prefix")
	fs.BoolVar(&opts.DryRun, "dry-run", false, "read everything, change nothing, and print what would be done")
	fs.StringVarP(&r.output, "output", "o", "text", "text, json or yaml (json and yaml print the result on stdout and the steps on stderr)")
	fs.StringVar(&r.region, "region", "", "AWS region picking the partition and signing (default: the configured region, else "+iamDefaultRegion+")")
	r.kube.addFlags(fs)
}

// clients returns the IAM client and the cluster's client.
func (r *roleTarget) clients(ctx context.Context) (*iam.Client, kubernetes.Interface, error) {
	cfg, err := loadAWSConfig(ctx, r.region, iamDefaultRegion)
	if err != nil {
		return nil, nil, err
	}
	client, err := r.kube.client()
	if err != nil {
		return nil, nil, err
	}
	return iam.NewFromConfig(cfg), client, nil
}

// progressTo returns where the steps are printed: with the text output,
// the output itself; else stderr, so stdout holds only the document.
func (r *roleTarget) progressTo(cmd *cobra.Command) io.Writer {
	if r.output == "text" {
		return cmd.OutOrStdout()
	}
	return cmd.ErrOrStderr()
}

func (r *roleTarget) checkOutput() error {
	switch r.output {
	case "text", "json", "yaml":
		return nil
	}
	return fmt.Errorf("--output %q: want text, json or yaml", r.output)
}

// print writes v as JSON or YAML; it reports false for the text output,
// which each command prints itself.
func (r *roleTarget) print(w io.Writer, v any) (bool, error) {
	switch r.output {
	case "json":
		return true, printJSON(w, v)
	case "yaml":
		out, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(out)
		return true, err
	}
	return false, nil
}

func newRoleCreateCommand() *cobra.Command {
	var opts role.Options
	var target roleTarget
	var policyFile string
	cmd := &cobra.Command{
		Use:   "create -n NAMESPACE --service-account NAME (--policy-arn ARN ... | --policy-file FILE | --s3-bucket NAME [--read-only])",
		Short: "Create or update the IAM role of a ServiceAccount, and annotate the ServiceAccount",
		Long: `Give one ServiceAccount an IAM role of its own:

  - the role trusts the cluster's IAM OIDC identity provider for exactly this
    ServiceAccount: conditions ISSUER:sub = system:serviceaccount:NS:NAME and
    ISSUER:aud = the audience, never a wildcard;
  - its permissions: managed policies (--policy-arn, repeatable), a policy
    document of your own (--policy-file, inline policy irsa-policy), and/or
    least privilege on one S3 bucket (--s3-bucket, inline policy
    irsa-s3-BUCKET: list the bucket, get, put and delete its objects, or only
    get with --read-only);
  - the ServiceAccount is created if missing, and annotated
    PREFIX/role-arn with the role's ARN.

The issuer is read from the cluster (/.well-known/openid-configuration)
unless --issuer is given; its IAM identity provider must exist (irsa aws
provider create). Everything is read before anything changes. An existing
irsa role is updated: statements trusting this cluster's provider are
replaced by the exact one, statements for other principals (other clusters)
are kept. A role irsa did not create is refused unless --adopt. Policies and
annotations someone else set are never removed. The command warns past 90%
of IAM's 2048-character trust policy quota and stops before passing it.
Running it again changes nothing.

A ServiceAccount annotation changes nothing for pods already running: the
command lists the pods of the ServiceAccount that must restart.`,
		Example: `  irsa role create -n shop --service-account cart --s3-bucket shop-carts
  irsa role create -n shop --service-account reports --s3-bucket shop-data --read-only --dry-run -o yaml
  irsa role create -n shop --service-account api --policy-arn arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := target.checkOutput(); err != nil {
				return err
			}
			if policyFile != "" {
				data, err := os.ReadFile(policyFile)
				if err != nil {
					return fmt.Errorf("--policy-file: %w", err)
				}
				opts.PolicyDocument = string(data)
			}
			// Bad flags are reported before AWS or the cluster is asked.
			if err := opts.Validate(); err != nil {
				return err
			}
			api, client, err := target.clients(ctx)
			if err != nil {
				return err
			}
			opts.Report = progress.Printer(target.progressTo(cmd))
			res, err := role.Create(ctx, api, client, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if printed, err := target.print(out, res); printed {
				return err
			}
			return printCreated(out, res)
		},
	}
	f := cmd.Flags()
	target.addFlags(f, &opts)
	f.StringVar(&opts.Issuer, "issuer", "", "the cluster's ServiceAccount issuer URL (default: read from the cluster)")
	f.StringVar(&opts.Audience, "audience", iamoidc.STSAudience, "token audience the trust policy requires (the identity provider must accept it)")
	f.StringArrayVar(&opts.PolicyARNs, "policy-arn", nil, "managed policy to attach (repeatable)")
	f.StringVar(&policyFile, "policy-file", "", "JSON permissions policy to put on the role as inline policy "+role.PolicyName)
	f.StringVar(&opts.S3Bucket, "s3-bucket", "", "S3 bucket the ServiceAccount may use, with a least-privilege inline policy")
	f.BoolVar(&opts.ReadOnly, "read-only", false, "with --s3-bucket: only list the bucket and get its objects")
	f.BoolVar(&opts.Adopt, "adopt", false, "add this ServiceAccount's trust and policies to an existing role irsa did not create (its statements trusting this cluster's provider are replaced; irsa never deletes it)")
	_ = cmd.MarkFlagRequired("namespace")
	_ = cmd.MarkFlagRequired("service-account")
	return cmd
}

// printCreated prints the role and the pods to restart after the steps.
func printCreated(w io.Writer, res role.Result) error {
	if res.DryRun {
		fmt.Fprintf(w, "\nDry run: nothing was changed.\nTrust policy of %s:\n%s\n", res.RoleName, indentJSON(res.TrustPolicy))
		for _, name := range slices.Sorted(maps.Keys(res.InlinePolicies)) {
			fmt.Fprintf(w, "Inline policy %s:\n%s\n", name, indentJSON(res.InlinePolicies[name]))
		}
	}
	fmt.Fprintf(w, "\nRole: %s\n", res.RoleARN)
	for _, warning := range res.Warnings {
		fmt.Fprintf(w, "Warning: %s\n", warning)
	}
	if len(res.PodsToRestart) == 0 {
		fmt.Fprintln(w, "No running pod of the ServiceAccount lacks the role.")
		return nil
	}
	ns, _, _ := strings.Cut(res.ServiceAccount, "/")
	fmt.Fprintln(w, "These pods run without the role (a ServiceAccount annotation changes nothing for running pods): restart them.")
	var controlled, bare []string
	for _, p := range res.PodsToRestart {
		if p.Controller == "" {
			fmt.Fprintf(w, "  %s\n", p.Name)
			bare = append(bare, p.Name)
			continue
		}
		fmt.Fprintf(w, "  %s (%s)\n", p.Name, p.Controller)
		controlled = append(controlled, p.Name)
	}
	if len(controlled) > 0 {
		fmt.Fprintf(w, "Their controllers recreate these: kubectl delete pod -n %s %s\n", ns, strings.Join(controlled, " "))
		fmt.Fprintf(w, "  or restart the workloads: kubectl rollout restart -n %s deployment/NAME (statefulset/NAME, daemonset/NAME)\n", ns)
	}
	if len(bare) > 0 {
		fmt.Fprintf(w, "No controller recreates these: delete them (kubectl delete pod -n %s %s) and create them again from their manifests\n", ns, strings.Join(bare, " "))
	}
	return nil
}

func indentJSON(doc json.RawMessage) string {
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return string(doc)
	}
	return string(out)
}

func newRoleDeleteCommand() *cobra.Command {
	// The flags both commands share bind to flags; delete takes its own
	// fields from it.
	var flags role.Options
	var target roleTarget
	cmd := &cobra.Command{
		Use:   "delete -n NAMESPACE --service-account NAME",
		Short: "Delete the IAM role irsa created for a ServiceAccount",
		Long: `Take away what irsa role create made for the ServiceAccount, and only that:

  - the role, if irsa created it for this ServiceAccount (tag
    irsa.dev/managed-by=irsa): its managed policies are detached (the policies
    themselves are kept), its inline policies deleted, then the role;
  - the ServiceAccount, if irsa created it (label
    app.kubernetes.io/managed-by=irsa) and it names no other role; otherwise
    only its PREFIX/role-arn annotation is removed, when it names this role.

A role irsa did not create stops the command before anything changes. A role
that is already gone is fine: running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := target.checkOutput(); err != nil {
				return err
			}
			opts := role.DeleteOptions{Namespace: flags.Namespace, ServiceAccount: flags.ServiceAccount, RoleName: flags.RoleName,
				AnnotationPrefix: flags.AnnotationPrefix, DryRun: flags.DryRun, Report: progress.Printer(target.progressTo(cmd))}
			if err := opts.Validate(); err != nil {
				return err
			}
			api, client, err := target.clients(ctx)
			if err != nil {
				return err
			}
			res, err := role.Delete(ctx, api, client, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if printed, err := target.print(out, res); printed {
				return err
			}
			if res.DryRun {
				fmt.Fprintln(out, "\nDry run: nothing was changed.")
			}
			return nil
		},
	}
	target.addFlags(cmd.Flags(), &flags)
	_ = cmd.MarkFlagRequired("namespace")
	_ = cmd.MarkFlagRequired("service-account")
	return cmd
}

func newRoleTrustCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "What a role's trust policy lets in",
	}
	var target roleTarget
	var opts role.Options
	list := &cobra.Command{
		Use:   "list (--role-name NAME | -n NAMESPACE --service-account NAME)",
		Short: "List the clusters and ServiceAccounts a role trusts",
		Long: `List, statement by statement, the identity providers (clusters) a role's trust
policy names and the ServiceAccounts (sub) and audiences (aud) it requires of
each, and the policy's size against IAM's 2048-character quota.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			name := opts.RoleName
			if name == "" {
				if opts.Namespace == "" || opts.ServiceAccount == "" {
					return errors.New("give --role-name, or -n and --service-account of the role's ServiceAccount")
				}
				name = role.DefaultRoleName(opts.Namespace, opts.ServiceAccount)
			}
			cfg, err := loadAWSConfig(ctx, target.region, iamDefaultRegion)
			if err != nil {
				return err
			}
			trust, err := role.ListTrust(ctx, iam.NewFromConfig(cfg), name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch target.output {
			case "json":
				return printJSON(out, trust)
			case "yaml":
				data, err := yaml.Marshal(trust)
				if err != nil {
					return err
				}
				_, err = out.Write(data)
				return err
			}
			fmt.Fprintf(out, "%s (trust policy %d of %d characters)\n", trust.RoleARN, trust.Size, trust.Quota)
			for _, g := range trust.Grants {
				fmt.Fprintf(out, "%s %s\n", g.Effect, strings.Join(g.Providers, ", "))
				for _, s := range g.Subjects {
					fmt.Fprintf(out, "    sub %s\n", s)
				}
				for _, a := range g.Audiences {
					fmt.Fprintf(out, "    aud %s\n", a)
				}
				for _, o := range g.Others {
					fmt.Fprintf(out, "    %s\n", o)
				}
				if len(g.Subjects) == 0 {
					fmt.Fprintln(out, "    (no sub condition: every ServiceAccount of this cluster may assume the role)")
				}
			}
			return nil
		},
	}
	f := list.Flags()
	f.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace of the role's ServiceAccount")
	f.StringVar(&opts.ServiceAccount, "service-account", "", "name of the role's ServiceAccount")
	f.StringVar(&opts.RoleName, "role-name", "", "IAM role name (default irsa-NAMESPACE-SERVICEACCOUNT)")
	f.StringVarP(&target.output, "output", "o", "text", "text, json or yaml")
	f.StringVar(&target.region, "region", "", "AWS region picking the partition and signing (default: the configured region, else "+iamDefaultRegion+")")
	cmd.AddCommand(list)
	return cmd
}
