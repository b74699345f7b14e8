package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestTokenRequestVerifiesAgainstClusterKey mints a token the way the
// kubelet does for a projected volume and verifies it against a JWKS built
// from the API server's public key, with the key id computed as
// kube-apiserver computes it.
func TestTokenRequestVerifiesAgainstClusterKey(t *testing.T) {
	ns := newNamespace(t)
	createServiceAccount(t, ns, "app", testRole)
	tr, err := cluster.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), "app", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	der, err := x509.MarshalPKIXPublicKey(&cluster.SigningKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &cluster.SigningKey.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}}

	tok, err := jwt.ParseSigned(tr.Status.Token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Headers[0].KeyID; got != kid {
		t.Fatalf("token kid %q, want %q (base64url SHA-256 of the DER public key)", got, kid)
	}
	keys := jwks.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", kid)
	}
	var claims jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with the cluster's public key: %v", err)
	}
	want := jwt.Expected{
		Issuer:      cluster.Issuer,
		AnyAudience: jwt.Audience{"sts.amazonaws.com"},
		Subject:     "system:serviceaccount:" + ns + ":app",
		Time:        time.Now(),
	}
	if err := claims.Validate(want); err != nil {
		t.Fatalf("claims %+v: %v", claims, err)
	}
}
