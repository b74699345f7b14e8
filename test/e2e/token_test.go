package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/oidc"
)

// TestTokenRequestVerifiesAgainstOurKeySet mints a token the way the
// kubelet does for a projected volume and verifies it against the key set
// `irsa oidc keys` builds from the API server's key file: the key id must be
// the one kube-apiserver puts in its tokens and publishes itself.
func TestTokenRequestVerifiesAgainstOurKeySet(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	createServiceAccount(t, ns, "app", testRole)
	tr, err := cluster.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"sts.amazonaws.com"}, ExpirationSeconds: ptr.To[int64](600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	pem, err := os.ReadFile(cluster.PublicKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := oidc.ParsePublicKeys(pem)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := oidc.KeySet(keys, oidc.KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The API server's own key set names the key the same way.
	raw, err := cluster.Client.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var theirs jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &theirs); err != nil {
		t.Fatal(err)
	}
	if len(theirs.Keys) != 1 || len(ours.Keys) != 1 || theirs.Keys[0].KeyID != ours.Keys[0].KeyID {
		t.Fatalf("kube-apiserver publishes %s, we build %s", toJSON(theirs), toJSON(ours))
	}

	tok, err := jwt.ParseSigned(tr.Status.Token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := tok.Headers[0].KeyID
	match := ours.Key(kid)
	if len(match) != 1 {
		t.Fatalf("token kid %q not in our key set %s", kid, toJSON(ours))
	}
	var claims jwt.Claims
	if err := tok.Claims(match[0].Key, &claims); err != nil {
		t.Fatalf("signature does not verify with our key set: %v", err)
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
