package role

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/iamoidc"
)

// IAMAPI is the part of the IAM client Create and Delete use.
type IAMAPI interface {
	iamoidc.ProviderLister
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iam.UpdateAssumeRolePolicyInput, ...func(*iam.Options)) (*iam.UpdateAssumeRolePolicyOutput, error)
	GetPolicy(context.Context, *iam.GetPolicyInput, ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	DeleteRole(context.Context, *iam.DeleteRoleInput, ...func(*iam.Options)) (*iam.DeleteRoleOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(context.Context, *iam.AttachRolePolicyInput, ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	DetachRolePolicy(context.Context, *iam.DetachRolePolicyInput, ...func(*iam.Options)) (*iam.DetachRolePolicyOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iam.PutRolePolicyInput, ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iam.DeleteRolePolicyInput, ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// ServiceAccountTagKey tags a role irsa created with the ServiceAccount it
// serves, as NAMESPACE/NAME.
const ServiceAccountTagKey = "irsa.dev/service-account"

// getRole returns the role, or nil when there is none.
func getRole(ctx context.Context, api IAMAPI, name string) (*iamtypes.Role, error) {
	out, err := api.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
	if isNoSuchEntity(err) {
		return nil, nil
	}
	if err != nil {
		return nil, awserr.Action("iam:GetRole", "role "+name, err)
	}
	return out.Role, nil
}

// attachedPolicies returns the ARNs of the managed policies attached to
// the role.
func attachedPolicies(ctx context.Context, api IAMAPI, role string) ([]string, error) {
	var arns []string
	pages := iam.NewListAttachedRolePoliciesPaginator(api, &iam.ListAttachedRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awserr.Action("iam:ListAttachedRolePolicies", "role "+role, err)
		}
		for _, p := range page.AttachedPolicies {
			arns = append(arns, aws.ToString(p.PolicyArn))
		}
	}
	return arns, nil
}

// inlinePolicies returns the names of the role's inline policies.
func inlinePolicies(ctx context.Context, api IAMAPI, role string) ([]string, error) {
	var names []string
	pages := iam.NewListRolePoliciesPaginator(api, &iam.ListRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, awserr.Action("iam:ListRolePolicies", "role "+role, err)
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}

// tagMap returns IAM tags as a map.
func tagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// isNoSuchEntity reports whether IAM answered that the thing asked about
// does not exist.
func isNoSuchEntity(err error) bool {
	var missing *iamtypes.NoSuchEntityException
	return errors.As(err, &missing)
}
