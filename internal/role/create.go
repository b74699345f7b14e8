package role

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

// Result is what Create made sure of, or with DryRun would have.
type Result struct {
	RoleName    string `json:"roleName"`
	RoleARN     string `json:"roleARN"`
	Issuer      string `json:"issuer"`
	ProviderARN string `json:"providerARN"`
	// TrustPolicy is the role's whole trust policy, irsa's statement and
	// any statement for other principals.
	TrustPolicy json.RawMessage `json:"trustPolicy"`
	// ManagedPolicies are the managed policies asked for, all attached.
	ManagedPolicies []string `json:"managedPolicies,omitempty"`
	// InlinePolicies are irsa's inline policies on the role, by name.
	InlinePolicies map[string]json.RawMessage `json:"inlinePolicies,omitempty"`
	// ServiceAccount is NAMESPACE/NAME.
	ServiceAccount string `json:"serviceAccount"`
	// Annotations are those irsa set on the ServiceAccount.
	Annotations map[string]string `json:"annotations"`
	// PodsToRestart run without the role: a ServiceAccount annotation
	// changes nothing for pods already created.
	PodsToRestart []Pod    `json:"podsToRestart"`
	Warnings      []string `json:"warnings,omitempty"`
	DryRun        bool     `json:"dryRun,omitempty"`
	// Changed says whether anything was changed.
	Changed bool `json:"changed"`
	// Steps say what each step did; the report, not the result.
	Steps []progress.Step `json:"-"`
}

// Create makes sure the ServiceAccount can assume an IAM role of its own:
//
//   - the role exists (created tagged as irsa's and with the ServiceAccount
//     it serves), trusting the cluster's IAM identity provider for exactly
//     the ServiceAccount's sub and the audience (see mergeTrust for what
//     happens to an existing trust policy);
//   - the managed policies asked for are attached, and the inline policies
//     asked for hold exactly their documents; other policies on the role
//     are left alone;
//   - the ServiceAccount exists (created labelled as irsa's) and is
//     annotated with the role.
//
// Everything is read first, so a problem stops it before anything changes.
// A role irsa did not create is used only with Options.Adopt; a role irsa
// created for another ServiceAccount never. A second run changes nothing.
func Create(ctx context.Context, api IAMAPI, client kubernetes.Interface, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	c := &creator{api: api, client: client, opts: opts, log: stepLog{dryRun: opts.DryRun, report: opts.Report}}
	c.result = Result{
		RoleName:        opts.RoleName,
		ServiceAccount:  opts.Namespace + "/" + opts.ServiceAccount,
		ManagedPolicies: opts.PolicyARNs,
		DryRun:          opts.DryRun,
		PodsToRestart:   []Pod{},
	}
	err := c.run(ctx)
	c.result.Steps = c.log.steps
	c.result.Changed = progress.Changed(c.log.steps)
	return c.result, err
}

type creator struct {
	api    IAMAPI
	client kubernetes.Interface
	opts   Options
	result Result
	log    stepLog

	sa   *corev1.ServiceAccount
	role *iamtypes.Role
	// currentTrust is the existing role's trust policy, decoded; trust is
	// what it becomes.
	currentTrust string
	trust        trustMerge
	inline       map[string]string
}

func (c *creator) run(ctx context.Context) error {
	if err := c.read(ctx); err != nil {
		return err
	}
	if err := c.ensureRole(ctx); err != nil {
		return err
	}
	if err := c.ensurePermissions(ctx); err != nil {
		return err
	}
	if err := c.ensureServiceAccount(ctx); err != nil {
		return err
	}
	pods, err := podsToRestart(ctx, c.client, c.opts.Namespace, c.opts.ServiceAccount, c.result.RoleARN)
	if err != nil {
		return err
	}
	c.result.PodsToRestart = pods
	step := progress.Step{Name: "pods to restart", Outcome: progress.Checked, Detail: "none"}
	if len(pods) > 0 {
		names := make([]string, len(pods))
		for i, p := range pods {
			names[i] = p.Name
		}
		step.Detail = fmt.Sprintf("%d without the role: %s; a ServiceAccount annotation changes nothing for running pods", len(pods), strings.Join(names, ", "))
	}
	c.log.add(step)
	return nil
}

// read gathers everything the changes depend on and computes the
// documents, so that any problem it finds stops Create before a change.
func (c *creator) read(ctx context.Context) error {
	o := c.opts
	issuer := o.Issuer
	if issuer == "" {
		var source string
		var err error
		if issuer, source, err = DiscoverIssuer(ctx, c.client); err != nil {
			return err
		}
		c.log.add(progress.Step{Name: "issuer " + issuer, Outcome: progress.Checked, Detail: "from " + source})
	}
	c.result.Issuer = issuer
	providerARN, provider, err := iamoidc.Find(ctx, c.api, issuer)
	if err != nil {
		return err
	}
	if !slices.Contains(provider.ClientIDList, o.Audience) {
		return fmt.Errorf("the identity provider %s does not accept the audience %q (its client IDs: %s): add it with irsa aws provider create --issuer %s --audience %s",
			providerARN, o.Audience, strings.Join(provider.ClientIDList, ", "), issuer, o.Audience)
	}
	c.result.ProviderARN = providerARN
	c.log.add(progress.Step{Name: "identity provider " + providerARN, Outcome: progress.Checked, Detail: "client ID " + o.Audience})
	// The role, the policies and the provider live in one account and
	// partition: the provider's ARN names them.
	parsed, err := arn.Parse(providerARN)
	if err != nil {
		return fmt.Errorf("identity provider ARN %q: %w", providerARN, err)
	}

	for _, p := range o.PolicyARNs {
		if _, err := c.api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(p)}); err != nil {
			if isNoSuchEntity(err) {
				return fmt.Errorf("managed policy %s does not exist: check the ARN (aws iam list-policies): %w", p, err)
			}
			return awserr.Action("iam:GetPolicy", p, err)
		}
	}
	c.inline = map[string]string{}
	if o.PolicyDocument != "" {
		c.inline[PolicyName], _ = compactPolicy(o.PolicyDocument) // checked by Validate
	}
	if o.S3Bucket != "" {
		c.inline[S3PolicyName(o.S3Bucket)] = S3Policy(parsed.Partition, o.S3Bucket, o.ReadOnly)
	}
	c.result.InlinePolicies = map[string]json.RawMessage{}
	for name, doc := range c.inline {
		c.result.InlinePolicies[name] = json.RawMessage(doc)
	}

	if c.sa, err = getServiceAccount(ctx, c.client, o.Namespace, o.ServiceAccount); err != nil {
		return err
	}
	if c.role, err = getRole(ctx, c.api, o.RoleName); err != nil {
		return err
	}
	if c.role != nil {
		if err := c.checkOwner(); err != nil {
			return err
		}
		c.result.RoleARN = aws.ToString(c.role.Arn)
		if c.currentTrust, err = decodePolicy(aws.ToString(c.role.AssumeRolePolicyDocument)); err != nil {
			return fmt.Errorf("role %s: %w", o.RoleName, err)
		}
	} else {
		c.result.RoleARN = arn.ARN{Partition: parsed.Partition, Service: "iam", AccountID: parsed.AccountID, Resource: "role/" + o.RoleName}.String()
	}
	if c.trust, err = mergeTrust(c.currentTrust, providerARN, TrustStatement(providerARN, issuer, o.Audience, o.Namespace, o.ServiceAccount)); err != nil {
		return fmt.Errorf("role %s: %w", o.RoleName, err)
	}
	c.result.TrustPolicy = json.RawMessage(c.trust.Document)
	warning, err := checkTrustSize(len(c.trust.Document))
	if err != nil {
		return fmt.Errorf("role %s: %w", o.RoleName, err)
	}
	if warning != "" {
		c.result.Warnings = append(c.result.Warnings, warning)
		c.log.add(progress.Step{Name: "trust policy size", Outcome: progress.Checked, Detail: "warning: " + warning})
	}
	return nil
}

// checkOwner refuses an existing role irsa did not create unless adopted,
// and a role irsa created for another ServiceAccount: its trust would be
// taken away from that ServiceAccount.
func (c *creator) checkOwner() error {
	o := c.opts
	tags := tagMap(c.role.Tags)
	if !ownership.Owned(tags) {
		if o.Adopt {
			return nil
		}
		return fmt.Errorf("role %s exists and irsa did not create it (no tag %s=%s): irsa changes only its own roles; pass --adopt to add this ServiceAccount's trust and policies to it (its statements trusting this cluster's provider are replaced), or choose another --role-name",
			o.RoleName, ownership.TagKey, ownership.TagValue)
	}
	if other := tags[ServiceAccountTagKey]; other != "" && other != c.result.ServiceAccount {
		return fmt.Errorf("role %s was created by irsa for ServiceAccount %s, not %s: a role trusts one ServiceAccount of a cluster; choose another --role-name",
			o.RoleName, other, c.result.ServiceAccount)
	}
	return nil
}

func (c *creator) ensureRole(ctx context.Context) error {
	o := c.opts
	name := "role " + o.RoleName
	conditions := "sub " + Subject(o.Namespace, o.ServiceAccount) + ", aud " + o.Audience
	if c.role == nil {
		tags := ownership.Tags(c.result.Issuer)
		tags[ServiceAccountTagKey] = c.result.ServiceAccount
		var tagList []iamtypes.Tag
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			tagList = append(tagList, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
		}
		if !o.DryRun {
			out, err := c.api.CreateRole(ctx, &iam.CreateRoleInput{
				RoleName:                 aws.String(o.RoleName),
				AssumeRolePolicyDocument: aws.String(c.trust.Document),
				Description:              aws.String(fmt.Sprintf("irsa: the AWS identity of Kubernetes ServiceAccount %s (issuer %s)", c.result.ServiceAccount, c.result.Issuer)),
				Tags:                     tagList,
			})
			var exists *iamtypes.EntityAlreadyExistsException
			if errors.As(err, &exists) {
				return fmt.Errorf("role %s was created by someone else meanwhile: run again to check it: %w", o.RoleName, err)
			}
			if err != nil {
				return awserr.Action("iam:CreateRole", name, err)
			}
			c.result.RoleARN = aws.ToString(out.Role.Arn)
		}
		c.log.change(progress.Step{Name: name, Outcome: progress.Created, Detail: "tagged " + ownership.TagKey + "=" + ownership.TagValue}, "create")
		c.log.change(progress.Step{Name: "trust policy", Outcome: progress.Created, Detail: conditions}, "create")
		return nil
	}
	detail := ""
	if !ownership.Owned(tagMap(c.role.Tags)) {
		detail = "not created by irsa: adopted, its tags left alone"
	}
	c.log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: detail})

	if samePolicy(c.currentTrust, c.trust.Document) {
		c.log.add(progress.Step{Name: "trust policy", Outcome: progress.Unchanged, Detail: conditions})
		return nil
	}
	if !o.DryRun {
		_, err := c.api.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(o.RoleName), PolicyDocument: aws.String(c.trust.Document)})
		var malformed *iamtypes.MalformedPolicyDocumentException
		if errors.As(err, &malformed) {
			return fmt.Errorf("IAM refused the merged trust policy of role %s (one of the statements kept from before may be invalid): %w", o.RoleName, err)
		}
		if err != nil {
			return awserr.Action("iam:UpdateAssumeRolePolicy", name, err)
		}
	}
	c.log.change(progress.Step{Name: "trust policy", Outcome: progress.Updated, Detail: trustChange(conditions, c.trust)}, "update")
	return nil
}

// trustChange says what a merge did to a trust policy.
func trustChange(conditions string, m trustMerge) string {
	parts := []string{conditions}
	if m.Replaced > 0 {
		parts = append(parts, fmt.Sprintf("replaced %d statement(s) trusting this provider", m.Replaced))
	}
	if m.Narrowed > 0 {
		parts = append(parts, fmt.Sprintf("took this provider out of %d statement(s) naming other principals too", m.Narrowed))
	}
	if m.Kept > 0 {
		parts = append(parts, fmt.Sprintf("kept %d statement(s) for other principals", m.Kept))
	}
	return strings.Join(parts, "; ")
}

func (c *creator) ensurePermissions(ctx context.Context) error {
	o := c.opts
	var attached []string
	if c.role != nil {
		var err error
		if attached, err = attachedPolicies(ctx, c.api, o.RoleName); err != nil {
			return err
		}
	}
	for _, p := range o.PolicyARNs {
		name := "managed policy " + p
		if slices.Contains(attached, p) {
			c.log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "attached"})
			continue
		}
		if !o.DryRun {
			_, err := c.api.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(o.RoleName), PolicyArn: aws.String(p)})
			var limit *iamtypes.LimitExceededException
			var notAttachable *iamtypes.PolicyNotAttachableException
			switch {
			case errors.As(err, &limit):
				return fmt.Errorf("attach %s to role %s: the role has the most managed policies IAM allows (10 by default; a quota increase goes up to 20): %w", p, o.RoleName, err)
			case errors.As(err, &notAttachable):
				return fmt.Errorf("attach %s to role %s: the policy cannot be attached to roles (service-linked policies cannot): %w", p, o.RoleName, err)
			case err != nil:
				return awserr.Action("iam:AttachRolePolicy", "role "+o.RoleName, err)
			}
		}
		c.log.change(progress.Step{Name: name, Outcome: progress.Created, Detail: "attached"}, "attach")
	}
	for _, name := range slices.Sorted(maps.Keys(c.inline)) {
		if err := c.ensureInline(ctx, name, c.inline[name]); err != nil {
			return err
		}
	}
	return nil
}

// ensureInline puts the inline policy name on the role unless it already
// holds doc.
func (c *creator) ensureInline(ctx context.Context, name, doc string) error {
	o := c.opts
	step := progress.Step{Name: "inline policy " + name, Outcome: progress.Created}
	verb := "put"
	if c.role != nil {
		out, err := c.api.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(o.RoleName), PolicyName: aws.String(name)})
		switch {
		case isNoSuchEntity(err):
		case err != nil:
			return awserr.Action("iam:GetRolePolicy", "role "+o.RoleName, err)
		default:
			current, err := decodePolicy(aws.ToString(out.PolicyDocument))
			if err != nil {
				return fmt.Errorf("inline policy %s of role %s: %w", name, o.RoleName, err)
			}
			if samePolicy(current, doc) {
				c.log.add(progress.Step{Name: step.Name, Outcome: progress.Unchanged})
				return nil
			}
			step.Outcome, step.Detail, verb = progress.Updated, "its document differed", "replace"
		}
	}
	if !o.DryRun {
		_, err := c.api.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(o.RoleName), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		var malformed *iamtypes.MalformedPolicyDocumentException
		var limit *iamtypes.LimitExceededException
		switch {
		case errors.As(err, &malformed):
			return fmt.Errorf("IAM refused inline policy %s: fix the document: %w", name, err)
		case errors.As(err, &limit):
			return fmt.Errorf("inline policy %s: the role's inline policies together pass IAM's quota (%d characters): use a managed policy (--policy-arn) instead: %w", name, maxInlinePolicySize, err)
		case err != nil:
			return awserr.Action("iam:PutRolePolicy", "role "+o.RoleName, err)
		}
	}
	c.log.change(step, verb)
	return nil
}

// ensureServiceAccount creates the ServiceAccount or sets its annotations:
// the role, and the token audience when it is not the default (or the
// ServiceAccount asked for another one, which the trust policy would
// refuse).
func (c *creator) ensureServiceAccount(ctx context.Context) error {
	o := c.opts
	roleKey, audKey := roleAnnotation(o.AnnotationPrefix), audienceAnnotation(o.AnnotationPrefix)
	want := map[string]string{roleKey: c.result.RoleARN}
	if o.Audience != iamoidc.STSAudience {
		want[audKey] = o.Audience
	}
	if c.sa != nil {
		if aud, ok := c.sa.Annotations[audKey]; ok && aud != o.Audience {
			want[audKey] = o.Audience
		}
	}
	c.result.Annotations = want
	name := "ServiceAccount " + c.result.ServiceAccount
	accounts := c.client.CoreV1().ServiceAccounts(o.Namespace)

	if c.sa == nil {
		if !o.DryRun {
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{
				Name:        o.ServiceAccount,
				Namespace:   o.Namespace,
				Labels:      map[string]string{ManagedByLabel: ownership.TagValue},
				Annotations: want,
			}}
			if _, err := accounts.Create(ctx, sa, metav1.CreateOptions{}); err != nil {
				return kubeError("create", "serviceaccounts", o.Namespace, o.ServiceAccount, err)
			}
		}
		c.log.change(progress.Step{Name: name, Outcome: progress.Created, Detail: "annotated " + roleKey}, "create")
		return nil
	}

	patch := map[string]*string{}
	var notes []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		have, ok := c.sa.Annotations[k]
		if ok && have == want[k] {
			continue
		}
		patch[k] = aws.String(want[k])
		switch {
		case !ok:
			notes = append(notes, "annotated "+k)
		case k == roleKey:
			notes = append(notes, "re-annotated: it named role "+have)
		default:
			notes = append(notes, fmt.Sprintf("%s was %q", k, have))
		}
	}
	if len(patch) == 0 {
		c.log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: roleKey + " set"})
		return nil
	}
	if !o.DryRun {
		if _, err := accounts.Patch(ctx, o.ServiceAccount, types.MergePatchType, annotationPatch(patch), metav1.PatchOptions{}); err != nil {
			return kubeError("patch", "serviceaccounts", o.Namespace, o.ServiceAccount, err)
		}
	}
	c.log.change(progress.Step{Name: name, Outcome: progress.Updated, Detail: strings.Join(notes, "; ")}, "update")
	return nil
}
