// Package token verifies ServiceAccount tokens the way AWS STS does before
// AssumeRoleWithWebIdentity: discovery document, key set, signature, then
// the iss, aud, exp and nbf claims. When a check fails it says which one, and
// what to change, in words a cluster operator can act on.
package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	irsaoidc "github.com/irsa-dev/irsa/internal/oidc"
)

// Options say what a token must satisfy and where its keys come from.
type Options struct {
	// Audience must be one of the token's aud values.
	Audience string
	// Issuer is the expected iss; empty means the token's own iss, which is
	// then also where discovery starts.
	Issuer string
	// KeySet, when set, holds the keys to verify against and no issuer
	// documents are fetched.
	KeySet *jose.JSONWebKeySet
	// HTTPClient fetches the discovery document and key set; nil means a
	// client with a 30 second timeout.
	HTTPClient *http.Client
	// Now is the clock for exp and nbf; nil means time.Now.
	Now func() time.Time
}

// Claims are what a verified token says about itself.
type Claims struct {
	// Issuer is the iss claim.
	Issuer string `json:"issuer"`
	// Subject is the sub claim: system:serviceaccount:NAMESPACE:NAME.
	Subject string `json:"subject"`
	// Audience is the aud claim.
	Audience []string `json:"audience"`
	// Expiry is the exp claim.
	Expiry time.Time `json:"expiry"`
	// NotBefore is the nbf claim, zero when absent.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// IssuedAt is the iat claim, zero when absent.
	IssuedAt time.Time `json:"issuedAt,omitzero"`
	// KeyID is the kid of the signing key, from the header.
	KeyID string `json:"kid"`
	// Algorithm is the signature algorithm, from the header.
	Algorithm string `json:"alg"`
	// Namespace is the ServiceAccount's namespace, from the kubernetes.io claim.
	Namespace string `json:"namespace,omitempty"`
	// ServiceAccount is the ServiceAccount's name, from the kubernetes.io claim.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Pod is the name of the pod a bound token is for, from the kubernetes.io claim.
	Pod string `json:"pod,omitempty"`
}

// Check names the verification step a token failed.
type Check string

// The checks, in the order a relying party makes them.
const (
	// CheckMalformed: the token is not a signed JWT with JSON claims.
	CheckMalformed Check = "malformed"
	// CheckDiscovery: the issuer's discovery document is unreachable,
	// invalid, or names another issuer.
	CheckDiscovery Check = "discovery"
	// CheckKeySet: the key set is unreachable or invalid.
	CheckKeySet Check = "keyset"
	// CheckKeyID: no key in the key set has the token's key id.
	CheckKeyID Check = "key-id"
	// CheckAlgorithm: the token's algorithm is not one the key or issuer allows.
	CheckAlgorithm Check = "algorithm"
	// CheckSignature: the key is there but the signature does not verify.
	CheckSignature Check = "signature"
	// CheckIssuer: the token's iss is not the expected issuer.
	CheckIssuer Check = "issuer"
	// CheckAudience: the token's aud does not list the expected audience.
	CheckAudience Check = "audience"
	// CheckExpired: the token's exp has passed.
	CheckExpired Check = "expired"
	// CheckNotYetValid: the token's nbf is in the future.
	CheckNotYetValid Check = "not-yet-valid"
)

// VerifyError is a failed check, with the reason in a user's terms.
type VerifyError struct {
	// Check is the check that failed.
	Check Check
	// Reason says why, and what to change.
	Reason string
	// Err is the library's error, when there is one.
	Err error
}

// Error returns the check and the reason.
func (e *VerifyError) Error() string { return string(e.Check) + ": " + e.Reason }

// Unwrap returns the library error behind the verdict.
func (e *VerifyError) Unwrap() error { return e.Err }

func fail(check Check, err error, format string, args ...any) *VerifyError {
	return &VerifyError{Check: check, Reason: fmt.Sprintf(format, args...), Err: err}
}

// documentLimit caps the key set we read: one is a few kilobytes, and a
// misconfigured jwks_uri can point at anything.
const documentLimit = 1 << 20

// signingAlgorithms are the algorithms go-oidc verifies; relying parties
// accept no symmetric algorithm and never "none".
var signingAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// payload is the part of the claims we read before and after go-oidc does.
type payload struct {
	jwt.Claims
	Kubernetes *struct {
		Namespace      string `json:"namespace"`
		ServiceAccount *struct {
			Name string `json:"name"`
		} `json:"serviceaccount"`
		Pod *struct {
			Name string `json:"name"`
		} `json:"pod"`
	} `json:"kubernetes.io"`
}

// unverified is the token as written, read without trusting it, to explain
// a failure go-oidc reports without detail.
type unverified struct {
	kid, alg string
	claims   payload
}

// Verify checks raw as AWS STS would for opts.Audience and returns its
// claims, or a *VerifyError naming the check that failed.
func Verify(ctx context.Context, raw string, opts Options) (*Claims, error) {
	if opts.Audience == "" {
		return nil, errors.New("token: no audience to verify the token for")
	}
	tok, err := parse(raw)
	if err != nil {
		return nil, err
	}
	issuer := opts.Issuer
	if issuer == "" {
		if tok.claims.Issuer == "" {
			return nil, fail(CheckMalformed, nil, "the token has no iss claim: give the expected issuer")
		}
		issuer = tok.claims.Issuer
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}

	keys := opts.KeySet
	var algs []string
	if keys == nil {
		if keys, algs, err = discover(ctx, client, issuer, tok.claims.Issuer); err != nil {
			return nil, err
		}
	} else {
		// Without a discovery document the keys say which algorithms go.
		for _, k := range keys.Keys {
			for _, alg := range keyAlgorithms(k) {
				if !slices.Contains(algs, alg) {
					algs = append(algs, alg)
				}
			}
		}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	a := &attempt{tok: tok, issuer: issuer, audience: opts.Audience, keys: keys, algs: algs, now: now()}
	return a.verify(ctx, raw)
}

// parse reads the header and claims of raw without verifying anything.
func parse(raw string) (*unverified, error) {
	if raw == "" {
		return nil, fail(CheckMalformed, nil, "the token is empty")
	}
	jws, err := jose.ParseSignedCompact(raw, signingAlgorithms)
	if alg := (*jose.ErrUnexpectedSignatureAlgorithm)(nil); errors.As(err, &alg) {
		return nil, fail(CheckAlgorithm, err, "the token is signed with %s; relying parties accept only %s", alg.Got, joinAlgs(signingAlgorithms))
	}
	if err != nil {
		return nil, fail(CheckMalformed, err, "not a signed JWT (header.payload.signature, base64url): %v", err)
	}
	tok := &unverified{kid: jws.Signatures[0].Header.KeyID, alg: jws.Signatures[0].Header.Algorithm}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &tok.claims); err != nil {
		return nil, fail(CheckMalformed, err, "the token's payload is not a JSON claims object: %v", err)
	}
	return tok, nil
}

// discover fetches the issuer's discovery document with go-oidc, then its
// key set, and returns the keys and the signing algorithms the document
// allows.
func discover(ctx context.Context, client *http.Client, issuer, tokenIssuer string) (*jose.JSONWebKeySet, []string, error) {
	// When the expected issuer is not the token's, the discovery failure is
	// often the real mistake; say what the token names.
	note := ""
	if tokenIssuer != issuer {
		note = fmt.Sprintf(" (the token's iss is %q%s)", tokenIssuer, slashHint(tokenIssuer, issuer))
	}
	if !strings.HasPrefix(issuer, "https://") {
		return nil, nil, fail(CheckDiscovery, nil, "issuer %q is not an https URL: AWS fetches issuer documents over https only%s", issuer, note)
	}
	docURL := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if mismatch := (*oidc.IssuerMismatchError)(nil); errors.As(err, &mismatch) {
		return nil, nil, fail(CheckDiscovery, err, "the discovery document at %s names issuer %q, expected %q%s: AWS requires the document's issuer, the tokens' iss and the IAM OIDC provider URL to be identical",
			docURL, mismatch.Discovered, mismatch.Provided, slashHint(mismatch.Discovered, mismatch.Provided))
	}
	if err != nil {
		return nil, nil, fail(CheckDiscovery, err, "cannot get the discovery document %s: %s%s. AWS STS reads it there, over https on port 443, without credentials: publish it (irsa oidc discovery) where anyone can read it", docURL, oneLine(err), note)
	}
	var meta struct {
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, nil, fail(CheckDiscovery, err, "cannot read the discovery document %s: %v", docURL, err)
	}
	if meta.JWKSURI == "" {
		return nil, nil, fail(CheckDiscovery, nil, "the discovery document %s has no jwks_uri", docURL)
	}
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(signingAlgorithms, jose.SignatureAlgorithm(a)) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		// What go-oidc assumes when the document lists none.
		algs = []string{oidc.RS256}
	}
	keys, err := fetchKeySet(ctx, client, meta.JWKSURI)
	if err != nil {
		return nil, nil, fail(CheckKeySet, err, "%v. AWS STS fetches the jwks_uri of the discovery document: publish the key set there (irsa oidc keys) where anyone can read it", err)
	}
	return keys, algs, nil
}

func fetchKeySet(ctx context.Context, client *http.Client, url string) (*jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot get the key set %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot get the key set %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, documentLimit))
	if err != nil {
		return nil, fmt.Errorf("cannot read the key set %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("cannot get the key set %s: %s", url, resp.Status)
	}
	keys, err := irsaoidc.ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("key set %s: %w", url, err)
	}
	return keys, nil
}

// keyAlgorithms returns the signing algorithms key can verify.
func keyAlgorithms(key jose.JSONWebKey) []string {
	if key.Algorithm != "" {
		return []string{key.Algorithm}
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		return []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512}
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return []string{oidc.ES256}
		case 384:
			return []string{oidc.ES384}
		case 521:
			return []string{oidc.ES512}
		}
	case ed25519.PublicKey:
		return []string{oidc.EdDSA}
	}
	return nil
}

// recordingKeySet is go-oidc's static key set, remembering whether go-oidc
// got as far as the signature and what it said, so a failure can be told
// apart from a claim check's.
type recordingKeySet struct {
	oidc.StaticKeySet
	called bool
	err    error
}

func (s *recordingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	s.called = true
	payload, err := s.StaticKeySet.VerifySignature(ctx, jwt)
	s.err = err
	return payload, err
}

// attempt is one verification: what is expected, the keys offered, and
// what go-oidc got to.
type attempt struct {
	tok              *unverified
	issuer, audience string
	keys             *jose.JSONWebKeySet
	// named are the keys with the token's key id; usable those of them
	// for the token's algorithm.
	named, usable []jose.JSONWebKey
	algs          []string
	now           time.Time
	signature     recordingKeySet
}

// verify lets go-oidc verify raw against the keys whose key id is the
// token's, as AWS STS selects them, and explains a failure.
func (a *attempt) verify(ctx context.Context, raw string) (*Claims, error) {
	for _, k := range a.keys.Keys {
		if k.KeyID == a.tok.kid {
			a.named = append(a.named, k)
			if slices.Contains(keyAlgorithms(k), a.tok.alg) {
				a.usable = append(a.usable, k)
				a.signature.PublicKeys = append(a.signature.PublicKeys, k.Key)
			}
		}
	}
	// One instant for go-oidc's verdict and for our explanation of it.
	now := func() time.Time { return a.now }
	verifier := oidc.NewVerifier(a.issuer, &a.signature, &oidc.Config{ClientID: a.audience, SupportedSigningAlgs: a.algs, Now: now})
	idToken, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, a.explain(err)
	}

	var p payload
	if err := idToken.Claims(&p); err != nil {
		return nil, fail(CheckMalformed, err, "the token's claims: %v", err)
	}
	return p.claims(a.tok.kid, a.tok.alg), nil
}

// claims is what the payload says, with the header's key id and algorithm.
func (p payload) claims(kid, alg string) *Claims {
	c := &Claims{Issuer: p.Issuer, Subject: p.Subject, Audience: p.Audience, KeyID: kid, Algorithm: alg}
	if p.Expiry != nil {
		c.Expiry = p.Expiry.Time()
	}
	if p.IssuedAt != nil {
		c.IssuedAt = p.IssuedAt.Time()
	}
	if p.NotBefore != nil {
		c.NotBefore = p.NotBefore.Time()
	}
	if k := p.Kubernetes; k != nil {
		c.Namespace = k.Namespace
		if k.ServiceAccount != nil {
			c.ServiceAccount = k.ServiceAccount.Name
		}
		if k.Pod != nil {
			c.Pod = k.Pod.Name
		}
	}
	return c
}

// Peek returns what raw says about itself without verifying anything: for
// reports about a token, never to trust one.
func Peek(raw string) (*Claims, error) {
	tok, err := parse(raw)
	if err != nil {
		return nil, err
	}
	return tok.claims.claims(tok.kid, tok.alg), nil
}

// explain names the check behind go-oidc's err. go-oidc types only expiry;
// its other checks are told apart by how far it got (the key set records
// whether it was asked for a signature) and, once the signature held, by the
// now trustworthy claims, in the order go-oidc checks them.
func (a *attempt) explain(err error) *VerifyError {
	tok, sig := a.tok, &a.signature
	if !sig.called || sig.err != nil {
		switch {
		case len(a.named) == 0:
			ids := make([]string, len(a.keys.Keys))
			for i, k := range a.keys.Keys {
				ids[i] = k.KeyID
			}
			return fail(CheckKeyID, err, "the token's key id %q is not in the key set, which has %s. Publish every current and next signing key (irsa oidc keys --public-key for each)%s",
				tok.kid, quoteAll(ids, "no keys"), legacyHint(tok.kid))
		case len(a.usable) == 0:
			return fail(CheckAlgorithm, err, "the token is signed with %s, but the key %q is for %s", tok.alg, tok.kid, strings.Join(keyAlgorithms(a.named[0]), ", "))
		case !slices.Contains(a.algs, tok.alg):
			return fail(CheckAlgorithm, err, "the token is signed with %s, but the discovery document allows only %s (id_token_signing_alg_values_supported)", tok.alg, strings.Join(a.algs, ", "))
		case !sig.called:
			return fail(CheckMalformed, err, "%v", err)
		}
		return fail(CheckSignature, err, "the signature does not verify with the key %q: the token was altered after it was signed, or the key published under this key id is not the one that signed it (a signing key replaced without a new key set?)", tok.kid)
	}
	c := tok.claims
	var expired *oidc.TokenExpiredError
	switch {
	case c.Issuer != a.issuer:
		return fail(CheckIssuer, err, "the token's iss is %q, expected %q%s: AWS compares them byte for byte; the cluster's --service-account-issuer must be exactly the IAM OIDC provider URL",
			c.Issuer, a.issuer, slashHint(c.Issuer, a.issuer))
	case !slices.Contains(c.Audience, a.audience):
		return fail(CheckAudience, err, "the token is for %s, expected %q: AWS STS accepts only tokens whose aud lists the IAM OIDC provider's client ID; mint the token for %q (the projected token's audience) or expect the audience it has",
			quoteAll(c.Audience, "no audience"), a.audience, a.audience)
	case errors.As(err, &expired):
		if expired.Expiry.IsZero() {
			return fail(CheckExpired, err, "the token has no exp claim")
		}
		return fail(CheckExpired, err, "the token expired at %s, %s before %s: the kubelet refreshes projected tokens in the pod; read a fresh one",
			stamp(expired.Expiry), a.now.Sub(expired.Expiry).Round(time.Second), stamp(a.now))
	case c.NotBefore != nil && a.now.Before(c.NotBefore.Time()):
		nbf := c.NotBefore.Time()
		return fail(CheckNotYetValid, err, "the token is not valid before %s, %s after %s: the clock of this machine or of the cluster's control plane is wrong",
			stamp(nbf), nbf.Sub(a.now).Round(time.Second), stamp(a.now))
	}
	return fail(CheckMalformed, err, "%v", err)
}

// oneLine returns err's message on one line and at most 200 bytes long:
// go-oidc quotes whatever body an issuer answered with.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func slashHint(a, b string) string {
	if a != b && strings.TrimRight(a, "/") == strings.TrimRight(b, "/") {
		return "; they differ only in a trailing slash"
	}
	return ""
}

func legacyHint(kid string) string {
	if kid == "" {
		return `. The token has no key id, as from Kubernetes before 1.16: publish each key also with "kid": "" (irsa oidc keys --legacy-empty-kid)`
	}
	return ""
}

// quoteAll returns values quoted and comma-separated, or none when there
// are none.
func quoteAll(values []string, none string) string {
	if len(values) == 0 {
		return none
	}
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

func joinAlgs(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
