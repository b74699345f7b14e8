package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/token"
	"github.com/irsa-dev/irsa/internal/trustpolicy"
)

// checkIssuer verifies the minted token against the issuer's documents,
// read anonymously, as STS does.
func (d *doctor) checkIssuer(ctx context.Context) {
	if d.claims == nil {
		d.skip(CheckIssuer, "no token")
		return
	}
	issuer := d.claims.Issuer
	_, err := token.Verify(ctx, d.raw, token.Options{Audience: d.audience, HTTPClient: d.c.HTTPClient, Now: d.opts.Now})
	var verr *token.VerifyError
	if errors.As(err, &verr) {
		d.problem(CheckIssuer, string(verr.Check)+" check failed", verr.Reason, issuerFix(verr.Check, issuer))
		return
	}
	if err != nil {
		d.problem(CheckIssuer, "", err.Error(), "")
		return
	}
	d.issuerOK = true
	d.ok(CheckIssuer, fmt.Sprintf("%s serves both documents anonymously, issuer identical, kid %s present", issuer, d.claims.KeyID))
}

// issuerFix is what repairs a failed check of the issuer's documents.
func issuerFix(check token.Check, issuer string) string {
	switch check {
	case token.CheckDiscovery, token.CheckKeySet, token.CheckKeyID, token.CheckAlgorithm:
		return "publish the cluster's current keys where the issuer points: irsa oidc publish --bucket BUCKET --region REGION --from-cluster (for " + issuer + ")"
	case token.CheckIssuer:
		return "make kube-apiserver's --service-account-issuer exactly the published issuer (irsa setup, cluster-issuer phase)"
	case token.CheckSignature:
		return "the published key under this kid is not the one the cluster signs with: irsa oidc publish --from-cluster"
	case token.CheckExpired, token.CheckNotYetValid:
		return "fix the clock of this machine or of the cluster's control plane (NTP)"
	}
	return ""
}

func (d *doctor) checkProvider(ctx context.Context) {
	if d.claims == nil {
		d.skip(CheckProvider, "no token")
		return
	}
	issuer := d.claims.Issuer
	arn, got, err := iamoidc.Find(ctx, d.c.IAM, issuer)
	if errors.Is(err, iamoidc.ErrNoProvider) {
		d.problem(CheckProvider, issuer, "IAM has no OIDC identity provider for exactly "+issuer+" (a trailing slash or another host is another provider), so STS refuses its tokens",
			"irsa aws provider create --issuer "+issuer)
		return
	}
	if err != nil {
		d.problem(CheckProvider, issuer, err.Error(), "check that your AWS credentials may read IAM OIDC providers")
		return
	}
	d.providerARN = arn
	if !slices.Contains(got.ClientIDList, d.audience) {
		d.problem(CheckProvider, arn, fmt.Sprintf("the provider's client IDs %v lack the token's audience %q, so STS refuses the token", got.ClientIDList, d.audience),
			fmt.Sprintf("irsa aws provider create --issuer %s --audience %s", issuer, d.audience))
		return
	}
	d.ok(CheckProvider, fmt.Sprintf("%s, client IDs %s", arn, strings.Join(got.ClientIDList, ", ")))
}

// accountOf is the account id in an ARN (arn:PARTITION:SERVICE::ACCOUNT:...).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// roleName is the name in a role ARN, after its path.
func roleName(roleARN string) string {
	return roleARN[strings.LastIndex(roleARN, "/")+1:]
}

func (d *doctor) checkTrust(ctx context.Context) {
	switch {
	case d.roleARN == "":
		d.skip(CheckTrust, "no role annotation")
		return
	case d.claims == nil || d.providerARN == "":
		d.skip(CheckTrust, "no token or no IAM provider")
		return
	}
	if roleAccount, ours := accountOf(d.roleARN), accountOf(d.providerARN); roleAccount != ours {
		d.skip(CheckTrust, fmt.Sprintf("the role is in account %s, the IAM provider found with these credentials in %s: run doctor with credentials of account %s", roleAccount, ours, roleAccount))
		return
	}
	out, err := d.c.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName(d.roleARN))})
	var missing *iamtypes.NoSuchEntityException
	if errors.As(err, &missing) {
		d.problem(CheckTrust, d.roleARN, "the role the ServiceAccount is annotated with does not exist",
			fmt.Sprintf("irsa role create -n %s --service-account %s ... creates it", d.sa.Namespace, d.sa.Name))
		return
	}
	if err != nil {
		d.problem(CheckTrust, d.roleARN, awserr.Action("iam:GetRole", d.roleARN, err).Error(), "")
		return
	}
	if got := aws.ToString(out.Role.Arn); got != d.roleARN {
		d.problem(CheckTrust, got, fmt.Sprintf("the annotation names %s, but the role of that name is %s (another account or path)", d.roleARN, got), "annotate the role's exact ARN")
		return
	}
	hostPath := strings.TrimPrefix(d.claims.Issuer, "https://")
	decision, err := trustpolicy.Evaluate(aws.ToString(out.Role.AssumeRolePolicyDocument), trustpolicy.Request{
		ProviderARN: d.providerARN,
		Claims: map[string][]string{
			hostPath + ":sub": {d.claims.Subject},
			hostPath + ":aud": d.claims.Audience,
		},
	})
	if err != nil {
		d.problem(CheckTrust, d.roleARN, "the role's trust policy cannot be read: "+err.Error(), fmt.Sprintf("irsa role create -n %s --service-account %s rewrites it", d.sa.Namespace, d.sa.Name))
		return
	}
	if !decision.Allowed {
		d.problem(CheckTrust, d.roleARN, decision.Reason,
			fmt.Sprintf("irsa role create -n %s --service-account %s --role-name %s (replaces this cluster's statement with one for exactly this ServiceAccount)", d.sa.Namespace, d.sa.Name, roleName(d.roleARN)))
		return
	}
	d.trustOK = true
	detail := decision.Reason
	if decision.Broad {
		detail += "; warning: the statement does not pin one ServiceAccount, so other ServiceAccounts can assume this role too (irsa role create narrows it)"
	}
	d.ok(CheckTrust, detail)
}

func (d *doctor) checkPermissions(ctx context.Context) {
	if d.roleARN == "" || !d.trustOK {
		d.skip(CheckPermissions, "no role to look at")
		return
	}
	policies, err := d.rolePolicies(ctx, roleName(d.roleARN))
	if err != nil {
		d.problem(CheckPermissions, d.roleARN, err.Error(), "")
		return
	}
	names := slices.Sorted(maps.Keys(policies))
	grant := fmt.Sprintf("irsa role create -n %s --service-account %s --s3-bucket BUCKET | --policy-arn ARN | --policy-file FILE", d.sa.Namespace, d.sa.Name)
	switch {
	case len(policies) == 0:
		d.problem(CheckPermissions, d.roleARN, "the role has no policy: every AWS call the pod makes with it is refused (AccessDenied)", grant)
		return
	case d.opts.Action == "":
		d.ok(CheckPermissions, "policies "+strings.Join(names, ", ")+" (name a call with --action and --resource to have them evaluated)")
		return
	}
	resource := d.opts.Resource
	if resource == "" {
		resource = "*"
	}
	access, err := trustpolicy.EvaluateAccess(policies, d.opts.Action, resource)
	if err != nil {
		d.problem(CheckPermissions, d.roleARN, "the role's policies cannot be read: "+err.Error(), "")
		return
	}
	if !access.Allowed {
		d.problem(CheckPermissions, d.opts.Action+" on "+resource, access.Reason+": the call gets AccessDenied", grant+" (one that allows "+d.opts.Action+" on "+resource+")")
		return
	}
	d.ok(CheckPermissions, d.opts.Action+" on "+resource+": "+access.Reason+" (permission boundaries, SCPs and resource policies not evaluated)")
}

// rolePolicies returns the documents of the role's inline and attached
// policies, by name.
func (d *doctor) rolePolicies(ctx context.Context, name string) (map[string]string, error) {
	policies := map[string]string{}
	inline, err := d.c.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &name})
	if err != nil {
		return nil, awserr.Action("iam:ListRolePolicies", d.roleARN, err)
	}
	for _, p := range inline.PolicyNames {
		out, err := d.c.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: aws.String(p)})
		if err != nil {
			return nil, awserr.Action("iam:GetRolePolicy", d.roleARN+" "+p, err)
		}
		policies[p] = aws.ToString(out.PolicyDocument)
	}
	attached, err := d.c.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	if err != nil {
		return nil, awserr.Action("iam:ListAttachedRolePolicies", d.roleARN, err)
	}
	for _, p := range attached.AttachedPolicies {
		policy, err := d.c.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: p.PolicyArn})
		if err != nil {
			return nil, awserr.Action("iam:GetPolicy", aws.ToString(p.PolicyArn), err)
		}
		if policy.Policy == nil {
			return nil, fmt.Errorf("iam:GetPolicy on %s answered no policy", aws.ToString(p.PolicyArn))
		}
		version, err := d.c.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: p.PolicyArn, VersionId: policy.Policy.DefaultVersionId})
		if err != nil {
			return nil, awserr.Action("iam:GetPolicyVersion", aws.ToString(p.PolicyArn), err)
		}
		if version.PolicyVersion == nil {
			return nil, fmt.Errorf("iam:GetPolicyVersion on %s answered no version", aws.ToString(p.PolicyArn))
		}
		policies[aws.ToString(p.PolicyName)] = aws.ToString(version.PolicyVersion.Document)
	}
	return policies, nil
}

// checkAssumeRole makes the call the pod's SDK makes, and names the cause
// of STS's answer.
func (d *doctor) checkAssumeRole(ctx context.Context) {
	if d.raw == "" || d.roleARN == "" {
		d.skip(CheckAssumeRole, "no token or no role")
		return
	}
	if d.c.STS == nil {
		d.skip(CheckAssumeRole, "no STS client")
		return
	}
	out, err := d.c.STS.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(d.roleARN), RoleSessionName: aws.String("irsa-doctor"), WebIdentityToken: aws.String(d.raw),
	})
	if err != nil {
		cause, fix := stsCause(err, d)
		d.problem(CheckAssumeRole, d.roleARN, cause, fix)
		return
	}
	who := d.roleARN
	if out.AssumedRoleUser != nil {
		who = aws.ToString(out.AssumedRoleUser.Arn)
	}
	d.ok(CheckAssumeRole, "credentials for "+who)
}

// stsCause maps STS's answer to AssumeRoleWithWebIdentity to its cause.
func stsCause(err error, d *doctor) (cause, fix string) {
	var (
		invalidToken *ststypes.InvalidIdentityTokenException
		idpComm      *ststypes.IDPCommunicationErrorException
		idpRejected  *ststypes.IDPRejectedClaimException
		expired      *ststypes.ExpiredTokenException
		disabled     *ststypes.RegionDisabledException
	)
	issuer := ""
	if d.claims != nil {
		issuer = d.claims.Issuer
	}
	switch {
	case errors.As(err, &invalidToken):
		return "InvalidIdentityToken: STS could not verify the token against the issuer's documents or provider (" + invalidToken.ErrorMessage() + ")",
			"see the issuer and provider checks above; irsa token verify --issuer " + issuer + " shows the failing step"
	case errors.As(err, &idpComm):
		return "IDPCommunicationError: STS could not fetch the issuer's documents from " + issuer + " (" + idpComm.ErrorMessage() + ")",
			"make " + issuer + "/.well-known/openid-configuration and its jwks_uri readable from the internet over https:443; retry, STS also fails on timeouts"
	case errors.As(err, &idpRejected):
		return "IDPRejectedClaim: " + idpRejected.ErrorMessage(), "check the token's claims against the provider's client IDs"
	case errors.As(err, &expired):
		return "ExpiredToken: the token had expired when STS read it", "fix the clocks; the kubelet refreshes projected tokens, so a pod reads a fresh one"
	case errors.As(err, &disabled):
		return "RegionDisabled: STS is not activated in this region", "activate STS for the region in IAM account settings, or use the global endpoint"
	case awserr.Code(err) == "AccessDenied":
		return "AccessDenied: not authorized to perform sts:AssumeRoleWithWebIdentity: the role's trust policy does not let this token in",
			fmt.Sprintf("irsa role create -n %s --service-account %s --role-name %s", d.sa.Namespace, d.sa.Name, roleName(d.roleARN))
	}
	return err.Error(), ""
}
