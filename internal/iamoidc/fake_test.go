package iamoidc_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/progress"
)

// fakeIAM is an in-memory IAM for what moto cannot do (add a client ID)
// or cannot be made to answer (access denied, quotas). It records every
// call as "Action arg".
type fakeIAM struct {
	providers map[string]*iam.GetOpenIDConnectProviderOutput
	// fail, when it names an action, is that action's answer.
	fail  map[string]error
	calls []string
}

func newFake() *fakeIAM {
	return &fakeIAM{providers: map[string]*iam.GetOpenIDConnectProviderOutput{}, fail: map[string]error{}}
}

func (f *fakeIAM) call(action, arg string) error {
	f.calls = append(f.calls, strings.TrimSpace(action+" "+arg))
	return f.fail[action]
}

func (f *fakeIAM) ListOpenIDConnectProviders(_ context.Context, _ *iam.ListOpenIDConnectProvidersInput, _ ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error) {
	if err := f.call("ListOpenIDConnectProviders", ""); err != nil {
		return nil, err
	}
	out := &iam.ListOpenIDConnectProvidersOutput{}
	for arn := range f.providers {
		out.OpenIDConnectProviderList = append(out.OpenIDConnectProviderList, iamtypes.OpenIDConnectProviderListEntry{Arn: aws.String(arn)})
	}
	return out, nil
}

func (f *fakeIAM) GetOpenIDConnectProvider(_ context.Context, in *iam.GetOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.GetOpenIDConnectProviderOutput, error) {
	arn := aws.ToString(in.OpenIDConnectProviderArn)
	if err := f.call("GetOpenIDConnectProvider", arn); err != nil {
		return nil, err
	}
	p, ok := f.providers[arn]
	if !ok {
		return nil, &iamtypes.NoSuchEntityException{Message: aws.String("no provider " + arn)}
	}
	c := *p
	c.ClientIDList, c.ThumbprintList = slices.Clone(p.ClientIDList), slices.Clone(p.ThumbprintList)
	return &c, nil
}

func (f *fakeIAM) CreateOpenIDConnectProvider(_ context.Context, in *iam.CreateOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.CreateOpenIDConnectProviderOutput, error) {
	hostPath := strings.TrimPrefix(aws.ToString(in.Url), "https://")
	if err := f.call("CreateOpenIDConnectProvider", hostPath); err != nil {
		return nil, err
	}
	arn := "arn:aws:iam::123456789012:oidc-provider/" + hostPath
	if _, ok := f.providers[arn]; ok {
		return nil, &iamtypes.EntityAlreadyExistsException{}
	}
	f.providers[arn] = &iam.GetOpenIDConnectProviderOutput{
		Url: aws.String(hostPath), ClientIDList: in.ClientIDList, ThumbprintList: in.ThumbprintList, Tags: in.Tags,
	}
	return &iam.CreateOpenIDConnectProviderOutput{OpenIDConnectProviderArn: &arn}, nil
}

func (f *fakeIAM) AddClientIDToOpenIDConnectProvider(_ context.Context, in *iam.AddClientIDToOpenIDConnectProviderInput, _ ...func(*iam.Options)) (*iam.AddClientIDToOpenIDConnectProviderOutput, error) {
	if err := f.call("AddClientIDToOpenIDConnectProvider", aws.ToString(in.ClientID)); err != nil {
		return nil, err
	}
	p := f.providers[aws.ToString(in.OpenIDConnectProviderArn)]
	if !slices.Contains(p.ClientIDList, aws.ToString(in.ClientID)) {
		p.ClientIDList = append(p.ClientIDList, aws.ToString(in.ClientID))
	}
	return &iam.AddClientIDToOpenIDConnectProviderOutput{}, nil
}

func (f *fakeIAM) UpdateOpenIDConnectProviderThumbprint(_ context.Context, in *iam.UpdateOpenIDConnectProviderThumbprintInput, _ ...func(*iam.Options)) (*iam.UpdateOpenIDConnectProviderThumbprintOutput, error) {
	if err := f.call("UpdateOpenIDConnectProviderThumbprint", strings.Join(in.ThumbprintList, ",")); err != nil {
		return nil, err
	}
	f.providers[aws.ToString(in.OpenIDConnectProviderArn)].ThumbprintList = in.ThumbprintList
	return &iam.UpdateOpenIDConnectProviderThumbprintOutput{}, nil
}

// writes are the recorded calls that change something.
func (f *fakeIAM) writes() []string {
	return slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool {
		return strings.HasPrefix(c, "List") || strings.HasPrefix(c, "Get")
	})
}

func TestEnsureAddsMissingClientIDs(t *testing.T) {
	fake := newFake()
	arn := providerARN("oidc.example.com/c1")
	fake.providers[arn] = &iam.GetOpenIDConnectProviderOutput{
		Url: aws.String("oidc.example.com/c1"), ClientIDList: []string{"their-app"}, ThumbprintList: []string{thumbA},
	}
	opts := iamoidc.Options{Issuer: "https://oidc.example.com/c1", Audiences: []string{"extra"}, Thumbprint: thumbA}
	res, err := iamoidc.Ensure(context.Background(), fake, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"AddClientIDToOpenIDConnectProvider sts.amazonaws.com", "AddClientIDToOpenIDConnectProvider extra"}
	if !slices.Equal(fake.writes(), want) {
		t.Errorf("writes = %q, want %q", fake.writes(), want)
	}
	if got := fake.providers[arn].ClientIDList; !slices.Equal(got, []string{"their-app", iamoidc.STSAudience, "extra"}) {
		t.Errorf("ClientIDList = %v", got)
	}
	step := stepNamed(t, res, "client IDs")
	if step.Outcome != progress.Updated || step.Detail != "added sts.amazonaws.com, extra; kept their-app, not asked for" {
		t.Errorf("client IDs step = %+v", step)
	}
	if len(fake.providers[arn].Tags) != 0 {
		t.Errorf("someone else's provider was tagged")
	}

	fake.calls = nil
	again, err := iamoidc.Ensure(context.Background(), fake, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() || len(fake.writes()) != 0 {
		t.Errorf("second run: steps %+v, writes %q", again.Steps, fake.writes())
	}
}

func TestEnsureRejectsBeforeAnyCall(t *testing.T) {
	for _, opts := range []iamoidc.Options{
		{Issuer: "https://oidc.example.com/c1/", Thumbprint: thumbA},
		{Issuer: "http://oidc.example.com/c1", Thumbprint: thumbA},
		{Issuer: "https://oidc.example.com:8443/c1", Thumbprint: thumbA},
		{Issuer: "https://oidc.example.com/c1", Thumbprint: "aa:bb"},
		{Issuer: "https://oidc.example.com/c1", Thumbprint: thumbA, Audiences: []string{""}},
	} {
		fake := newFake()
		if _, err := iamoidc.Ensure(context.Background(), fake, opts); err == nil {
			t.Errorf("%+v: no error", opts)
		}
		if len(fake.calls) != 0 {
			t.Errorf("%+v: IAM was called: %q", opts, fake.calls)
		}
	}
}

func TestOptionsValidateNamesEveryField(t *testing.T) {
	err := iamoidc.Options{Issuer: "https://oidc.example.com/", Thumbprint: "xyz", Audiences: []string{"ok", ""}}.Validate()
	for _, want := range []string{"issuer: ", "ends in a slash", "thumbprint: ", "40 hexadecimal digits", "audience: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	if err := (iamoidc.Options{Issuer: "https://oidc.example.com", Thumbprint: strings.ToUpper(thumbA)}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestOptionsClientIDs(t *testing.T) {
	for _, tc := range []struct {
		audiences, want []string
	}{
		{nil, []string{"sts.amazonaws.com"}},
		{[]string{"b", "a", "b"}, []string{"sts.amazonaws.com", "b", "a"}},
		{[]string{"a", "sts.amazonaws.com"}, []string{"sts.amazonaws.com", "a"}},
	} {
		if got := (iamoidc.Options{Audiences: tc.audiences}).ClientIDs(); !slices.Equal(got, tc.want) {
			t.Errorf("ClientIDs(%q) = %q, want %q", tc.audiences, got, tc.want)
		}
	}
}

func TestEnsureAccessDeniedNamesTheAction(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "User is not authorized"}
	for action, want := range map[string][]string{
		"ListOpenIDConnectProviders":  {"iam:ListOpenIDConnectProviders"},
		"CreateOpenIDConnectProvider": {"iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"},
	} {
		fake := newFake()
		fake.fail[action] = denied
		_, err := iamoidc.Ensure(context.Background(), fake, iamoidc.Options{Issuer: "https://oidc.example.com/c1", Thumbprint: thumbA})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
			t.Errorf("%s denied: err = %v does not wrap the AWS error", action, err)
		}
		for _, w := range append(want, "access denied") {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s denied: err = %v, want it to name %q", action, err, w)
			}
		}
	}
	fake := newFake()
	arn := providerARN("oidc.example.com/c1")
	fake.providers[arn] = &iam.GetOpenIDConnectProviderOutput{Url: aws.String("oidc.example.com/c1"), ClientIDList: []string{"x"}, ThumbprintList: []string{thumbA}}
	fake.fail["AddClientIDToOpenIDConnectProvider"] = denied
	_, err := iamoidc.Ensure(context.Background(), fake, iamoidc.Options{Issuer: "https://oidc.example.com/c1", Thumbprint: thumbA})
	if err == nil || !strings.Contains(err.Error(), "the credentials need iam:AddClientIDToOpenIDConnectProvider") {
		t.Errorf("add denied: err = %v", err)
	}
}

func TestEnsureQuotaReached(t *testing.T) {
	fake := newFake()
	fake.fail["CreateOpenIDConnectProvider"] = &iamtypes.LimitExceededException{Message: aws.String("Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100")}
	_, err := iamoidc.Ensure(context.Background(), fake, iamoidc.Options{Issuer: "https://oidc.example.com/c1", Thumbprint: thumbA})
	var limit *iamtypes.LimitExceededException
	if !errors.As(err, &limit) || !strings.Contains(err.Error(), "quota") {
		t.Errorf("err = %v", err)
	}
}
