package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/irsa-dev/irsa/internal/localcluster"
	"github.com/irsa-dev/irsa/internal/oidc"
)

// The issuer is under example.com because the client of an httptest TLS
// server trusts that server and dials it for every *.example.com:443, so
// discovery runs over real https to the real issuer URL.
const (
	testIssuer  = "https://oidc.example.com/cluster"
	namespace   = "apps"
	accountName = "app"
	stsAudience = "sts.amazonaws.com"
)

var (
	// cluster is one real kube-apiserver shared by the package's tests: it
	// signs every token they verify unless a test says otherwise.
	cluster *localcluster.Cluster
	// keys is the cluster's key set, as irsa oidc keys builds it.
	keys jose.JSONWebKeySet
	// issuerServer publishes the cluster's issuer documents, and a few
	// broken issuers next to it.
	issuerServer *httptest.Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "irsa-token-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cluster, err = localcluster.Start(dir, localcluster.Options{Issuer: testIssuer})
	if err != nil {
		fmt.Fprintln(os.Stderr, "token: cannot start the test cluster:", err)
		return 1
	}
	defer cluster.Stop()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "token: test setup:", err)
		return 1
	}
	defer issuerServer.Close()
	return m.Run()
}

func setup() error {
	ctx := context.Background()
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: accountName}}
	if _, err := cluster.Client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		return err
	}
	public := []crypto.PublicKey{&cluster.SigningKey.PublicKey}
	var err error
	if keys, err = oidc.KeySet(public, oidc.KeySetOptions{}); err != nil {
		return err
	}
	mux := http.NewServeMux()
	path := func(issuer, doc string) string {
		u, _ := url.Parse(issuer)
		return u.Path + doc
	}
	// The cluster's issuer, as irsa publishes it.
	discovery, err := oidc.NewDiscovery(testIssuer, public)
	if err != nil {
		return err
	}
	mux.Handle(path(testIssuer, oidc.DiscoveryPath), serveJSON(discovery))
	mux.Handle(path(testIssuer, oidc.KeySetPath), serveJSON(keys))
	// An issuer whose key set is missing.
	noKeys := "https://oidc.example.com/no-keys"
	d, err := oidc.NewDiscovery(noKeys, public)
	if err != nil {
		return err
	}
	mux.Handle(path(noKeys, oidc.DiscoveryPath), serveJSON(d))
	// An issuer that allows ES256 only.
	esOnly := "https://oidc.example.com/es-only"
	d = discovery
	d.Issuer, d.IDTokenSigningAlgValuesSupported = esOnly, []string{"ES256"}
	mux.Handle(path(esOnly, oidc.DiscoveryPath), serveJSON(d))
	issuerServer = httptest.NewTLSServer(mux)
	return nil
}

func serveJSON(v any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	})
}

// mint has the cluster issue a token for the test ServiceAccount, bound to
// pod when it is not nil.
func mint(t *testing.T, audience string, seconds int64, pod *corev1.Pod) string {
	t.Helper()
	spec := authenticationv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: ptr.To(seconds)}
	if pod != nil {
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}
	}
	tr, err := cluster.Client.CoreV1().ServiceAccounts(namespace).CreateToken(t.Context(), accountName, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// sign signs claims with key, with kid in the header unless it is empty.
func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts.WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// claimsLike returns claims as the cluster would sign them now.
func claimsLike(audience string) jwt.Claims {
	now := time.Now()
	return jwt.Claims{
		Issuer:    testIssuer,
		Subject:   "system:serviceaccount:" + namespace + ":" + accountName,
		Audience:  jwt.Audience{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(10 * time.Minute)),
	}
}

func unverifiedClaims(t *testing.T, raw string) jwt.Claims {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, signingAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func discovering() Options {
	return Options{Audience: stsAudience, HTTPClient: issuerServer.Client()}
}

func withKeys(set jose.JSONWebKeySet) Options {
	return Options{Audience: stsAudience, KeySet: &set}
}

func TestVerifyDiscoversTheIssuer(t *testing.T) {
	kid, err := oidc.KeyID(&cluster.SigningKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	raw := mint(t, stsAudience, 3600, nil)
	for _, issuer := range []string{"", testIssuer} {
		opts := discovering()
		opts.Issuer = issuer
		c, err := Verify(t.Context(), raw, opts)
		if err != nil {
			t.Fatalf("issuer %q: %v", issuer, err)
		}
		u := unverifiedClaims(t, raw)
		want := Claims{
			Issuer:         testIssuer,
			Subject:        "system:serviceaccount:" + namespace + ":" + accountName,
			Audience:       []string{stsAudience},
			Expiry:         u.Expiry.Time(),
			NotBefore:      u.NotBefore.Time(),
			IssuedAt:       u.IssuedAt.Time(),
			KeyID:          kid,
			Algorithm:      "RS256",
			Namespace:      namespace,
			ServiceAccount: accountName,
		}
		if got, want := toJSON(t, c), toJSON(t, want); got != want {
			t.Errorf("issuer %q: claims\n%s\nwant\n%s", issuer, got, want)
		}
	}
}

func TestVerifyPodBoundToken(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{
			ServiceAccountName: accountName,
			Containers:         []corev1.Container{{Name: "app", Image: "registry.example/app:1"}},
		},
	}
	pod, err := cluster.Client.CoreV1().Pods(namespace).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(t.Context(), mint(t, stsAudience, 3600, pod), discovering())
	if err != nil {
		t.Fatal(err)
	}
	if c.Pod != "web" || c.Namespace != namespace || c.ServiceAccount != accountName {
		t.Errorf("claims %+v: want pod web of %s/%s", c, namespace, accountName)
	}
}

// TestVerifyKeySetFile verifies against keys.json as read from a file.
func TestVerifyKeySetFile(t *testing.T) {
	data, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	set, err := oidc.ParseKeySet(data)
	if err != nil {
		t.Fatal(err)
	}
	raw := mint(t, stsAudience, 3600, nil)
	for _, issuer := range []string{"", testIssuer} {
		c, err := Verify(t.Context(), raw, Options{Audience: stsAudience, Issuer: issuer, KeySet: set})
		if err != nil {
			t.Fatalf("issuer %q: %v", issuer, err)
		}
		if c.ServiceAccount != accountName || c.Issuer != testIssuer {
			t.Errorf("claims %+v", c)
		}
	}
}

// TestVerifyLegacyEmptyKeyID: tokens without a key id verify only against
// a key set that publishes the key without one too.
func TestVerifyLegacyEmptyKeyID(t *testing.T) {
	raw := sign(t, jose.RS256, cluster.SigningKey, "", claimsLike(stsAudience))
	_, err := Verify(t.Context(), raw, withKeys(keys))
	wantCheck(t, err, CheckKeyID, `key id ""`, "--legacy-empty-kid")

	legacy, err := oidc.KeySet([]crypto.PublicKey{&cluster.SigningKey.PublicKey}, oidc.KeySetOptions{LegacyEmptyKeyID: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(t.Context(), raw, withKeys(legacy)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFailures(t *testing.T) {
	good := mint(t, stsAudience, 600, nil)
	goodClaims := unverifiedClaims(t, good)
	kid, err := oidc.KeyID(&cluster.SigningKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := oidc.KeySet([]crypto.PublicKey{&other.PublicKey}, oidc.KeySetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	closed := httptest.NewTLSServer(http.NotFoundHandler())
	unreachable := closed.Client()
	closed.Close()

	tests := []struct {
		name  string
		raw   string
		opts  Options
		check Check
		// reason holds what the reason must say.
		reason []string
	}{
		{name: "empty", raw: "", opts: discovering(), check: CheckMalformed},
		{name: "not a JWT", raw: "not-a-token", opts: discovering(), check: CheckMalformed, reason: []string{"header.payload.signature"}},
		{name: "payload not JSON", raw: replacePart(t, good, 1, []byte("[1,2]")), opts: discovering(), check: CheckMalformed, reason: []string{"JSON claims"}},
		{name: "tampered", raw: tamper(t, good), opts: discovering(), check: CheckSignature, reason: []string{kid, "altered"}},
		{name: "tampered, key set file", raw: tamper(t, good), opts: withKeys(keys), check: CheckSignature},
		{
			name: "expired", raw: good, check: CheckExpired,
			opts:   at(discovering(), goodClaims.Expiry.Time().Add(time.Hour)),
			reason: []string{"expired at " + goodClaims.Expiry.Time().UTC().Format(time.RFC3339), "1h0m0s before"},
		},
		{
			name: "not yet valid", raw: good, check: CheckNotYetValid,
			opts:   at(discovering(), goodClaims.NotBefore.Time().Add(-10*time.Minute)),
			reason: []string{"not valid before " + goodClaims.NotBefore.Time().UTC().Format(time.RFC3339), "clock"},
		},
		{name: "wrong audience", raw: mint(t, "other", 600, nil), opts: discovering(), check: CheckAudience, reason: []string{`for "other"`, `expected "sts.amazonaws.com"`}},
		{name: "wrong audience, key set file", raw: good, opts: Options{Audience: "other", KeySet: &keys}, check: CheckAudience, reason: []string{`for "sts.amazonaws.com"`, `expected "other"`}},
		{
			name: "issuer with trailing slash", raw: good, check: CheckIssuer,
			opts:   Options{Audience: stsAudience, Issuer: testIssuer + "/", KeySet: &keys},
			reason: []string{`iss is "` + testIssuer + `"`, `expected "` + testIssuer + `/"`, "trailing slash"},
		},
		{
			name: "issuer on another host", raw: good, check: CheckIssuer,
			opts:   Options{Audience: stsAudience, Issuer: "https://other.example.com/cluster", KeySet: &keys},
			reason: []string{`expected "https://other.example.com/cluster"`},
		},
		{
			name: "discovery of an issuer with trailing slash", raw: good, check: CheckDiscovery,
			opts:   Options{Audience: stsAudience, Issuer: testIssuer + "/", HTTPClient: issuerServer.Client()},
			reason: []string{`names issuer "` + testIssuer + `"`, "trailing slash"},
		},
		{
			name: "discovery on another host", raw: good, check: CheckDiscovery,
			opts:   Options{Audience: stsAudience, Issuer: "https://other.example.com/cluster", HTTPClient: issuerServer.Client()},
			reason: []string{`names issuer "` + testIssuer + `"`, `expected "https://other.example.com/cluster"`},
		},
		{
			name: "discovery document missing", raw: good, check: CheckDiscovery,
			opts:   Options{Audience: stsAudience, Issuer: "https://oidc.example.com/nowhere", HTTPClient: issuerServer.Client()},
			reason: []string{"https://oidc.example.com/nowhere/.well-known/openid-configuration", "404", `token's iss is "` + testIssuer + `"`},
		},
		{
			name: "issuer unreachable", raw: good, check: CheckDiscovery,
			opts:   Options{Audience: stsAudience, HTTPClient: unreachable},
			reason: []string{testIssuer + "/.well-known/openid-configuration", "connection refused"},
		},
		{
			name: "issuer not https", raw: good, check: CheckDiscovery,
			opts:   Options{Audience: stsAudience, Issuer: "http://oidc.example.com/cluster", HTTPClient: issuerServer.Client()},
			reason: []string{"https"},
		},
		{
			name: "key set missing", raw: good, check: CheckKeySet,
			opts:   Options{Audience: stsAudience, Issuer: "https://oidc.example.com/no-keys", HTTPClient: issuerServer.Client()},
			reason: []string{"https://oidc.example.com/no-keys/keys.json", "404"},
		},
		{name: "key id not in key set", raw: good, opts: withKeys(otherKeys), check: CheckKeyID, reason: []string{kid, otherKeys.Keys[0].KeyID, "every current and next"}},
		{
			name: "algorithm the issuer does not allow", raw: good, check: CheckAlgorithm,
			opts:   Options{Audience: stsAudience, Issuer: "https://oidc.example.com/es-only", HTTPClient: issuerServer.Client()},
			reason: []string{"RS256", "allows only ES256"},
		},
		{name: "algorithm of another key", raw: sign(t, jose.ES256, other, kid, claimsLike(stsAudience)), opts: withKeys(keys), check: CheckAlgorithm, reason: []string{"signed with ES256", "RS256"}},
		{name: "symmetric algorithm", raw: sign(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), kid, claimsLike(stsAudience)), opts: withKeys(keys), check: CheckAlgorithm, reason: []string{"HS256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(t.Context(), tt.raw, tt.opts)
			if err == nil {
				t.Fatalf("verified: %+v", c)
			}
			t.Log(err)
			wantCheck(t, err, tt.check, tt.reason...)
		})
	}
}

// TestVerifyErrorsWrapTheLibrary: callers can reach go-oidc's typed errors.
func TestVerifyErrorsWrapTheLibrary(t *testing.T) {
	good := mint(t, stsAudience, 600, nil)
	_, err := Verify(t.Context(), good, at(discovering(), time.Now().Add(2*time.Hour)))
	if expired := (*gooidc.TokenExpiredError)(nil); !errors.As(err, &expired) {
		t.Errorf("expired: %v does not wrap *oidc.TokenExpiredError", err)
	}
	opts := discovering()
	opts.Issuer = testIssuer + "/"
	_, err = Verify(t.Context(), good, opts)
	if mismatch := (*gooidc.IssuerMismatchError)(nil); !errors.As(err, &mismatch) {
		t.Errorf("issuer mismatch: %v does not wrap *oidc.IssuerMismatchError", err)
	}
}

func TestVerifyNeedsAnAudience(t *testing.T) {
	_, err := Verify(t.Context(), "x", Options{})
	if err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("err = %v", err)
	}
}

func wantCheck(t *testing.T, err error, check Check, reason ...string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want a *VerifyError", err, err)
	}
	if ve.Check != check {
		t.Errorf("check %s, want %s: %v", ve.Check, check, err)
	}
	if !strings.HasPrefix(err.Error(), string(check)+": ") {
		t.Errorf("error %q does not start with %q", err, check)
	}
	for _, r := range reason {
		if !strings.Contains(ve.Reason, r) {
			t.Errorf("reason %q does not say %q", ve.Reason, r)
		}
	}
}

func at(opts Options, now time.Time) Options {
	opts.Now = func() time.Time { return now }
	return opts
}

// tamper changes the subject of raw and keeps its signature.
func tamper(t *testing.T, raw string) string {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = "system:serviceaccount:kube-system:admin"
	data, err = json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return replacePart(t, raw, 1, data)
}

func replacePart(t *testing.T, raw string, i int, data []byte) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	parts[i] = base64.RawURLEncoding.EncodeToString(data)
	return strings.Join(parts, ".")
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
