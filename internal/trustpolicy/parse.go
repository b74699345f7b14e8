package trustpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// variablesVersion is the policy language version in which ${...} is a
// policy variable; in older documents it is literal text.
const variablesVersion = "2012-10-17"

// document is a parsed policy: its statements in the order written.
type document struct {
	statements []statement
}

// statement is one parsed policy statement.
type statement struct {
	sid    string
	effect string
	// principal is nil when the statement names neither Principal nor
	// NotPrincipal.
	principal    *principal
	notPrincipal bool
	// actions is nil when the statement names neither Action nor NotAction.
	actions   []string
	notAction bool
	// resources is nil when the statement names neither Resource nor
	// NotResource, as trust policies do.
	resources   []string
	notResource bool
	conditions  []condition
}

// principal is a Principal or NotPrincipal element.
type principal struct {
	// everyone is the bare "*".
	everyone bool
	// entries are the principal types in the order written, e.g.
	// Federated, AWS, Service.
	entries []principalEntry
}

// principalEntry is one principal type with its values.
type principalEntry struct {
	kind   string
	values []string
}

// member is one name/value pair of a JSON object.
type member struct {
	name  string
	value json.RawMessage
}

// object is a JSON object whose members keep the order they were written
// in, so reasons list conditions as the user wrote them.
type object []member

// UnmarshalJSON reads a JSON object, or null as no members.
func (o *object) UnmarshalJSON(data []byte) error {
	*o = nil
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s is not a JSON object", data)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
		*o = append(*o, member{name: name, value: value})
	}
	return nil
}

// parse reads a policy document as IAM returns it, URL-encoded or not.
func parse(policy string) (document, error) {
	text := strings.TrimSpace(policy)
	if !strings.HasPrefix(text, "{") {
		// GetRole returns the trust policy URL-encoded (RFC 3986).
		decoded, err := url.PathUnescape(text)
		if err != nil {
			return document{}, fmt.Errorf("%w: neither JSON nor URL-encoded JSON: %w", ErrInvalidPolicy, err)
		}
		text = strings.TrimSpace(decoded)
	}
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return document{}, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	var rawStatements []json.RawMessage
	switch trimmed := bytes.TrimSpace(raw.Statement); {
	case len(trimmed) == 0 || string(trimmed) == "null":
		return document{}, fmt.Errorf("%w: it has no Statement", ErrInvalidPolicy)
	case trimmed[0] == '{':
		rawStatements = []json.RawMessage{trimmed}
	default:
		if err := json.Unmarshal(trimmed, &rawStatements); err != nil {
			return document{}, fmt.Errorf("%w: its Statement is neither a statement nor a list of them: %w", ErrInvalidPolicy, err)
		}
	}
	variables := raw.Version == variablesVersion
	var doc document
	for i, r := range rawStatements {
		s, err := parseStatement(r, variables)
		if err != nil {
			return document{}, fmt.Errorf("%w: statement %d: %w", ErrInvalidPolicy, i, err)
		}
		doc.statements = append(doc.statements, s)
	}
	return doc, nil
}

// parseStatement reads one statement.
func parseStatement(data json.RawMessage, variables bool) (statement, error) {
	var raw struct {
		Sid          string          `json:"Sid"`
		Effect       string          `json:"Effect"`
		Principal    json.RawMessage `json:"Principal"`
		NotPrincipal json.RawMessage `json:"NotPrincipal"`
		Action       json.RawMessage `json:"Action"`
		NotAction    json.RawMessage `json:"NotAction"`
		Resource     json.RawMessage `json:"Resource"`
		NotResource  json.RawMessage `json:"NotResource"`
		Condition    object          `json:"Condition"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return statement{}, err
	}
	s := statement{sid: raw.Sid, effect: raw.Effect}
	if s.effect != "Allow" && s.effect != "Deny" {
		return s, fmt.Errorf("Effect %q is neither Allow nor Deny", raw.Effect)
	}
	var err error
	switch {
	case present(raw.Principal) && present(raw.NotPrincipal):
		return s, fmt.Errorf("it has both Principal and NotPrincipal")
	case present(raw.Principal):
		s.principal, err = parsePrincipal(raw.Principal)
	case present(raw.NotPrincipal):
		s.notPrincipal = true
		s.principal, err = parsePrincipal(raw.NotPrincipal)
	}
	if err != nil {
		return s, err
	}
	switch {
	case present(raw.Action) && present(raw.NotAction):
		return s, fmt.Errorf("it has both Action and NotAction")
	case present(raw.Action):
		s.actions, err = stringList(raw.Action)
	case present(raw.NotAction):
		s.notAction = true
		s.actions, err = stringList(raw.NotAction)
	}
	if err != nil {
		return s, fmt.Errorf("action: %w", err)
	}
	switch {
	case present(raw.Resource) && present(raw.NotResource):
		return s, fmt.Errorf("it has both Resource and NotResource")
	case present(raw.Resource):
		s.resources, err = stringList(raw.Resource)
	case present(raw.NotResource):
		s.notResource = true
		s.resources, err = stringList(raw.NotResource)
	}
	if err != nil {
		return s, fmt.Errorf("resource: %w", err)
	}
	for _, op := range raw.Condition {
		var keys object
		if err := json.Unmarshal(op.value, &keys); err != nil {
			return s, fmt.Errorf("condition %s: %w", op.name, err)
		}
		for _, key := range keys {
			values, err := stringList(key.value)
			if err != nil {
				return s, fmt.Errorf("condition %s %q: %w", op.name, key.name, err)
			}
			s.conditions = append(s.conditions, newCondition(op.name, key.name, values, variables))
		}
	}
	return s, nil
}

// present reports whether an element was given a value other than null.
func present(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) > 0 && string(trimmed) != "null"
}

// parsePrincipal reads "*" or an object of principal types.
func parsePrincipal(data json.RawMessage) (*principal, error) {
	var star string
	if json.Unmarshal(data, &star) == nil {
		if star != "*" {
			return nil, fmt.Errorf("principal %q: only \"*\" may be given as a bare string", star)
		}
		return &principal{everyone: true}, nil
	}
	var types object
	if err := json.Unmarshal(data, &types); err != nil {
		return nil, fmt.Errorf("principal: %w", err)
	}
	p := &principal{}
	for _, t := range types {
		values, err := stringList(t.value)
		if err != nil {
			return nil, fmt.Errorf("principal %s: %w", t.name, err)
		}
		p.entries = append(p.entries, principalEntry{kind: t.name, values: values})
	}
	return p, nil
}

// stringList reads an element that is one value or a list of them.
// Booleans and numbers, which IAM accepts in conditions, become their JSON
// text.
func stringList(data json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(data, &list); err != nil {
		list = []json.RawMessage{data}
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, err := scalar(v)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// scalar reads a JSON string, boolean or number as text.
func scalar(data json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return fmt.Sprint(v), nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("%s is not a string, a boolean or a number", bytes.TrimSpace(data))
}
