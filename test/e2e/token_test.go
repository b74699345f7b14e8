package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/cli"
	"github.com/irsa-dev/irsa/internal/localcluster"
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

// TestOIDCKeysFromCluster reads the signing keys of the live cluster the
// way `irsa oidc keys --from-cluster` does, with OpenShift's ConfigMap of
// rotation keys present: every key of it is published, not just the first.
func TestOIDCKeysFromCluster(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var pems []string
	var wantKids []string
	for range 2 {
		key, _, pub, err := localcluster.NewSigningKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(pub)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, string(data))
		kid, err := oidc.KeyID(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		wantKids = append(wantKids, kid)
	}
	clusterKid, err := oidc.KeyID(&cluster.SigningKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	wantKids = append(wantKids, clusterKid)
	slices.Sort(wantKids)

	keysFromCluster := func() (jose.JSONWebKeySet, error) {
		var set jose.JSONWebKeySet
		cmd := cli.NewOIDCCommand()
		var out, notes bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&notes)
		cmd.SetArgs([]string{"keys", "--from-cluster", "--kubeconfig", cluster.Kubeconfig})
		if err := cmd.ExecuteContext(ctx); err != nil {
			return set, err
		}
		t.Logf("notes:\n%s", notes.String())
		return set, json.Unmarshal(out.Bytes(), &set)
	}
	kids := func(set jose.JSONWebKeySet) []string {
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}

	// A plain Kubernetes cluster: the API server's key.
	set, err := keysFromCluster()
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(set); !slices.Equal(got, []string{clusterKid}) {
		t.Fatalf("kids %v, want the API server's %s", got, clusterKid)
	}

	// OpenShift: the ConfigMap holds the current and the next keys.
	_, err = cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: oidc.OpenShiftKeysNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cms := cluster.Client.CoreV1().ConfigMaps(oidc.OpenShiftKeysNamespace)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: oidc.OpenShiftKeysConfigMap},
		Data:       map[string]string{"service-account-001.pub": pems[0], "service-account-002.pub": pems[1]},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), oidc.OpenShiftKeysConfigMap, metav1.DeleteOptions{}) })
	set, err = keysFromCluster()
	if err != nil {
		t.Fatal(err)
	}
	if got := kids(set); !slices.Equal(got, wantKids) {
		t.Fatalf("kids %v, want %v", got, wantKids)
	}

	// A key that does not parse is an error naming it, not a silently
	// shorter key set.
	cm.Data["service-account-003.pub"] = "not a key"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keysFromCluster(); err == nil || !strings.Contains(err.Error(), "service-account-003.pub") {
		t.Fatalf("unparsable key: err = %v", err)
	}
}
