// Package doctor is `irsa doctor`: it follows the chain from a pod or a
// ServiceAccount to AWS STS link by link, and names the first broken one
// with its cause and the fix.
package doctor

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/token"
)

// Status is how a check came out.
type Status string

// Statuses of a check.
const (
	OK         Status = "ok"
	Problem    Status = "problem"
	NotChecked Status = "not checked"
)

// Check is one link of the chain.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail is what was found; for a check not made, why not.
	Detail string `json:"detail,omitempty"`
	// Cause and Fix explain a problem: what is wrong and what to do.
	Cause string `json:"cause,omitempty"`
	Fix   string `json:"fix,omitempty"`
}

// Report is every check, in the order of the chain.
type Report struct {
	Namespace      string  `json:"namespace"`
	Pod            string  `json:"pod,omitempty"`
	ServiceAccount string  `json:"serviceAccount"`
	Checks         []Check `json:"checks"`
	// Healthy is true when every check passed.
	Healthy bool `json:"healthy"`
}

// IAMAPI is the part of the IAM client the checks use.
type IAMAPI interface {
	iamoidc.ProviderLister
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListAttachedRolePolicies(context.Context, *iam.ListAttachedRolePoliciesInput, ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	ListRolePolicies(context.Context, *iam.ListRolePoliciesInput, ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iam.GetRolePolicyInput, ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	GetPolicy(context.Context, *iam.GetPolicyInput, ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *iam.GetPolicyVersionInput, ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// STSAPI is the part of the STS client the last check uses.
type STSAPI interface {
	AssumeRoleWithWebIdentity(context.Context, *sts.AssumeRoleWithWebIdentityInput, ...func(*sts.Options)) (*sts.AssumeRoleWithWebIdentityOutput, error)
}

// Clients reach the cluster and AWS.
type Clients struct {
	Kube kubernetes.Interface
	IAM  IAMAPI
	STS  STSAPI
	// HTTPClient reads the issuer documents anonymously; nil means a
	// plain client.
	HTTPClient *http.Client
}

// Options say what to examine.
type Options struct {
	Namespace string
	// Pod or ServiceAccount: exactly one.
	Pod, ServiceAccount string
	// AnnotationPrefix is the webhook's --annotation-prefix.
	AnnotationPrefix string
	// MappingNamespace holds the webhook's mapping ConfigMap, when it runs
	// with --watch-config-map; empty means irsa-system.
	MappingNamespace string
	// Action and Resource, when set, are a call the pod makes (such as
	// s3:PutObject on arn:aws:s3:::bucket/key): the role's policies are
	// evaluated for it.
	Action, Resource string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run checks every link, in order, and never stops early: a link that
// cannot be checked because an earlier one broke says so.
func Run(ctx context.Context, c Clients, opts Options) Report {
	if opts.AnnotationPrefix == "" {
		opts.AnnotationPrefix = mutate.DefaultAnnotationPrefix
	}
	d := &doctor{c: c, opts: opts, report: Report{Namespace: opts.Namespace, Pod: opts.Pod, ServiceAccount: opts.ServiceAccount}}
	d.checkServiceAccount(ctx)
	d.checkAnnotation(ctx)
	if opts.Pod != "" {
		d.checkPodAge()
		d.checkPodMutated()
	}
	d.checkWebhook(ctx)
	d.checkToken(ctx)
	d.checkIssuer(ctx)
	d.checkProvider(ctx)
	d.checkTrust(ctx)
	d.checkPermissions(ctx)
	d.checkAssumeRole(ctx)
	d.report.Healthy = true
	for _, ch := range d.report.Checks {
		if ch.Status != OK {
			d.report.Healthy = false
		}
	}
	return d.report
}

// doctor is one run: what the checks found so far.
type doctor struct {
	c      Clients
	opts   Options
	report Report

	sa       *corev1.ServiceAccount
	pod      *corev1.Pod
	roleARN  string
	audience string
	// raw is the token minted for the ServiceAccount; claims what it says.
	raw         string
	claims      *token.Claims
	issuerOK    bool
	providerARN string
	trustOK     bool
}

func (d *doctor) ok(name, detail string) {
	d.report.Checks = append(d.report.Checks, Check{Name: name, Status: OK, Detail: detail})
}

func (d *doctor) problem(name, detail, cause, fix string) {
	d.report.Checks = append(d.report.Checks, Check{Name: name, Status: Problem, Detail: detail, Cause: cause, Fix: fix})
}

func (d *doctor) skip(name, why string) {
	d.report.Checks = append(d.report.Checks, Check{Name: name, Status: NotChecked, Detail: why})
}

func (d *doctor) now() time.Time {
	if d.opts.Now != nil {
		return d.opts.Now()
	}
	return time.Now()
}
