// Package identity resolves the AWS identity a pod's ServiceAccount is bound
// to: from ServiceAccount annotations kept in a small cache, from a mapping
// ConfigMap, or from Pod Identity associations.
package identity

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/irsa-dev/irsa/internal/mutate"
)

// Annotation names, each under the configured prefix.
const (
	AnnotationRoleARN           = "role-arn"
	AnnotationAudience          = "audience"
	AnnotationRegionalEndpoints = "sts-regional-endpoints"
	AnnotationTokenExpiration   = "token-expiration"
	AnnotationSessionName       = "session-name"
)

// ErrInvalidAnnotation marks a ServiceAccount whose annotations cannot be used.
var ErrInvalidAnnotation = errors.New("invalid annotation")

// ErrInvalidRoleARN marks an invalid role annotation, which, unlike an
// invalid optional annotation, leaves the ServiceAccount's pods without a
// role. It is an ErrInvalidAnnotation and reads the same.
var ErrInvalidRoleARN error = invalidRoleARN{}

type invalidRoleARN struct{}

func (invalidRoleARN) Error() string { return ErrInvalidAnnotation.Error() }
func (invalidRoleARN) Unwrap() error { return ErrInvalidAnnotation }

// roleARN matches arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, with IAM's
// character rules for paths and role names.
var roleARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::[0-9]{12}:role/([\x21-\x7e]+/)?[\w+=,.@-]{1,64}$`)

// ValidRoleARN reports why arn is not a usable IAM role ARN, or nil.
func ValidRoleARN(arn string) error {
	if !roleARN.MatchString(arn) {
		return fmt.Errorf("%q is not an IAM role ARN of the form arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME", arn)
	}
	return nil
}

// Keys returns the full annotation keys read for prefix; anything else on a
// ServiceAccount is dropped before it reaches the cache.
func Keys(prefix string) []string {
	return []string{
		prefix + "/" + AnnotationRoleARN,
		prefix + "/" + AnnotationAudience,
		prefix + "/" + AnnotationRegionalEndpoints,
		prefix + "/" + AnnotationTokenExpiration,
		prefix + "/" + AnnotationSessionName,
	}
}

// FromAnnotations returns the identity a ServiceAccount's annotations bind
// it to. ok is false when there is no role annotation. An invalid role ARN is
// an error wrapping ErrInvalidAnnotation; invalid optional annotations are
// reported the same way but do not stop injection of the role.
func FromAnnotations(prefix string, annotations map[string]string) (id mutate.Identity, ok bool, err error) {
	arn, found := annotations[prefix+"/"+AnnotationRoleARN]
	if !found {
		return id, false, nil
	}
	arn = strings.TrimSpace(arn)
	if err := ValidRoleARN(arn); err != nil {
		return id, false, fmt.Errorf("%w %s/%s: %w", ErrInvalidRoleARN, prefix, AnnotationRoleARN, err)
	}
	id = mutate.Identity{Mode: mutate.ModeWebIdentity, RoleARN: arn}
	var problems []error
	if v := strings.TrimSpace(annotations[prefix+"/"+AnnotationAudience]); v != "" {
		id.Audience = v
	}
	if v, found := annotations[prefix+"/"+AnnotationRegionalEndpoints]; found {
		b, perr := strconv.ParseBool(strings.TrimSpace(v))
		if perr != nil {
			problems = append(problems, fmt.Errorf("%w %s/%s=%q: want true or false", ErrInvalidAnnotation, prefix, AnnotationRegionalEndpoints, v))
		} else {
			id.RegionalSTS = &b
		}
	}
	if v, found := annotations[prefix+"/"+AnnotationTokenExpiration]; found {
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch {
		case perr != nil:
			problems = append(problems, fmt.Errorf("%w %s/%s=%q: want whole seconds", ErrInvalidAnnotation, prefix, AnnotationTokenExpiration, v))
		default:
			id.TokenExpiration = mutate.ClampExpiration(n)
		}
	}
	if v, found := annotations[prefix+"/"+AnnotationSessionName]; found {
		if fromPod, ok := mutate.ParseSessionName(v); ok {
			id.SessionNameFromPod = &fromPod
		} else {
			problems = append(problems, fmt.Errorf("%w %s/%s=%q: want %s or %s", ErrInvalidAnnotation, prefix, AnnotationSessionName, v, mutate.SessionNamePod, mutate.SessionNameOff))
		}
	}
	return id, true, errors.Join(problems...)
}
