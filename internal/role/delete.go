package role

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/identity"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

// DeleteOptions say which ServiceAccount's role Delete takes away.
type DeleteOptions struct {
	Namespace      string
	ServiceAccount string
	// RoleName is the role; DefaultRoleName when empty.
	RoleName string
	// AnnotationPrefix is as in Options.
	AnnotationPrefix string
	// DryRun reads everything and changes nothing.
	DryRun bool
	// Report, when set, is told of each step as it ends.
	Report func(progress.Step)
}

// Validate returns every reason the options cannot be used, each naming
// its field by its command-line flag.
func (o DeleteOptions) Validate() error {
	o = o.withDefaults()
	return errors.Join(validateTarget(o.Namespace, o.ServiceAccount, o.RoleName, o.AnnotationPrefix)...)
}

func (o DeleteOptions) withDefaults() DeleteOptions {
	if o.RoleName == "" {
		o.RoleName = DefaultRoleName(o.Namespace, o.ServiceAccount)
	}
	if o.AnnotationPrefix == "" {
		o.AnnotationPrefix = mutate.DefaultAnnotationPrefix
	}
	return o
}

// DeleteResult is what Delete did, or with DryRun would have.
type DeleteResult struct {
	RoleName string `json:"roleName"`
	// RoleARN is the role's ARN; empty when there was no role.
	RoleARN        string          `json:"roleARN,omitempty"`
	ServiceAccount string          `json:"serviceAccount"`
	DryRun         bool            `json:"dryRun,omitempty"`
	Changed        bool            `json:"changed"`
	Steps          []progress.Step `json:"-"`
}

// ErrNotOwned says a role exists that irsa did not create, or created for
// another ServiceAccount, so irsa leaves it alone.
var ErrNotOwned = errors.New("the role is not irsa's to delete")

// Delete takes away what Create made for the ServiceAccount, and only
// that. The role, if irsa created it for this ServiceAccount, is deleted
// with its inline policies; managed policies are detached from it, never
// deleted. A role irsa did not create stops Delete before any change. The
// ServiceAccount is deleted if irsa created it (label ManagedByLabel) and
// it names no other role; otherwise only its role annotation is removed,
// and only when it names this role. A second run changes nothing.
func Delete(ctx context.Context, api IAMAPI, client kubernetes.Interface, opts DeleteOptions) (DeleteResult, error) {
	if err := opts.Validate(); err != nil {
		return DeleteResult{}, err
	}
	opts = opts.withDefaults()
	log := stepLog{dryRun: opts.DryRun, report: opts.Report}
	res := DeleteResult{RoleName: opts.RoleName, ServiceAccount: opts.Namespace + "/" + opts.ServiceAccount, DryRun: opts.DryRun}
	err := deleteAll(ctx, api, client, opts, &res, &log)
	res.Steps = log.steps
	res.Changed = progress.Changed(log.steps)
	return res, err
}

func deleteAll(ctx context.Context, api IAMAPI, client kubernetes.Interface, opts DeleteOptions, res *DeleteResult, log *stepLog) error {
	role, err := getRole(ctx, api, opts.RoleName)
	if err != nil {
		return err
	}
	if role != nil {
		tags := tagMap(role.Tags)
		if !ownership.Owned(tags) {
			return fmt.Errorf("%w: role %s was not created by irsa (no tag %s=%s): nothing was changed; delete it yourself if it is no longer used",
				ErrNotOwned, opts.RoleName, ownership.TagKey, ownership.TagValue)
		}
		if other := tags[ServiceAccountTagKey]; other != "" && other != res.ServiceAccount {
			return fmt.Errorf("%w: role %s was created by irsa for ServiceAccount %s, not %s: nothing was changed",
				ErrNotOwned, opts.RoleName, other, res.ServiceAccount)
		}
		res.RoleARN = aws.ToString(role.Arn)
	}
	sa, err := client.CoreV1().ServiceAccounts(opts.Namespace).Get(ctx, opts.ServiceAccount, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		sa = nil
	case err != nil:
		return kubeError("get", "serviceaccounts", opts.Namespace, opts.ServiceAccount, err)
	}
	if role == nil {
		log.add(progress.Step{Name: "role " + opts.RoleName, Outcome: progress.Unchanged, Detail: "not found"})
	} else if err := deleteRole(ctx, api, opts, log); err != nil {
		return err
	}
	return releaseServiceAccount(ctx, client, opts, res.RoleARN, sa, log)
}

// deleteRole detaches the role's managed policies, deletes its inline
// policies, then the role: IAM deletes only a role with no policies.
func deleteRole(ctx context.Context, api IAMAPI, opts DeleteOptions, log *stepLog) error {
	name := opts.RoleName
	attached, err := attachedPolicies(ctx, api, name)
	if err != nil {
		return err
	}
	inline, err := inlinePolicies(ctx, api, name)
	if err != nil {
		return err
	}
	for _, p := range attached {
		if !opts.DryRun {
			if _, err := api.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &name, PolicyArn: aws.String(p)}); err != nil && !isNoSuchEntity(err) {
				return awserr.Action("iam:DetachRolePolicy", "role "+name, err)
			}
		}
		log.change(progress.Step{Name: "attachment of managed policy " + p, Outcome: progress.Deleted, Detail: "the policy itself is kept"}, "detach")
	}
	for _, p := range inline {
		if !opts.DryRun {
			if _, err := api.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &name, PolicyName: aws.String(p)}); err != nil && !isNoSuchEntity(err) {
				return awserr.Action("iam:DeleteRolePolicy", "role "+name, err)
			}
		}
		log.change(progress.Step{Name: "inline policy " + p, Outcome: progress.Deleted}, "delete")
	}
	if !opts.DryRun {
		_, err := api.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name})
		var conflict *iamtypes.DeleteConflictException
		switch {
		case errors.As(err, &conflict):
			return fmt.Errorf("role %s is still in use (an instance profile holds it, or a policy was attached meanwhile): remove it from its instance profiles (aws iam list-instance-profiles-for-role --role-name %s) and run again: %w", name, name, err)
		case err != nil && !isNoSuchEntity(err):
			return awserr.Action("iam:DeleteRole", "role "+name, err)
		}
	}
	log.change(progress.Step{Name: "role " + name, Outcome: progress.Deleted}, "delete")
	return nil
}

// releaseServiceAccount deletes the ServiceAccount if irsa created it and
// it names no other role, else removes its annotation naming this role.
// roleARN is empty when the role was already gone: an annotation then
// names it when it names a role of that name.
func releaseServiceAccount(ctx context.Context, client kubernetes.Interface, opts DeleteOptions, roleARN string, sa *corev1.ServiceAccount, log *stepLog) error {
	name := "ServiceAccount " + opts.Namespace + "/" + opts.ServiceAccount
	if sa == nil {
		log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "not found"})
		return nil
	}
	key := roleAnnotation(opts.AnnotationPrefix)
	value, annotated := sa.Annotations[key]
	ours := annotated && (value == roleARN || roleARN == "" && roleNameOf(value) == opts.RoleName)
	accounts := client.CoreV1().ServiceAccounts(opts.Namespace)
	switch {
	case createdByIrsa(sa) && (!annotated || ours):
		if !opts.DryRun {
			// Only the ServiceAccount read above: not one re-created or
			// re-annotated since.
			pre := metav1.Preconditions{UID: &sa.UID, ResourceVersion: &sa.ResourceVersion}
			if err := accounts.Delete(ctx, sa.Name, metav1.DeleteOptions{Preconditions: &pre}); err != nil && !apierrors.IsNotFound(err) {
				return kubeError("delete", "serviceaccounts", opts.Namespace, opts.ServiceAccount, err)
			}
		}
		log.change(progress.Step{Name: name, Outcome: progress.Deleted, Detail: "irsa created it"}, "delete")
	case ours:
		if !opts.DryRun {
			if _, err := accounts.Patch(ctx, sa.Name, types.MergePatchType, annotationPatch(map[string]*string{key: nil}), metav1.PatchOptions{}); err != nil {
				return kubeError("patch", "serviceaccounts", opts.Namespace, opts.ServiceAccount, err)
			}
		}
		log.change(progress.Step{Name: name, Outcome: progress.Updated, Detail: "removed " + key + "; the ServiceAccount is kept: irsa did not create it"}, "remove "+key)
	case annotated:
		log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: key + " names another role, " + value + ": left alone"})
	default:
		log.add(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "no " + key})
	}
	return nil
}

// roleNameOf returns the name of the role an ARN names, or "".
func roleNameOf(roleARN string) string {
	if identity.ValidRoleARN(roleARN) != nil {
		return ""
	}
	return roleARN[strings.LastIndex(roleARN, "/")+1:]
}
