package role

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/irsa-dev/irsa/internal/trustpolicy"
)

// Trust is who may assume a role through web identity: one grant per
// trust policy statement that names an identity provider.
type Trust struct {
	RoleName string              `json:"roleName"`
	RoleARN  string              `json:"roleARN"`
	Grants   []trustpolicy.Grant `json:"grants"`
	// Size is the trust policy's length against IAM's quota.
	Size  int `json:"size"`
	Quota int `json:"quota"`
}

// ListTrust reads which clusters (identity providers) and ServiceAccounts
// the role trusts.
func ListTrust(ctx context.Context, api IAMAPI, roleName string) (Trust, error) {
	t := Trust{RoleName: roleName, Quota: TrustPolicyQuota}
	r, err := getRole(ctx, api, roleName)
	if err != nil {
		return t, err
	}
	if r == nil {
		return t, fmt.Errorf("role %s does not exist", roleName)
	}
	t.RoleARN = aws.ToString(r.Arn)
	doc, err := decodePolicy(aws.ToString(r.AssumeRolePolicyDocument))
	if err != nil {
		return t, err
	}
	compacted, err := compact(doc)
	if err != nil {
		return t, err
	}
	t.Size = len(compacted)
	t.Grants, err = trustpolicy.Grants(doc)
	return t, err
}
