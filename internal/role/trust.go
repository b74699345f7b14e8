package role

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Trust policy quotas: IAM refuses a longer trust policy (whitespace not
// counted) unless the account's quota was raised, at most to
// TrustPolicyQuotaMax.
const (
	TrustPolicyQuota    = 2048
	TrustPolicyQuotaMax = 4096
)

// ErrTrustPolicyTooLong says the trust policy would pass IAM's quota.
var ErrTrustPolicyTooLong = errors.New("the trust policy would be longer than IAM's quota")

// warnAt is the share of the quota past which a trust policy is warned of.
const warnAt = 0.9

// Subject returns the sub claim of the ServiceAccount's tokens.
func Subject(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// TrustSid returns the Sid of irsa's statement trusting provider: one
// statement per provider, so a role can trust ServiceAccounts of several
// clusters.
func TrustSid(providerARN string) string {
	sum := sha256.Sum256([]byte(providerARN))
	return "IrsaWebIdentity" + hex.EncodeToString(sum[:4])
}

// trustStatement is irsa's statement: only tokens from the provider whose
// sub is exactly the ServiceAccount and whose aud is exactly audience, no
// wildcard anywhere.
type trustStatement struct {
	Sid       string `json:"Sid"`
	Effect    string `json:"Effect"`
	Principal struct {
		Federated string `json:"Federated"`
	} `json:"Principal"`
	Action    string                       `json:"Action"`
	Condition map[string]map[string]string `json:"Condition"`
}

// TrustStatement returns the statement that lets the ServiceAccount's
// tokens, issued by issuer and accepted by the IAM identity provider,
// assume the role.
func TrustStatement(providerARN, issuer, audience, namespace, serviceAccount string) json.RawMessage {
	hostPath := strings.TrimPrefix(issuer, "https://")
	s := trustStatement{Sid: TrustSid(providerARN), Effect: "Allow", Action: "sts:AssumeRoleWithWebIdentity"}
	s.Principal.Federated = providerARN
	s.Condition = map[string]map[string]string{"StringEquals": {
		hostPath + ":sub": Subject(namespace, serviceAccount),
		hostPath + ":aud": audience,
	}}
	out, _ := json.Marshal(s)
	return out
}

// policyDocument is a policy whose statements are kept as they were
// written, so statements irsa does not own survive a merge untouched.
type policyDocument struct {
	Version   string            `json:"Version"`
	ID        string            `json:"Id,omitempty"`
	Statement []json.RawMessage `json:"Statement"`
}

// trustMerge is a trust policy with irsa's statement for one provider.
type trustMerge struct {
	// Document is the merged policy, compact.
	Document string
	// Replaced counts the statements trusting the provider that irsa's
	// statement replaced; Narrowed those that trusted it among other
	// principals and now trust only the others.
	Replaced, Narrowed int
	// Kept counts the statements for other principals, left as they were.
	Kept int
}

// mergeTrust puts statement, irsa's statement for providerARN, into the
// trust policy current (empty for a new role). Every Allow statement whose
// Federated principal is that provider is replaced, whatever its
// conditions: the provider's tokens must reach the role only through
// irsa's exact sub and aud. A statement naming the provider among other
// principals keeps the others. Deny statements and statements for other
// principals (other clusters' providers, AWS accounts, services) are kept
// as they were.
func mergeTrust(current, providerARN string, statement json.RawMessage) (trustMerge, error) {
	var m trustMerge
	doc := policyDocument{Version: policyVersion}
	var existing []json.RawMessage
	if current != "" {
		var err error
		if doc, existing, err = parsePolicy(current); err != nil {
			return m, fmt.Errorf("the role's trust policy: %w", err)
		}
	}
	sid := TrustSid(providerARN)
	inserted := false
	insert := func() {
		if !inserted {
			doc.Statement = append(doc.Statement, statement)
			inserted = true
		}
	}
	for _, raw := range existing {
		var s map[string]any
		if err := json.Unmarshal(raw, &s); err != nil {
			return m, fmt.Errorf("the role's trust policy has a statement that is not a JSON object: %w", err)
		}
		if s["Sid"] == sid {
			m.Replaced++
			insert()
			continue
		}
		principal, _ := s["Principal"].(map[string]any)
		federated := stringList(principal["Federated"])
		if s["Effect"] != "Allow" || !slices.Contains(federated, providerARN) {
			m.Kept++
			doc.Statement = append(doc.Statement, raw)
			continue
		}
		insert()
		others := slices.DeleteFunc(federated, func(p string) bool { return p == providerARN })
		switch len(others) {
		case 0:
			delete(principal, "Federated")
		case 1:
			principal["Federated"] = others[0]
		default:
			principal["Federated"] = others
		}
		if len(principal) == 0 {
			m.Replaced++
			continue
		}
		m.Narrowed++
		narrowed, err := json.Marshal(s)
		if err != nil {
			return m, err
		}
		doc.Statement = append(doc.Statement, narrowed)
	}
	insert()
	out, err := json.Marshal(doc)
	if err != nil {
		return m, err
	}
	m.Document = string(out)
	return m, nil
}

// parsePolicy reads a policy document; a lone statement object counts as
// a list of one. The statements come back compact and also in
// doc.Statement's place, emptied for the caller to fill.
func parsePolicy(text string) (policyDocument, []json.RawMessage, error) {
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return policyDocument{}, nil, fmt.Errorf("not a JSON policy document: %w", err)
	}
	doc := policyDocument{Version: raw.Version, ID: raw.ID}
	if doc.Version == "" {
		doc.Version = policyVersion
	}
	var statements []json.RawMessage
	switch trimmed := bytes.TrimSpace(raw.Statement); {
	case len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")):
	case trimmed[0] == '{':
		statements = []json.RawMessage{trimmed}
	default:
		if err := json.Unmarshal(trimmed, &statements); err != nil {
			return doc, nil, fmt.Errorf("its Statement is neither a statement nor a list of them: %w", err)
		}
	}
	for i, s := range statements {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s); err != nil {
			return doc, nil, err
		}
		statements[i] = buf.Bytes()
	}
	return doc, statements, nil
}

// stringList reads a policy element that is one string or a list of them.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// checkTrustSize returns an error wrapping ErrTrustPolicyTooLong when a
// trust policy of size characters passes IAM's default quota, and a
// warning when it is close to it.
func checkTrustSize(size int) (warning string, err error) {
	switch {
	case size > TrustPolicyQuota:
		return "", fmt.Errorf("%w: %d characters, the quota is %d (whitespace not counted): remove statements other clusters no longer need, or ask AWS for a quota increase (Service Quotas, IAM \"Role trust policy length\", up to %d)",
			ErrTrustPolicyTooLong, size, TrustPolicyQuota, TrustPolicyQuotaMax)
	case float64(size) > warnAt*TrustPolicyQuota:
		return fmt.Sprintf("the trust policy is %d of the %d characters IAM allows by default (%d%%): a few more clusters will not fit without a quota increase (up to %d)",
			size, TrustPolicyQuota, size*100/TrustPolicyQuota, TrustPolicyQuotaMax), nil
	}
	return "", nil
}
