// Package role gives one Kubernetes ServiceAccount its own AWS IAM role:
// a trust policy scoped to exactly that ServiceAccount, the permissions
// asked for, the ServiceAccount annotation the webhook reads, and the list
// of running pods that must restart to pick it up. It changes and deletes
// only what irsa created.
package role

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/progress"
)

// MaxRoleNameLength is the longest role name IAM accepts.
const MaxRoleNameLength = 64

// maxInlinePolicySize is IAM's quota on the inline policies of one role,
// all together, in characters without whitespace.
const maxInlinePolicySize = 10240

// Options say which ServiceAccount gets a role, and with what permissions.
type Options struct {
	// Namespace and ServiceAccount name the ServiceAccount; it is created
	// if missing.
	Namespace      string
	ServiceAccount string
	// RoleName is the IAM role's name; DefaultRoleName when empty.
	RoleName string
	// Issuer is the cluster's ServiceAccount token issuer; read from the
	// cluster's /.well-known/openid-configuration when empty.
	Issuer string
	// Audience is the token audience the trust policy requires;
	// iamoidc.STSAudience when empty.
	Audience string
	// PolicyARNs are managed policies to attach.
	PolicyARNs []string
	// PolicyDocument is a JSON permissions policy put on the role as the
	// inline policy PolicyName.
	PolicyDocument string
	// S3Bucket, when set, gets an inline least-privilege policy for that
	// bucket: list it, and read (and unless ReadOnly, write and delete)
	// its objects.
	S3Bucket string
	ReadOnly bool
	// AnnotationPrefix prefixes the ServiceAccount annotations the
	// webhook reads; mutate.DefaultAnnotationPrefix when empty.
	AnnotationPrefix string
	// Adopt lets irsa add this ServiceAccount's trust and permissions to
	// an existing role it did not create; the role is still not irsa's,
	// so Delete leaves it alone.
	Adopt bool
	// DryRun reads everything and changes nothing.
	DryRun bool
	// Report, when set, is told of each step as it ends.
	Report func(progress.Step)
}

// PolicyName is the inline policy holding Options.PolicyDocument.
const PolicyName = "irsa-policy"

// S3PolicyName returns the name of the inline policy for bucket.
func S3PolicyName(bucket string) string { return "irsa-s3-" + bucket }

// DefaultRoleName returns "irsa-NAMESPACE-NAME", or when that is longer
// than IAM allows, its first characters followed by "-" and 8 hex digits
// of its SHA-256, so that long names stay distinct.
func DefaultRoleName(namespace, serviceAccount string) string {
	name := "irsa-" + namespace + "-" + serviceAccount
	if len(name) <= MaxRoleNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:MaxRoleNameLength-9] + "-" + hex.EncodeToString(sum[:4])
}

// withDefaults fills the fields left empty.
func (o Options) withDefaults() Options {
	if o.RoleName == "" {
		o.RoleName = DefaultRoleName(o.Namespace, o.ServiceAccount)
	}
	if o.Audience == "" {
		o.Audience = iamoidc.STSAudience
	}
	if o.AnnotationPrefix == "" {
		o.AnnotationPrefix = mutate.DefaultAnnotationPrefix
	}
	return o
}

// Validate returns every reason the options cannot be used, each naming
// its field by its command-line flag.
func (o Options) Validate() error {
	o = o.withDefaults()
	errs := validateTarget(o.Namespace, o.ServiceAccount, o.RoleName, o.AnnotationPrefix)
	if o.Issuer != "" {
		if err := oidc.ValidateIssuer(o.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("issuer: %w", err))
		}
	}
	if len(o.Audience) > 255 {
		errs = append(errs, errors.New("audience: IAM client IDs are at most 255 characters"))
	}
	if len(o.PolicyARNs) == 0 && o.PolicyDocument == "" && o.S3Bucket == "" {
		errs = append(errs, errors.New("permissions: give at least one of --policy-arn, --policy-file or --s3-bucket"))
	}
	for _, arn := range o.PolicyARNs {
		if !policyARN.MatchString(arn) {
			errs = append(errs, fmt.Errorf("policy-arn: %q is not a managed policy ARN of the form arn:PARTITION:iam::ACCOUNT:policy/[PATH/]NAME", arn))
		}
	}
	size := 0
	if o.PolicyDocument != "" {
		doc, err := compactPolicy(o.PolicyDocument)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy-file: %w", err))
		}
		size += len(doc)
	}
	if o.S3Bucket != "" {
		if err := ValidateBucketName(o.S3Bucket); err != nil {
			errs = append(errs, fmt.Errorf("s3-bucket: %w", err))
		}
		// The partition is not known yet: its longest name gives the
		// largest size.
		size += len(S3Policy("aws-us-gov", o.S3Bucket, o.ReadOnly))
	}
	if size > maxInlinePolicySize {
		errs = append(errs, fmt.Errorf("policy-file: the role's inline policies would be %d characters, more than IAM's quota of %d per role: attach a managed policy with --policy-arn instead", size, maxInlinePolicySize))
	}
	if o.ReadOnly && o.S3Bucket == "" {
		errs = append(errs, errors.New("read-only: only applies to --s3-bucket"))
	}
	return errors.Join(errs...)
}

// validateTarget checks what Create and Delete both need.
func validateTarget(namespace, serviceAccount, roleName, prefix string) []error {
	var errs []error
	for _, msg := range validation.IsDNS1123Label(namespace) {
		errs = append(errs, fmt.Errorf("namespace: %q: %s", namespace, msg))
	}
	for _, msg := range validation.IsDNS1123Subdomain(serviceAccount) {
		errs = append(errs, fmt.Errorf("service-account: %q: %s", serviceAccount, msg))
	}
	if !roleNameChars.MatchString(roleName) {
		errs = append(errs, fmt.Errorf("role-name: %q: IAM role names are 1 to %d letters, digits and +=,.@_-", roleName, MaxRoleNameLength))
	}
	for _, msg := range validation.IsDNS1123Subdomain(prefix) {
		errs = append(errs, fmt.Errorf("annotation-prefix: %q: %s", prefix, msg))
	}
	return errs
}

var (
	roleNameChars = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyARN     = regexp.MustCompile(`^arn:[a-z-]+:iam::([0-9]{12}|aws):policy/([\x21-\x7e]+/)?[\w+=,.@-]{1,128}$`)
	bucketChars   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// ValidateBucketName reports why name is not a general purpose S3 bucket
// name, or nil.
func ValidateBucketName(name string) error {
	switch {
	case !bucketChars.MatchString(name):
		return fmt.Errorf("%q: bucket names are 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%q: bucket names have no two dots in a row", name)
	case net.ParseIP(name) != nil:
		return fmt.Errorf("%q: bucket names are not IP addresses", name)
	case strings.HasPrefix(name, "xn--") || strings.HasPrefix(name, "sthree-") || strings.HasPrefix(name, "amzn-s3-demo-"):
		return fmt.Errorf("%q: S3 reserves the prefixes xn--, sthree- and amzn-s3-demo-", name)
	case strings.HasSuffix(name, "-s3alias") || strings.HasSuffix(name, "--ol-s3") || strings.HasSuffix(name, ".mrap") || strings.HasSuffix(name, "--x-s3"):
		return fmt.Errorf("%q: S3 reserves the suffixes -s3alias, --ol-s3, .mrap and --x-s3", name)
	}
	return nil
}

// compactPolicy returns a permissions policy document without whitespace,
// or why it is not one: a JSON object with a Version and a Statement.
func compactPolicy(doc string) (string, error) {
	var p struct {
		Version   *string         `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return "", fmt.Errorf("not a JSON policy document: %w", err)
	}
	switch {
	case p.Version == nil:
		return "", errors.New(`the policy has no "Version": add "Version": "2012-10-17"`)
	case *p.Version != "2012-10-17" && *p.Version != "2008-10-17":
		return "", fmt.Errorf(`the policy's Version is %q: IAM knows "2012-10-17" (use it) and "2008-10-17"`, *p.Version)
	}
	var statement any
	_ = json.Unmarshal(p.Statement, &statement)
	switch s := statement.(type) {
	case map[string]any:
	case []any:
		if len(s) == 0 {
			return "", errors.New(`the policy's "Statement" is empty`)
		}
	default:
		return "", errors.New(`the policy has no "Statement" (a list of statements)`)
	}
	return compact(doc)
}
