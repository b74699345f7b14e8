package s3issuer

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/irsa-dev/irsa/internal/iampolicy"
)

// Statement is one statement of an IAM policy document, kept as parsed
// JSON so fields irsa does not know survive a merge.
type Statement = map[string]any

// PublicReadStatement lets anyone read the two documents, and nothing else
// in the bucket.
func PublicReadStatement(partitionName, bucket string) Statement {
	arn := "arn:" + partitionName + ":s3:::" + bucket + "/"
	return Statement{
		"Sid":       PolicySid,
		"Effect":    "Allow",
		"Principal": "*",
		"Action":    "s3:GetObject",
		"Resource":  []any{arn + DiscoveryKey, arn + KeySetKey},
	}
}

// MergePolicy puts statement into the policy document current (empty for
// none), replacing the statement with the same Sid, dropping the statements
// whose Sid is in drop and keeping every other statement. changed is false
// when current already is that policy.
func MergePolicy(current string, statement Statement, drop ...string) (policy string, changed bool, err error) {
	doc := map[string]any{"Version": "2012-10-17"}
	if current != "" {
		if err := json.Unmarshal([]byte(current), &doc); err != nil {
			return "", false, fmt.Errorf("the bucket policy is not JSON: %w", err)
		}
	}
	var statements []any
	switch s := doc["Statement"].(type) {
	case nil:
	case []any:
		statements = s
	case map[string]any: // a policy may hold a single statement unwrapped
		statements = []any{s}
	default:
		return "", false, fmt.Errorf("the bucket policy's Statement is %T, not a list", s)
	}
	sid := statement["Sid"]
	var kept []any
	present, same := false, false
	for _, s := range statements {
		m, _ := s.(map[string]any)
		switch {
		case m != nil && m["Sid"] == sid:
			if !present {
				present, same = true, iampolicy.EqualValues(m, statement)
				kept = append(kept, statement)
			}
		case m != nil && slices.Contains(drop, fmt.Sprint(m["Sid"])):
		default:
			kept = append(kept, s)
		}
	}
	if present && same && len(kept) == len(statements) {
		return current, false, nil
	}
	if !present {
		kept = append(kept, statement)
	}
	statements = kept
	doc["Statement"] = statements
	out, err := json.Marshal(doc)
	if err != nil {
		return "", false, err
	}
	return string(out), true, nil
}

// RemoveStatements drops the statements whose Sid is in sids from the
// policy document current. empty says no statement is left, so the
// policy itself can go.
func RemoveStatements(current string, sids ...string) (policy string, changed, empty bool, err error) {
	if current == "" {
		return "", false, true, nil
	}
	doc := map[string]any{}
	if err := json.Unmarshal([]byte(current), &doc); err != nil {
		return "", false, false, fmt.Errorf("the bucket policy is not JSON: %w", err)
	}
	statements, _ := doc["Statement"].([]any)
	if s, ok := doc["Statement"].(map[string]any); ok {
		statements = []any{s}
	}
	var kept []any
	for _, s := range statements {
		if m, ok := s.(map[string]any); ok && slices.Contains(sids, fmt.Sprint(m["Sid"])) {
			continue
		}
		kept = append(kept, s)
	}
	if len(kept) == len(statements) {
		return current, false, len(kept) == 0, nil
	}
	doc["Statement"] = kept
	out, err := json.Marshal(doc)
	if err != nil {
		return "", false, false, err
	}
	return string(out), true, len(kept) == 0, nil
}

// PublicStatements returns the Sids (or positions) of the Allow statements
// in policy that grant anyone access without a condition, leaving out the
// statement ours.
func PublicStatements(policy, ours string) []string {
	if policy == "" {
		return nil
	}
	doc := map[string]any{}
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return nil
	}
	statements, _ := doc["Statement"].([]any)
	if st, ok := doc["Statement"].(map[string]any); ok {
		statements = []any{st}
	}
	var public []string
	for i, st := range statements {
		m, ok := st.(map[string]any)
		if !ok || m["Effect"] != "Allow" || m["Sid"] == ours || m["Condition"] != nil {
			continue
		}
		if anyone(m["Principal"]) {
			name := fmt.Sprint(m["Sid"])
			if m["Sid"] == nil {
				name = fmt.Sprintf("statement %d", i)
			}
			public = append(public, name)
		}
	}
	return public
}

// anyone reports whether a policy principal is everyone: "*" or {"AWS": "*"}.
func anyone(principal any) bool {
	switch p := principal.(type) {
	case string:
		return p == "*"
	case map[string]any:
		switch aws := p["AWS"].(type) {
		case string:
			return aws == "*"
		case []any:
			return slices.Contains(aws, any("*"))
		}
	}
	return false
}
