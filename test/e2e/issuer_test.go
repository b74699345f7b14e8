package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/cli"
	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/motoserver"
	"github.com/irsa-dev/irsa/internal/s3issuer"
	"github.com/irsa-dev/irsa/internal/token"
)

// TestPublishedIssuerVerifiesClusterTokens is the issuer chain end to end:
// a cluster whose issuer is an S3 bucket, `irsa oidc publish --from-cluster`
// into moto, and tokens minted by that kube-apiserver verified the way STS
// does against the documents as published, fetched anonymously.
func TestPublishedIssuerVerifiesClusterTokens(t *testing.T) {
	ctx := context.Background()
	const bucket, region = "irsa-e2e-issuer", "us-east-1"
	issuer, err := s3issuer.IssuerURL(bucket, region)
	if err != nil {
		t.Fatal(err)
	}
	c, err := localcluster.Start(t.TempDir(), localcluster.Options{Issuer: issuer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	moto, err := motoserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(moto.Stop)
	for k, v := range moto.Env() {
		t.Setenv(k, v)
	}

	irsa := func(args ...string) (string, error) {
		cmd := cli.NewRootCommand(ctx)
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(args)
		err := cmd.Execute()
		t.Logf("irsa %s:\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
		return out.String(), err
	}
	out, err := irsa("oidc", "publish", "--bucket", bucket, "--region", region, "--from-cluster", "--kubeconfig", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Issuer: "+issuer+"\n") {
		t.Fatalf("publish printed no issuer %s", issuer)
	}

	ns := "apps"
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mint := func(audience string) string {
		tr, err := c.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: ptr.To[int64](600)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	// moto's HTTP client fetches https://BUCKET.s3.REGION.amazonaws.com/...
	// from the bucket in moto, without credentials.
	opts := token.Options{Audience: "sts.amazonaws.com", Issuer: issuer, HTTPClient: moto.HTTPClient()}

	good := mint("sts.amazonaws.com")
	claims, err := token.Verify(ctx, good, opts)
	if err != nil {
		t.Fatalf("a token of the cluster does not verify against its published issuer: %v", err)
	}
	if claims.Subject != "system:serviceaccount:apps:app" || claims.Issuer != issuer {
		t.Errorf("claims %+v", claims)
	}

	// Another ServiceAccount's name in the claims, the signature kept.
	parts := strings.Split(good, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = bytes.ReplaceAll(payload, []byte("apps:app"), []byte("apps:adm"))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	expired := opts
	expired.Now = func() time.Time { return time.Now().Add(time.Hour) }
	slash := opts
	slash.Issuer = issuer + "/"
	for _, tc := range []struct {
		name  string
		raw   string
		opts  token.Options
		check token.Check
	}{
		{"tampered", tampered, opts, token.CheckSignature},
		{"expired", good, expired, token.CheckExpired},
		{"wrong audience", mint("vault"), opts, token.CheckAudience},
		{"issuer with a trailing slash", good, slash, token.CheckDiscovery},
	} {
		_, err := token.Verify(ctx, tc.raw, tc.opts)
		var verr *token.VerifyError
		if !errors.As(err, &verr) || verr.Check != tc.check {
			t.Errorf("%s: err = %v, want check %s", tc.name, err, tc.check)
		}
	}

	// Publishing again from the same cluster changes nothing.
	out, err = irsa("oidc", "publish", "--bucket", bucket, "--region", region, "--from-cluster", "--kubeconfig", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "created") || strings.Contains(out, "updated") {
		t.Errorf("second publish changed something:\n%s", out)
	}
}
