package trustpolicy

import (
	"errors"
	"strings"
	"testing"
)

const (
	provider = "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"
	web      = "system:serviceaccount:apps:web"
)

// webToken returns the claims of apps/web's token from provider, with
// replacements for some keys (a nil value removes the key).
func webToken(replace map[string][]string) map[string][]string {
	claims := map[string][]string{
		"oidc.example.com/c1:sub": {web},
		"oidc.example.com/c1:aud": {"sts.amazonaws.com"},
	}
	for k, v := range replace {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	return claims
}

// irsaPolicy is the trust policy irsa writes for apps/web.
const irsaPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "IrsaWebIdentityab12cd34",
    "Effect": "Allow",
    "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {
      "oidc.example.com/c1:sub": "system:serviceaccount:apps:web",
      "oidc.example.com/c1:aud": "sts.amazonaws.com"
    }}
  }]
}`

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		// claims replace keys of the default token; provider and action
		// replace the default request's when set.
		claims           map[string][]string
		provider, action string

		allowed, broad bool
		// reason is the whole Decision.Reason when exact, else substrings
		// of it.
		exact  string
		reason []string
		// notes are substrings of the deciding statements' notes.
		notes []string
	}{
		{
			name:    "exact match",
			policy:  irsaPolicy,
			allowed: true,
			exact:   `allowed: statement "IrsaWebIdentityab12cd34" allows sts:AssumeRoleWithWebIdentity for this token`,
		},
		{
			name:   "wrong sub",
			policy: irsaPolicy,
			claims: map[string][]string{"oidc.example.com/c1:sub": {"system:serviceaccount:apps:api"}},
			exact: `no statement allows sts:AssumeRoleWithWebIdentity for this token: statement "IrsaWebIdentityab12cd34": ` +
				`condition StringEquals "oidc.example.com/c1:sub" wants "system:serviceaccount:apps:web", the token has "system:serviceaccount:apps:api"`,
		},
		{
			name:   "wrong aud",
			policy: irsaPolicy,
			claims: map[string][]string{"oidc.example.com/c1:aud": {"https://kubernetes.default.svc"}},
			reason: []string{`condition StringEquals "oidc.example.com/c1:aud" wants "sts.amazonaws.com", the token has "https://kubernetes.default.svc"`},
		},
		{
			name:   "wrong sub and aud are both reported",
			policy: irsaPolicy,
			claims: map[string][]string{
				"oidc.example.com/c1:sub": {"system:serviceaccount:apps:api"},
				"oidc.example.com/c1:aud": {"other"},
			},
			reason: []string{`the token has "system:serviceaccount:apps:api"; condition StringEquals "oidc.example.com/c1:aud"`},
		},
		{
			name:   "sub differs only in case",
			policy: irsaPolicy,
			claims: map[string][]string{"oidc.example.com/c1:sub": {"system:serviceaccount:apps:Web"}},
			reason: []string{"they differ only in case, and StringEquals is case-sensitive"},
		},
		{
			name: "multi-valued aud with ForAnyValue:StringEquals",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{
					"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
					"ForAnyValue:StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			claims:  map[string][]string{"oidc.example.com/c1:aud": {"https://kubernetes.default.svc", "sts.amazonaws.com"}},
			allowed: true,
		},
		{
			name: "multi-valued aud with ForAnyValue:StringEquals, none matching",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{
					"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
					"ForAnyValue:StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			claims: map[string][]string{"oidc.example.com/c1:aud": {"https://kubernetes.default.svc", "vault"}},
			reason: []string{`condition ForAnyValue:StringEquals "oidc.example.com/c1:aud" wants "sts.amazonaws.com", the token has "https://kubernetes.default.svc", "vault"`},
		},
		{
			name: "ForAllValues:StringEquals with an extra aud",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{
					"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
					"ForAllValues:StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			claims: map[string][]string{"oidc.example.com/c1:aud": {"sts.amazonaws.com", "vault"}},
			reason: []string{`wants every value to be "sts.amazonaws.com", the token also has "vault"`},
		},
		{
			name: "ForAllValues on a missing key holds, with a note",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{
					"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
					"ForAllValues:StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			claims:  map[string][]string{"oidc.example.com/c1:aud": nil},
			allowed: true,
			reason:  []string{"but condition ForAllValues:StringEquals", "ForAllValues is true for a missing or empty key"},
			notes:   []string{`holds only because the token has no "oidc.example.com/c1:aud": ForAllValues is true for a missing or empty key`},
		},
		{
			name: "StringLike on the namespace",
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"Apps","Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:*"}}}]}`,
			allowed: true,
			broad:   true,
		},
		{
			name: "StringLike on another namespace",
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"Apps","Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:batch:*"}}}]}`,
			reason: []string{`condition StringLike "oidc.example.com/c1:sub" wants "system:serviceaccount:batch:*", the token has "system:serviceaccount:apps:web"`},
		},
		{
			name: "any ServiceAccount by wildcard",
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:*:*"},
				             "StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			allowed: true,
			broad:   true,
			reason:  []string{`allowed: statement "All"`},
		},
		{
			name: "StringEquals does not expand a wildcard",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:*"}}}]}`,
			reason: []string{`StringEquals compares "*" and "?" literally; StringLike would expand them`},
		},
		{
			name: "two clusters, the second matches",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Sid":"c2","Effect":"Allow",
				 "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"},
				 "Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringEquals":{"oidc.example.com/c2:sub":"system:serviceaccount:apps:web","oidc.example.com/c2:aud":"sts.amazonaws.com"}}},
				{"Sid":"c1","Effect":"Allow",
				 "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				 "Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web","oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			allowed: true,
			exact:   `allowed: statement "c1" allows sts:AssumeRoleWithWebIdentity for this token`,
		},
		{
			name: "Deny overrides Allow",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Sid":"Apps","Effect":"Allow",
				 "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				 "Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:*"}}},
				{"Sid":"NotWeb","Effect":"Deny",
				 "Principal":{"Federated":"*"},
				 "Action":"sts:*",
				 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			exact: `denied: Deny statement "NotWeb" matches this token, and an explicit Deny overrides any Allow`,
		},
		{
			name: "Deny for another ServiceAccount does not apply",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Sid":"Apps","Effect":"Allow",
				 "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				 "Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}},
				{"Sid":"NotBatch","Effect":"Deny",
				 "Principal":{"Federated":"*"},
				 "Action":"sts:*",
				 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:batch"}}}]}`,
			allowed: true,
		},
		{
			name: "principal of another provider",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c2:sub":"system:serviceaccount:apps:web"}}}]}`,
			exact: `no statement allows sts:AssumeRoleWithWebIdentity for provider ` + provider + `: statement 0: ` +
				`principal is arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2, the token's provider is ` + provider +
				` (another issuer: another cluster's provider, or this cluster's issuer changed)`,
		},
		{
			name: "principal in another account",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::444455556666:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			reason: []string{"the same issuer in another AWS account"},
		},
		{
			name: "principal with a trailing slash",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1/"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			reason: []string{"they differ only by the principal's trailing slash, and IAM compares ARNs exactly"},
		},
		{
			name:     "provider with a trailing slash",
			policy:   irsaPolicy,
			provider: provider + "/",
			reason:   []string{"they differ only by the provider's trailing slash"},
		},
		{
			name: "several federated principals, the closest named",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":["arn:aws:iam::111122223333:oidc-provider/other.example.org","arn:aws:iam::111122223333:oidc-provider/oidc.example.com/C1"]},
				"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			reason: []string{"none of them the token's provider", "(closest: arn:aws:iam::111122223333:oidc-provider/oidc.example.com/C1, they differ only in case"},
		},
		{
			name: "a service principal",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`,
			reason: []string{`principal is Service "ec2.amazonaws.com", not a Federated provider`},
		},
		{
			name: "the closest statement is reported",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},
				{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},"Action":"sts:AssumeRole"}]}`,
			exact: `no statement allows sts:AssumeRoleWithWebIdentity for this token: statement 1: action is "sts:AssumeRole", not sts:AssumeRoleWithWebIdentity`,
		},
		{
			name: "Action list",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":["sts:TagSession","sts:AssumeRoleWithWebIdentity"],
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			allowed: true,
		},
		{
			name: "sts:* in another case",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"STS:*",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			allowed: true,
		},
		{
			name: "Action list without web identity",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":["sts:AssumeRole","sts:AssumeRoleWithSAML"]}]}`,
			reason: []string{`actions "sts:AssumeRole", "sts:AssumeRoleWithSAML" do not cover sts:AssumeRoleWithWebIdentity`},
		},
		{
			name: "NotAction",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"NotAction":"sts:AssumeRoleWith*"}]}`,
			reason: []string{`NotAction "sts:AssumeRoleWith*" excludes sts:AssumeRoleWithWebIdentity`},
		},
		{
			name:    "URL-encoded, as GetRole returns it",
			policy:  `%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Federated%22%3A%22arn%3Aaws%3Aiam%3A%3A111122223333%3Aoidc-provider%2Foidc.example.com%2Fc1%22%7D%2C%22Action%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%2C%22Condition%22%3A%7B%22StringEquals%22%3A%7B%22oidc.example.com%2Fc1%3Asub%22%3A%22system%3Aserviceaccount%3Aapps%3Aweb%22%7D%7D%7D%5D%7D`,
			allowed: true,
			exact:   "allowed: statement 0 allows sts:AssumeRoleWithWebIdentity for this token",
		},
		{
			name: "a lone statement object",
			policy: `{"Version":"2012-10-17","Statement":{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}}`,
			allowed: true,
		},
		{
			name: "condition keys in another case",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"OIDC.Example.com/c1:SUB":"system:serviceaccount:apps:web","oidc.example.com/C1:Aud":"sts.amazonaws.com"}}}]}`,
			claims:  map[string][]string{"oidc.example.com/c1:aud": nil, "Oidc.Example.Com/c1:AUD": {"sts.amazonaws.com"}},
			allowed: true,
		},
		{
			name: "condition naming another issuer",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c2:sub":"system:serviceaccount:apps:web"}}}]}`,
			reason: []string{`the token has no "oidc.example.com/c2:sub" (its key is "oidc.example.com/c1:sub": the condition names another issuer)`},
		},
		{
			name: "IfExists on a missing key holds",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
				             "StringEqualsIfExists":{"oidc.example.com/c1:amr":"authenticated"}}}]}`,
			allowed: true,
			notes:   []string{`holds only because the token has no "oidc.example.com/c1:amr" (IfExists)`},
		},
		{
			name: "IfExists on a present key compares",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEqualsIfExists":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:api"}}}]}`,
			reason: []string{`condition StringEqualsIfExists "oidc.example.com/c1:sub" wants "system:serviceaccount:apps:api"`},
		},
		{
			name: "Null false on a present key",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"Null":{"oidc.example.com/c1:sub":"false"}}}]}`,
			allowed: true,
			broad:   true,
		},
		{
			name: "Null false on a missing key",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},"Null":{"oidc.example.com/c1:amr":false}}}]}`,
			reason: []string{`condition Null "oidc.example.com/c1:amr" wants the key present, the token has no "oidc.example.com/c1:amr"`},
		},
		{
			name: "Null true on a present key",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"Null":{"oidc.example.com/c1:aud":"true"}}}]}`,
			reason: []string{`wants the key absent, the token has "sts.amazonaws.com"`},
		},
		{
			name: "StringNotEquals on a missing key holds",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
				             "StringNotEquals":{"oidc.example.com/c1:amr":"unauthenticated"}}}]}`,
			allowed: true,
			notes:   []string{"a negated operator is true for a missing key"},
		},
		{
			name: "StringNotLike excluding the namespace",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringNotLike":{"oidc.example.com/c1:sub":["system:serviceaccount:kube-system:*","system:serviceaccount:apps:*"]}}}]}`,
			reason: []string{`condition StringNotLike "oidc.example.com/c1:sub" rules out "system:serviceaccount:kube-system:*" or "system:serviceaccount:apps:*", the token has "system:serviceaccount:apps:web"`},
		},
		{
			name: "StringEqualsIgnoreCase",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEqualsIgnoreCase":{"oidc.example.com/c1:sub":"System:ServiceAccount:Apps:Web"}}}]}`,
			allowed: true,
		},
		{
			name: "unsupported operator",
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"Numeric","Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"},
				             "NumericLessThan":{"oidc.example.com/c1:exp":"1"}}}]}`,
			reason: []string{`statement "Numeric": condition NumericLessThan "oidc.example.com/c1:exp": unsupported operator NumericLessThan`},
		},
		{
			name: "a Deny that may match is never read as allowed",
			policy: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				 "Action":"sts:AssumeRoleWithWebIdentity",
				 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}},
				{"Sid":"Odd","Effect":"Deny","Principal":"*","Action":"*",
				 "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`,
			reason: []string{`not known to be allowed: Deny statement "Odd": condition DateGreaterThan "aws:CurrentTime": unsupported operator DateGreaterThan`},
		},
		{
			name: "policy variables for literal wildcards",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:${*}"}}}]}`,
			claims: map[string][]string{"oidc.example.com/c1:sub": {"system:serviceaccount:apps:*"}},
			// A literal * pins the sub: this is not a wildcard.
			allowed: true,
		},
		{
			name: "other policy variables are not resolved",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:${aws:PrincipalTag/ns}:*"}}}]}`,
			reason: []string{"policy variable ${aws:PrincipalTag/ns} is not supported"},
		},
		{
			name: "NotPrincipal without the provider",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"NotPrincipal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			allowed: true,
		},
		{
			name: "NotPrincipal with the provider",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"NotPrincipal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			reason: []string{"NotPrincipal excludes the token's provider " + provider},
		},
		{
			name: "no sub condition is broad",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"oidc.example.com/c1:aud":"sts.amazonaws.com"}}}]}`,
			allowed: true,
			broad:   true,
		},
		{
			name:   "only Deny statements",
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`,
			exact:  "no statement allows sts:AssumeRoleWithWebIdentity: the policy has no Allow statement",
		},
		{
			name:   "another action asked for",
			policy: irsaPolicy,
			action: "sts:TagSession",
			reason: []string{`action is "sts:AssumeRoleWithWebIdentity", not sts:TagSession`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{ProviderARN: provider, Claims: webToken(tc.claims), Action: tc.action}
			if tc.provider != "" {
				req.ProviderARN = tc.provider
			}
			d, err := Evaluate(tc.policy, req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed {
				t.Errorf("Allowed = %v, want %v: %s", d.Allowed, tc.allowed, d.Reason)
			}
			if d.Broad != tc.broad {
				t.Errorf("Broad = %v (%s), want %v", d.Broad, d.BroadReason, tc.broad)
			}
			if d.Broad != (d.BroadReason != "") {
				t.Errorf("Broad = %v with BroadReason %q", d.Broad, d.BroadReason)
			}
			if tc.exact != "" && d.Reason != tc.exact {
				t.Errorf("Reason:\n got %s\nwant %s", d.Reason, tc.exact)
			}
			for _, want := range tc.reason {
				if !strings.Contains(d.Reason, want) {
					t.Errorf("Reason:\n got %s\nwant it to contain %s", d.Reason, want)
				}
			}
			var notes []string
			for _, s := range d.Statements {
				notes = append(notes, s.Notes...)
			}
			for _, want := range tc.notes {
				if !strings.Contains(strings.Join(notes, "\n"), want) {
					t.Errorf("notes %q lack %s", notes, want)
				}
			}
		})
	}
}

func TestEvaluateStatements(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[
		{"Sid":"Other","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2"},"Action":"sts:AssumeRoleWithWebIdentity"},
		{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web","oidc.example.com/c1:aud":"sts.amazonaws.com"}}},
		{"Sid":"Numeric","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"NumericEquals":{"oidc.example.com/c1:iat":"1"}}}]}`
	d, err := Evaluate(policy, Request{ProviderARN: provider, Claims: webToken(nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := []StatementResult{
		{Index: 0, Sid: "Other", Effect: "Allow", Reason: `statement "Other": principal is arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c2, the token's provider is ` + provider +
			` (another issuer: another cluster's provider, or this cluster's issuer changed)`},
		{Index: 1, Effect: "Allow", Matched: true, Reason: "statement 1: principal and action match, and all 2 conditions hold"},
		{Index: 2, Sid: "Numeric", Effect: "Allow", Unsupported: true,
			Reason: `statement "Numeric": condition NumericEquals "oidc.example.com/c1:iat": unsupported operator NumericEquals, so whether it matches cannot be told offline`},
	}
	if len(d.Statements) != len(want) {
		t.Fatalf("%d statements, want %d", len(d.Statements), len(want))
	}
	for i, got := range d.Statements {
		if got.Index != want[i].Index || got.Sid != want[i].Sid || got.Effect != want[i].Effect ||
			got.Matched != want[i].Matched || got.Unsupported != want[i].Unsupported || got.Reason != want[i].Reason || len(got.Notes) != 0 {
			t.Errorf("statement %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	if !d.Allowed || d.Reason != "allowed: statement 1 allows sts:AssumeRoleWithWebIdentity for this token" {
		t.Errorf("decision %v: %s", d.Allowed, d.Reason)
	}
}

func TestEvaluateBroadReason(t *testing.T) {
	for _, tc := range []struct{ policy, want string }{
		{
			policy: `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:*:*"}}}]}`,
			want: `statement "All": condition StringLike "oidc.example.com/c1:sub" matches the sub by wildcard "system:serviceaccount:*:*"`,
		},
		{
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			want: `statement 0 has no condition on "oidc.example.com/c1:sub", so any ServiceAccount the provider issues tokens for may assume the role`,
		},
		{
			// A wildcard next to an exact value is still pinned: conditions are ANDed.
			policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com/c1"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"oidc.example.com/c1:sub":"system:serviceaccount:*:*"},
				"StringEquals":{"oidc.example.com/c1:sub":"system:serviceaccount:apps:web"}}}]}`,
			want: "",
		},
	} {
		d, err := Evaluate(tc.policy, Request{ProviderARN: provider, Claims: webToken(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.BroadReason != tc.want {
			t.Errorf("allowed %v, BroadReason:\n got %s\nwant %s", d.Allowed, d.BroadReason, tc.want)
		}
	}
}

func TestEvaluateInvalid(t *testing.T) {
	for _, policy := range []string{
		`{"Version":"2012-10-17","Statement":[`,
		`not a policy`,
		`%7B%ZZ`,
		`[]`,
		`{"Version":"2012-10-17"}`,
		`{"Version":"2012-10-17","Statement":["Allow"]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Permit","Principal":"*","Action":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":{"sts":"*"}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":"StringEquals"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"k":{"v":1}}}}]}`,
	} {
		d, err := Evaluate(policy, Request{ProviderARN: provider, Claims: webToken(nil)})
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Evaluate(%s) = %+v, %v; want ErrInvalidPolicy", policy, d, err)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		fold, want bool
	}{
		{"system:serviceaccount:*:*", "system:serviceaccount:apps:web", false, true},
		{"system:serviceaccount:apps:*", "system:serviceaccount:apps:", false, true},
		{"system:serviceaccount:apps:*", "system:serviceaccount:batch:web", false, false},
		{"*", "", false, true},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*a*b*c", "xaybzzc", false, true},
		{"*a*b*c", "xaybzzcd", false, false},
		{"sts:assume*", "sts:AssumeRoleWithWebIdentity", true, true},
		{"sts:assume*", "sts:AssumeRoleWithWebIdentity", false, false},
		{"héllo?", "héllo!", false, true},
	} {
		g, err := compile(tc.pattern, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tc.s, tc.fold); got != tc.want {
			t.Errorf("%q matching %q (fold %v) = %v", tc.pattern, tc.s, tc.fold, got)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add(irsaPolicy, web)
	f.Add(`{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"ForAllValues:StringNotLike":{"oidc.example.com/c1:sub":"*${?}"}}}}`, "x")
	f.Fuzz(func(t *testing.T, policy, sub string) {
		req := Request{ProviderARN: provider, Claims: webToken(map[string][]string{"oidc.example.com/c1:sub": {sub}})}
		d, err := Evaluate(policy, req)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error %v does not wrap ErrInvalidPolicy", err)
			}
			return
		}
		if d.Reason == "" {
			t.Fatal("no reason")
		}
		if d.Allowed {
			for _, s := range d.Statements {
				if s.Effect == "Deny" && (s.Matched || s.Unsupported) {
					t.Fatalf("allowed past %s", s.Reason)
				}
			}
		}
	})
}
