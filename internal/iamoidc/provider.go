// Package iamoidc makes sure AWS IAM has the OpenID Connect identity
// provider of a cluster's issuer, with the client IDs and the TLS
// thumbprint AWS STS needs, without duplicating it or taking anything away
// from a provider someone else made.
package iamoidc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/irsa-dev/irsa/internal/awserr"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

// IAMAPI is the part of the IAM client Ensure uses.
type IAMAPI interface {
	ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
	GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
	CreateOpenIDConnectProvider(context.Context, *iam.CreateOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.CreateOpenIDConnectProviderOutput, error)
	AddClientIDToOpenIDConnectProvider(context.Context, *iam.AddClientIDToOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.AddClientIDToOpenIDConnectProviderOutput, error)
	UpdateOpenIDConnectProviderThumbprint(context.Context, *iam.UpdateOpenIDConnectProviderThumbprintInput, ...func(*iam.Options)) (*iam.UpdateOpenIDConnectProviderThumbprintOutput, error)
}

// STSAudience is the client ID AWS STS accepts tokens for; every provider
// irsa makes has it.
const STSAudience = "sts.amazonaws.com"

// MaxThumbprints is how many thumbprints IAM keeps on one provider.
const MaxThumbprints = 5

// ErrThumbprintsFull says a provider already holds MaxThumbprints other
// thumbprints, so the wanted one could not be added.
var ErrThumbprintsFull = errors.New("the provider already has the most thumbprints IAM allows")

// Options say which provider to make sure of.
type Options struct {
	// Issuer is the issuer URL, exactly as the cluster's tokens carry it.
	Issuer string
	// Audiences are client IDs wanted besides STSAudience.
	Audiences []string
	// Thumbprint, when set, is used instead of fetching it from the issuer.
	Thumbprint string
	// Dial reaches the issuer's host for its thumbprint; nil means directly.
	Dial DialFunc
	// RootCAs verify the issuer's certificate chain; nil means the system's.
	RootCAs *x509.CertPool
	// Report, when set, is told of each step as it ends.
	Report func(progress.Step)
}

// Validate returns every reason the options cannot be used, each naming
// its field.
func (o Options) Validate() error {
	var errs []error
	if err := oidc.ValidateIssuer(o.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	}
	for _, a := range o.Audiences {
		if a == "" || len(a) > 255 {
			errs = append(errs, fmt.Errorf("audience: %q: IAM client IDs are 1 to 255 characters", a))
		}
	}
	if o.Thumbprint != "" {
		if err := ValidateThumbprint(o.Thumbprint); err != nil {
			errs = append(errs, fmt.Errorf("thumbprint: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ClientIDs returns the client IDs the provider must have: STSAudience,
// then the audiences in their order, each once.
func (o Options) ClientIDs() []string {
	ids := []string{STSAudience}
	for _, a := range o.Audiences {
		if !slices.Contains(ids, a) {
			ids = append(ids, a)
		}
	}
	return ids
}

// Result is what Ensure did.
type Result struct {
	// ARN is the provider's ARN, which role trust policies name.
	ARN   string
	Steps []progress.Step
}

// Changed reports whether any step changed something in AWS.
func (r Result) Changed() bool { return progress.Changed(r.Steps) }

// Ensure makes sure IAM has exactly one OIDC identity provider for the
// issuer, with every wanted client ID and the issuer's current thumbprint.
// It only adds: client IDs and thumbprints already there are kept, and the
// tags of a provider irsa did not create are left alone. A second run
// changes nothing.
func Ensure(ctx context.Context, api IAMAPI, opts Options) (Result, error) {
	e := &ensurer{api: api, opts: opts}
	if err := opts.Validate(); err != nil {
		return e.result, err
	}
	// IAM names the provider, and trust policies its condition keys, by
	// the issuer without its scheme.
	hostPath := strings.TrimPrefix(opts.Issuer, "https://")
	thumbprint := strings.ToLower(opts.Thumbprint)
	host, _, _ := strings.Cut(hostPath, "/")
	switch {
	case thumbprint != "":
	case TrustedByAWS(host):
		e.report(progress.Step{Name: "TLS thumbprint of " + host + ":443", Outcome: progress.Skipped, Detail: "IAM checks S3 and CloudFront hosts against its own trusted CAs"})
	default:
		var err error
		if thumbprint, err = Thumbprint(ctx, opts.Issuer, opts.Dial, opts.RootCAs); err != nil {
			return e.result, err
		}
		e.report(progress.Step{Name: "TLS thumbprint of " + host + ":443", Outcome: progress.Checked, Detail: thumbprint + ", last certificate served"})
	}
	arn, current, err := e.find(ctx, hostPath)
	if err != nil {
		return e.result, err
	}
	if current == nil {
		err := e.create(ctx, hostPath, thumbprint)
		var exists *iamtypes.EntityAlreadyExistsException
		if !errors.As(err, &exists) {
			return e.result, err
		}
		// Someone made it between the listing and the create: make sure
		// of theirs instead.
		if arn, current, err = e.find(ctx, hostPath); err != nil {
			return e.result, err
		}
		if current == nil {
			return e.result, fmt.Errorf("IAM says the provider for %s exists but does not list it: run again", hostPath)
		}
	}
	e.result.ARN = arn
	detail := ""
	if !ownership.Owned(tagMap(current.Tags)) {
		detail = "not created by irsa: its tags are left alone"
	}
	e.report(progress.Step{Name: "identity provider " + hostPath, Outcome: progress.Unchanged, Detail: detail})
	if err := e.clientIDs(ctx, arn, current.ClientIDList); err != nil {
		return e.result, err
	}
	return e.result, e.thumbprints(ctx, arn, current.ThumbprintList, thumbprint)
}

type ensurer struct {
	api    IAMAPI
	opts   Options
	result Result
}

func (e *ensurer) report(s progress.Step) {
	e.result.Steps = append(e.result.Steps, s)
	if e.opts.Report != nil {
		e.opts.Report(s)
	}
}

// ProviderLister is the part of the IAM client Find uses.
type ProviderLister interface {
	ListOpenIDConnectProviders(context.Context, *iam.ListOpenIDConnectProvidersInput, ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error)
	GetOpenIDConnectProvider(context.Context, *iam.GetOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error)
}

// ErrNoProvider says IAM has no OIDC identity provider for an issuer.
var ErrNoProvider = errors.New("no IAM OIDC identity provider for the issuer")

// Find returns the ARN and description of the IAM OIDC identity provider
// for exactly issuer, or ErrNoProvider with the command that creates it.
func Find(ctx context.Context, api ProviderLister, issuer string) (string, *iam.GetOpenIDConnectProviderOutput, error) {
	if err := oidc.ValidateIssuer(issuer); err != nil {
		return "", nil, err
	}
	arn, got, err := find(ctx, api, strings.TrimPrefix(issuer, "https://"))
	if err == nil && got == nil {
		err = fmt.Errorf("%w %s: create it with irsa aws provider create --issuer %s", ErrNoProvider, issuer, issuer)
	}
	return arn, got, err
}

func (e *ensurer) find(ctx context.Context, hostPath string) (string, *iam.GetOpenIDConnectProviderOutput, error) {
	return find(ctx, e.api, hostPath)
}

// find returns the provider for exactly hostPath, or a nil provider if
// there is none.
func find(ctx context.Context, api ProviderLister, hostPath string) (string, *iam.GetOpenIDConnectProviderOutput, error) {
	list, err := api.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return "", nil, awserr.Action("iam:ListOpenIDConnectProviders", "the account", err)
	}
	// The ARN ends in the provider's URL without its scheme; the colon
	// keeps b.example.com from matching a.b.example.com.
	suffix := ":oidc-provider/" + hostPath
	for _, entry := range list.OpenIDConnectProviderList {
		arn := aws.ToString(entry.Arn)
		if !strings.HasSuffix(arn, suffix) {
			continue
		}
		got, err := api.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
		var gone *iamtypes.NoSuchEntityException
		if errors.As(err, &gone) {
			continue
		}
		if err != nil {
			return "", nil, awserr.Action("iam:GetOpenIDConnectProvider", arn, err)
		}
		if strings.TrimPrefix(aws.ToString(got.Url), "https://") == hostPath {
			return arn, got, nil
		}
	}
	return "", nil, nil
}

// create makes the provider; it returns the error IAM answered, typed, so
// that a provider made meanwhile by someone else can be told apart.
func (e *ensurer) create(ctx context.Context, hostPath, thumbprint string) error {
	tags := ownership.Tags(e.opts.Issuer)
	var tagList []iamtypes.Tag
	for _, k := range []string{ownership.TagKey, ownership.IssuerTagKey} {
		tagList = append(tagList, iamtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	ids := e.opts.ClientIDs()
	out, err := e.api.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url:            aws.String(e.opts.Issuer),
		ClientIDList:   ids,
		ThumbprintList: thumbprintList(thumbprint),
		Tags:           tagList,
	})
	var exists *iamtypes.EntityAlreadyExistsException
	var limit *iamtypes.LimitExceededException
	switch {
	case errors.As(err, &exists):
		return err
	case errors.As(err, &limit):
		return fmt.Errorf("create the identity provider for %s: an IAM quota is reached (at most 100 OIDC providers per account, 100 client IDs per provider): delete providers no cluster uses: %w", hostPath, err)
	case awserr.IsAccessDenied(err):
		return fmt.Errorf("create the identity provider for %s: access denied: the credentials need iam:CreateOpenIDConnectProvider and iam:TagOpenIDConnectProvider (IAM requires both to create a tagged provider): %w", hostPath, err)
	case err != nil:
		return fmt.Errorf("iam:CreateOpenIDConnectProvider for %s: %w", hostPath, err)
	}
	e.result.ARN = aws.ToString(out.OpenIDConnectProviderArn)
	e.report(progress.Step{Name: "identity provider " + hostPath, Outcome: progress.Created, Detail: "tagged " + ownership.TagKey + "=" + ownership.TagValue})
	e.report(progress.Step{Name: "client IDs", Outcome: progress.Created, Detail: strings.Join(ids, ", ")})
	if thumbprint != "" {
		e.report(progress.Step{Name: "thumbprints", Outcome: progress.Created, Detail: thumbprint})
	}
	return nil
}

// thumbprintList is the thumbprints to create a provider with: none lets
// IAM use its trusted CAs or fetch the thumbprint itself.
func thumbprintList(thumbprint string) []string {
	if thumbprint == "" {
		return nil
	}
	return []string{thumbprint}
}

// TrustedByAWS reports whether IAM verifies host's certificate with its own
// library of trusted CAs, so a thumbprint is neither needed nor used: S3
// and CloudFront hosts.
func TrustedByAWS(host string) bool {
	for _, suffix := range []string{".amazonaws.com", ".amazonaws.com.cn", ".cloudfront.net"} {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// clientIDs adds each wanted client ID the provider lacks, one call each
// as IAM requires, and keeps every other one.
func (e *ensurer) clientIDs(ctx context.Context, arn string, have []string) error {
	want := e.opts.ClientIDs()
	var added, others []string
	for _, id := range want {
		if slices.Contains(have, id) {
			continue
		}
		_, err := e.api.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn, ClientID: aws.String(id)})
		var limit *iamtypes.LimitExceededException
		if errors.As(err, &limit) {
			return fmt.Errorf("add client ID %q to %s: the provider has the most client IDs IAM allows (100): %w", id, arn, err)
		}
		if err != nil {
			return awserr.Action("iam:AddClientIDToOpenIDConnectProvider", arn, err)
		}
		added = append(added, id)
	}
	for _, id := range have {
		if !slices.Contains(want, id) {
			others = append(others, id)
		}
	}
	step := progress.Step{Name: "client IDs", Outcome: progress.Unchanged, Detail: strings.Join(want, ", ")}
	if len(added) > 0 {
		step.Outcome, step.Detail = progress.Updated, "added "+strings.Join(added, ", ")
	}
	if len(others) > 0 {
		step.Detail += "; kept " + strings.Join(others, ", ") + ", not asked for"
	}
	e.report(step)
	return nil
}

// thumbprints adds want to the provider's thumbprints unless it is there;
// the others stay, since clients may still be served the old chain.
func (e *ensurer) thumbprints(ctx context.Context, arn string, have []string, want string) error {
	name := "thumbprints"
	if want == "" {
		return nil
	}
	if slices.ContainsFunc(have, func(t string) bool { return strings.EqualFold(t, want) }) {
		e.report(progress.Step{Name: name, Outcome: progress.Unchanged, Detail: want})
		return nil
	}
	if len(have) >= MaxThumbprints {
		return fmt.Errorf("add thumbprint %s to %s: %w (%d: %s); remove one no longer served (aws iam update-open-id-connect-provider-thumbprint) and run again",
			want, arn, ErrThumbprintsFull, MaxThumbprints, strings.Join(have, ", "))
	}
	list := append(slices.Clone(have), want)
	_, err := e.api.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{OpenIDConnectProviderArn: &arn, ThumbprintList: list})
	if err != nil {
		return awserr.Action("iam:UpdateOpenIDConnectProviderThumbprint", arn, err)
	}
	detail := "added " + want
	if len(have) > 0 {
		detail += "; kept " + strings.Join(have, ", ")
	}
	e.report(progress.Step{Name: name, Outcome: progress.Updated, Detail: detail})
	return nil
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// ProviderDeleter is the part of the IAM client Delete uses.
type ProviderDeleter interface {
	ProviderLister
	DeleteOpenIDConnectProvider(context.Context, *iam.DeleteOpenIDConnectProviderInput, ...func(*iam.Options)) (*iam.DeleteOpenIDConnectProviderOutput, error)
}

// Delete removes the provider for issuer when irsa created it, and leaves
// one someone else made.
func Delete(ctx context.Context, api ProviderDeleter, issuer string) (progress.Step, error) {
	name := "identity provider " + strings.TrimPrefix(issuer, "https://")
	arn, got, err := Find(ctx, api, issuer)
	if errors.Is(err, ErrNoProvider) {
		return progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "not there"}, nil
	}
	if err != nil {
		return progress.Step{}, err
	}
	if !ownership.Owned(tagMap(got.Tags)) {
		return progress.Step{Name: name, Outcome: progress.Unchanged, Detail: "kept: irsa did not create it"}, nil
	}
	if _, err := api.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn}); err != nil {
		return progress.Step{}, awserr.Action("iam:DeleteOpenIDConnectProvider", arn, err)
	}
	return progress.Step{Name: name, Outcome: progress.Deleted}, nil
}
