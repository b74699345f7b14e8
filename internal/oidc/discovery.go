package oidc

import (
	"crypto"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// KeySetPath is where the key set is published under the issuer.
const KeySetPath = "/keys.json"

// DiscoveryPath is where relying parties look for the discovery document.
const DiscoveryPath = "/.well-known/openid-configuration"

// Discovery is the OpenID Provider Metadata a relying party (AWS STS) reads.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// ValidateIssuer reports why issuer cannot be used where AWS compares it
// byte for byte: the discovery document, the cluster's
// --service-account-issuer, the IAM identity provider and trust policies.
func ValidateIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return fmt.Errorf("issuer %q is not a URL: %w", issuer, err)
	case u.Scheme != "https":
		return fmt.Errorf("issuer %q must use https: AWS only fetches issuer documents over TLS", issuer)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("issuer %q has no host", issuer)
	case u.User != nil:
		return fmt.Errorf("issuer %q must not carry credentials", issuer)
	case u.Port() != "":
		return fmt.Errorf("issuer %q must not name a port: AWS reaches issuers on 443 only", issuer)
	case strings.HasSuffix(issuer, "/"):
		return fmt.Errorf("issuer %q ends in a slash: tokens, the IAM provider and trust policies would disagree; use %q", issuer, strings.TrimRight(issuer, "/"))
	case u.RawQuery != "" || u.ForceQuery:
		return fmt.Errorf("issuer %q must not have a query", issuer)
	case u.Fragment != "" || strings.Contains(issuer, "#"):
		return fmt.Errorf("issuer %q must not have a fragment", issuer)
	case u.Host != strings.ToLower(u.Host):
		return fmt.Errorf("issuer %q has upper-case letters in its host; use %q", issuer, strings.Replace(issuer, u.Host, strings.ToLower(u.Host), 1))
	}
	return nil
}

// NewDiscovery returns the discovery document of issuer for tokens signed
// with keys.
func NewDiscovery(issuer string, keys []crypto.PublicKey) (Discovery, error) {
	if err := ValidateIssuer(issuer); err != nil {
		return Discovery{}, err
	}
	var algs []string
	for _, key := range keys {
		alg, err := Algorithm(key)
		if err != nil {
			return Discovery{}, err
		}
		if !slices.Contains(algs, string(alg)) {
			algs = append(algs, string(alg))
		}
	}
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	slices.Sort(algs)
	return Discovery{
		Issuer:                           issuer,
		JWKSURI:                          issuer + KeySetPath,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: algs,
		ClaimsSupported:                  []string{"sub", "iss"},
	}, nil
}
