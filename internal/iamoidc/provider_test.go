package iamoidc_test

import (
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/irsa-dev/irsa/internal/iamoidc"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/ownership"
	"github.com/irsa-dev/irsa/internal/progress"
)

var moto *motoserver.Server

func TestMain(m *testing.M) { os.Exit(motoserver.RunTests(m, &moto)) }

const (
	thumbA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	thumbB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// newIAM resets the emulator and returns a client for it. It makes one
// attempt per call: moto's 500s are not worth retrying, and a retry
// would only slow the test that expects one.
func newIAM(t *testing.T) *iam.Client {
	t.Helper()
	cfg := moto.Fresh(t, "us-east-1")
	return iam.NewFromConfig(cfg, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
}

func providerARN(hostPath string) string {
	return "arn:aws:iam::" + motoserver.Account + ":oidc-provider/" + hostPath
}

func getProvider(t *testing.T, client *iam.Client, arn string) *iam.GetOpenIDConnectProviderOutput {
	t.Helper()
	out, err := client.GetOpenIDConnectProvider(context.Background(), &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func listProviders(t *testing.T, client *iam.Client) []string {
	t.Helper()
	out, err := client.ListOpenIDConnectProviders(context.Background(), &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, p := range out.OpenIDConnectProviderList {
		arns = append(arns, aws.ToString(p.Arn))
	}
	slices.Sort(arns)
	return arns
}

// createDirectly makes a provider the way someone else would, without
// irsa and without tags.
func createDirectly(t *testing.T, client *iam.Client, issuer string, clientIDs, thumbprints []string) string {
	t.Helper()
	out, err := client.CreateOpenIDConnectProvider(context.Background(), &iam.CreateOpenIDConnectProviderInput{
		Url: &issuer, ClientIDList: clientIDs, ThumbprintList: thumbprints,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.OpenIDConnectProviderArn)
}

func tags(out *iam.GetOpenIDConnectProviderOutput) map[string]string {
	m := map[string]string{}
	for _, t := range out.Tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func outcomes(res iamoidc.Result) map[string]progress.Outcome {
	m := map[string]progress.Outcome{}
	for _, s := range res.Steps {
		m[s.Name] = s.Outcome
	}
	return m
}

func stepNamed(t *testing.T, res iamoidc.Result, name string) progress.Step {
	t.Helper()
	for _, s := range res.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, res.Steps)
	return progress.Step{}
}

func TestEnsureCreatesThenChangesNothing(t *testing.T) {
	client := newIAM(t)
	ctx := context.Background()
	issuer := "https://oidc.example.com/cluster-1"
	opts := iamoidc.Options{
		Issuer:     issuer,
		Audiences:  []string{"extra", iamoidc.STSAudience, "extra"},
		Thumbprint: strings.ToUpper(thumbA),
	}
	var reported []progress.Step
	opts.Report = func(s progress.Step) { reported = append(reported, s) }
	first, err := iamoidc.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantARN := providerARN("oidc.example.com/cluster-1")
	if first.ARN != wantARN {
		t.Errorf("ARN = %s, want %s", first.ARN, wantARN)
	}
	if !slices.Equal(reported, first.Steps) {
		t.Errorf("reported %+v, result has %+v", reported, first.Steps)
	}
	want := map[string]progress.Outcome{
		"identity provider oidc.example.com/cluster-1": progress.Created,
		"client IDs":  progress.Created,
		"thumbprints": progress.Created,
	}
	if got := outcomes(first); !maps.Equal(got, want) {
		t.Errorf("first run: %v, want %v", got, want)
	}
	got := getProvider(t, client, first.ARN)
	if aws.ToString(got.Url) != "oidc.example.com/cluster-1" {
		t.Errorf("Url = %q", aws.ToString(got.Url))
	}
	if want := []string{iamoidc.STSAudience, "extra"}; !slices.Equal(got.ClientIDList, want) {
		t.Errorf("ClientIDList = %v, want %v", got.ClientIDList, want)
	}
	if want := []string{thumbA}; !slices.Equal(got.ThumbprintList, want) {
		t.Errorf("ThumbprintList = %v, want %v", got.ThumbprintList, want)
	}
	if want := ownership.Tags(issuer); !maps.Equal(tags(got), want) {
		t.Errorf("tags = %v, want %v", tags(got), want)
	}

	second, err := iamoidc.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.ARN != first.ARN {
		t.Errorf("second run ARN = %s, want %s", second.ARN, first.ARN)
	}
	if second.Changed() {
		t.Errorf("second run changed something: %+v", second.Steps)
	}
	for _, s := range second.Steps {
		if s.Outcome != progress.Unchanged {
			t.Errorf("second run: %+v", s)
		}
	}
	if arns := listProviders(t, client); !slices.Equal(arns, []string{wantARN}) {
		t.Errorf("providers = %v, want only %s", arns, wantARN)
	}
}

func TestEnsureFetchesThumbprint(t *testing.T) {
	client := newIAM(t)
	p := newPKI(t)
	opts := iamoidc.Options{
		Issuer:  "https://" + issuerHost + "/cluster-1",
		Dial:    serveTLS(t, p.leaf.key, p.leaf.cert, p.intermediate.cert),
		RootCAs: p.roots,
	}
	res, err := iamoidc.Ensure(context.Background(), client, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := sha1Hex(p.intermediate.cert)
	if s := res.Steps[0]; s.Outcome != progress.Checked || !strings.HasPrefix(s.Detail, want) {
		t.Errorf("first step = %+v, want the checked thumbprint %s", s, want)
	}
	if got := getProvider(t, client, res.ARN).ThumbprintList; !slices.Equal(got, []string{want}) {
		t.Errorf("ThumbprintList = %v, want the intermediate's [%s]", got, want)
	}
}

func TestEnsureMatchesExactIssuer(t *testing.T) {
	client := newIAM(t)
	ctx := context.Background()
	ids := []string{iamoidc.STSAudience}
	for _, near := range []string{"https://a.example.com/x/", "https://a.example.com/x2", "https://a.example.com", "https://b.a.example.com/x"} {
		createDirectly(t, client, near, ids, []string{thumbA})
	}
	res, err := iamoidc.Ensure(ctx, client, iamoidc.Options{Issuer: "https://a.example.com/x", Thumbprint: thumbA})
	if err != nil {
		t.Fatal(err)
	}
	if want := providerARN("a.example.com/x"); res.ARN != want {
		t.Errorf("ARN = %s, want %s", res.ARN, want)
	}
	if o := outcomes(res)["identity provider a.example.com/x"]; o != progress.Created {
		t.Errorf("a provider for a neighbouring issuer was taken for https://a.example.com/x: %+v", res.Steps)
	}
	if n := len(listProviders(t, client)); n != 5 {
		t.Errorf("%d providers, want 5", n)
	}
}

func TestEnsureLeavesSomeoneElsesProviderTags(t *testing.T) {
	client := newIAM(t)
	issuer := "https://oidc.example.com/theirs"
	arn := createDirectly(t, client, issuer, []string{iamoidc.STSAudience, "their-app"}, []string{thumbA})
	res, err := iamoidc.Ensure(context.Background(), client, iamoidc.Options{Issuer: issuer, Thumbprint: thumbA})
	if err != nil {
		t.Fatal(err)
	}
	if res.ARN != arn {
		t.Errorf("ARN = %s, want theirs %s", res.ARN, arn)
	}
	if s := stepNamed(t, res, "identity provider oidc.example.com/theirs"); s.Outcome != progress.Unchanged || !strings.Contains(s.Detail, "not created by irsa") {
		t.Errorf("provider step = %+v", s)
	}
	if s := stepNamed(t, res, "client IDs"); s.Outcome != progress.Unchanged || !strings.Contains(s.Detail, "kept their-app") {
		t.Errorf("client IDs step = %+v", s)
	}
	got := getProvider(t, client, arn)
	if len(got.Tags) != 0 {
		t.Errorf("someone else's provider was tagged: %v", tags(got))
	}
	if want := []string{iamoidc.STSAudience, "their-app"}; !slices.Equal(got.ClientIDList, want) {
		t.Errorf("ClientIDList = %v, want %v", got.ClientIDList, want)
	}
}

func TestEnsureAddsRotatedThumbprint(t *testing.T) {
	client := newIAM(t)
	ctx := context.Background()
	opts := iamoidc.Options{Issuer: "https://oidc.example.com/rotating", Thumbprint: thumbA}
	if _, err := iamoidc.Ensure(ctx, client, opts); err != nil {
		t.Fatal(err)
	}
	opts.Thumbprint = thumbB
	res, err := iamoidc.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := stepNamed(t, res, "thumbprints"); s.Outcome != progress.Updated || s.Detail != "added "+thumbB+"; kept "+thumbA {
		t.Errorf("thumbprints step = %+v", s)
	}
	if got := getProvider(t, client, res.ARN).ThumbprintList; !slices.Equal(got, []string{thumbA, thumbB}) {
		t.Errorf("ThumbprintList = %v, want the old and the new", got)
	}
	again, err := iamoidc.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed() {
		t.Errorf("third run changed something: %+v", again.Steps)
	}
}

func TestEnsureThumbprintsFull(t *testing.T) {
	client := newIAM(t)
	issuer := "https://oidc.example.com/full"
	var full []string
	for _, c := range "01234" {
		full = append(full, strings.Repeat(string(c), 40))
	}
	arn := createDirectly(t, client, issuer, []string{iamoidc.STSAudience}, full)
	_, err := iamoidc.Ensure(context.Background(), client, iamoidc.Options{Issuer: issuer, Thumbprint: thumbA})
	if !errors.Is(err, iamoidc.ErrThumbprintsFull) {
		t.Fatalf("err = %v, want ErrThumbprintsFull", err)
	}
	if got := getProvider(t, client, arn).ThumbprintList; !slices.Equal(got, full) {
		t.Errorf("ThumbprintList = %v, want the five kept", got)
	}
}

// racingIAM hides every provider from the first listing, as if another
// run created the provider between Ensure's listing and its create.
type racingIAM struct {
	iamoidc.IAMAPI
	listed bool
}

func (r *racingIAM) ListOpenIDConnectProviders(ctx context.Context, in *iam.ListOpenIDConnectProvidersInput, opts ...func(*iam.Options)) (*iam.ListOpenIDConnectProvidersOutput, error) {
	if !r.listed {
		r.listed = true
		return &iam.ListOpenIDConnectProvidersOutput{}, nil
	}
	return r.IAMAPI.ListOpenIDConnectProviders(ctx, in, opts...)
}

func TestEnsureRaceOnCreate(t *testing.T) {
	client := newIAM(t)
	issuer := "https://oidc.example.com/raced"
	arn := createDirectly(t, client, issuer, []string{iamoidc.STSAudience}, []string{thumbA})
	res, err := iamoidc.Ensure(context.Background(), &racingIAM{IAMAPI: client}, iamoidc.Options{Issuer: issuer, Thumbprint: thumbA})
	if err != nil {
		t.Fatal(err)
	}
	if res.ARN != arn || res.Changed() {
		t.Errorf("ARN %s, steps %+v: want %s and nothing changed", res.ARN, res.Steps, arn)
	}
	if arns := listProviders(t, client); !slices.Equal(arns, []string{arn}) {
		t.Errorf("providers = %v", arns)
	}
}

// Moto 5.2.1 answers AddClientIDToOpenIDConnectProvider (and
// RemoveClientIDFromOpenIDConnectProvider) with HTTP 500: it does not
// implement them. Adding a missing client ID to an existing provider is
// therefore tested with a hand-written fake in fake_test.go; here, against
// moto, the 500 must come back as an error naming the action, with nothing
// else changed.
func TestEnsureAddClientIDFailsCleanlyOnMoto(t *testing.T) {
	client := newIAM(t)
	issuer := "https://oidc.example.com/no-sts"
	arn := createDirectly(t, client, issuer, []string{"their-app"}, []string{thumbA})
	_, err := iamoidc.Ensure(context.Background(), client, iamoidc.Options{Issuer: issuer, Thumbprint: thumbB})
	if err == nil {
		t.Fatal("moto now implements AddClientIDToOpenIDConnectProvider: test adding a client ID against it instead of the fake")
	}
	if !strings.Contains(err.Error(), "iam:AddClientIDToOpenIDConnectProvider on "+arn) {
		t.Errorf("err = %v, want it to name the action and the provider", err)
	}
	got := getProvider(t, client, arn)
	if !slices.Equal(got.ClientIDList, []string{"their-app"}) || !slices.Equal(got.ThumbprintList, []string{thumbA}) || len(got.Tags) != 0 {
		t.Errorf("provider changed after the failure: %+v", got)
	}
	if arns := listProviders(t, client); !slices.Equal(arns, []string{arn}) {
		t.Errorf("providers = %v, want only %s", arns, arn)
	}
}

// TestEnsureS3IssuerNeedsNoThumbprint: IAM trusts S3 and CloudFront hosts'
// certificates itself, so none is fetched or stored for them.
func TestEnsureS3IssuerNeedsNoThumbprint(t *testing.T) {
	client := newIAM(t)
	issuer := "https://irsa-issuer.s3.eu-west-1.amazonaws.com"
	opts := iamoidc.Options{Issuer: issuer, Dial: func(context.Context, string, string) (net.Conn, error) {
		t.Error("dialed the issuer of an S3 bucket")
		return nil, errors.New("no dialing")
	}}
	res, err := iamoidc.Ensure(context.Background(), client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps[0].Outcome != progress.Skipped {
		t.Errorf("thumbprint step %+v", res.Steps[0])
	}
	if got := getProvider(t, client, res.ARN); len(got.ThumbprintList) != 0 {
		t.Errorf("thumbprints %v", got.ThumbprintList)
	}
	again, err := iamoidc.Ensure(context.Background(), client, opts)
	if err != nil || again.Changed() {
		t.Errorf("second run: %+v, %v", again.Steps, err)
	}

	arn, _, err := iamoidc.Find(context.Background(), client, issuer)
	if err != nil || arn != res.ARN {
		t.Errorf("Find: %q, %v; want %q", arn, err, res.ARN)
	}
	_, _, err = iamoidc.Find(context.Background(), client, issuer+"x")
	if !errors.Is(err, iamoidc.ErrNoProvider) || !strings.Contains(err.Error(), "irsa aws provider create --issuer "+issuer+"x") {
		t.Errorf("Find of a missing provider: %v", err)
	}
	for host, want := range map[string]bool{
		"b.s3.us-east-1.amazonaws.com": true, "d1.cloudfront.net": true, "b.s3.cn-north-1.amazonaws.com.cn": true,
		"oidc.example.com": false, "amazonaws.com.evil.example": false,
	} {
		if got := iamoidc.TrustedByAWS(host); got != want {
			t.Errorf("TrustedByAWS(%s) = %v", host, got)
		}
	}
}
