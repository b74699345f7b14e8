package trustpolicy

import (
	"fmt"
	"strings"
)

// condition is one key of one operator of a Condition block.
type condition struct {
	// operator, key and values are as written in the policy.
	operator string
	key      string
	values   []string
	// qualifier is "", "ForAnyValue" or "ForAllValues".
	qualifier string
	// base is the operator without qualifier and IfExists suffix.
	base     string
	ifExists bool
	negated  bool
	patterns []glob
	// unsupported says why the condition cannot be evaluated; empty when
	// it can.
	unsupported string
}

// newCondition reads the operator op applied to key with values.
func newCondition(op, key string, values []string, variables bool) condition {
	c := condition{operator: op, key: key, values: values}
	rest := op
	if q, r, ok := strings.Cut(op, ":"); ok {
		if q != "ForAnyValue" && q != "ForAllValues" {
			c.unsupported = "unsupported operator " + op
			return c
		}
		c.qualifier, rest = q, r
	}
	c.base, c.ifExists = strings.CutSuffix(rest, "IfExists")
	switch c.base {
	case "StringEquals", "StringEqualsIgnoreCase", "StringLike":
	case "StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike":
		c.negated = true
	case "Null":
		if c.qualifier != "" || c.ifExists {
			c.unsupported = "unsupported operator " + op
			return c
		}
		for _, v := range values {
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				c.unsupported = fmt.Sprintf("Null takes \"true\" or \"false\", not %q", v)
			}
		}
		return c
	default:
		c.unsupported = "unsupported operator " + op
		return c
	}
	for _, v := range values {
		g, err := compile(v, variables)
		if err != nil {
			c.unsupported = err.Error()
			return c
		}
		c.patterns = append(c.patterns, g)
	}
	return c
}

// outcome is a condition evaluated against a request.
type outcome struct {
	holds bool
	// unsupported is set when the evaluator cannot tell whether the
	// condition holds; holds is then false.
	unsupported bool
	// reason says why the condition fails or cannot be evaluated.
	reason string
	// note says why a condition holds when that may surprise: it holds
	// only because the key is missing.
	note string
}

// eval evaluates the condition against the request's claims.
//
// A key missing from the request (or present with no value) makes the
// condition false, except:
//   - with the IfExists suffix, which is true then;
//   - for ForAllValues, which is true for an empty set of values: IAM's
//     documented trap, reported in the note;
//   - for an unqualified negated operator (StringNotEquals,
//     StringNotLike, ...): IAM documents that a condition requiring the key
//     not to match is true when the key is absent.
//
// Without a qualifier a positive operator holds when any of the request's
// values matches any of the policy's, and a negated operator when none
// does: the negation of the positive operator, as IAM applies it to a
// single-valued key.
func (c condition) eval(req *request) outcome {
	if c.unsupported != "" {
		return outcome{unsupported: true, reason: c.describe() + ": " + c.unsupported}
	}
	got := req.claims[strings.ToLower(c.key)]
	if c.base == "Null" {
		return c.evalNull(req, got)
	}
	if len(got) == 0 {
		switch {
		case c.ifExists:
			return outcome{holds: true, note: fmt.Sprintf("%s holds only because the token has no %q (IfExists)", c.describe(), c.key)}
		case c.qualifier == "ForAllValues":
			return outcome{holds: true, note: fmt.Sprintf("%s holds only because the token has no %q: ForAllValues is true for a missing or empty key", c.describe(), c.key)}
		case c.qualifier == "" && c.negated:
			return outcome{holds: true, note: fmt.Sprintf("%s holds because the token has no %q: a negated operator is true for a missing key", c.describe(), c.key)}
		}
		return outcome{reason: fmt.Sprintf("%s %s, the token has no %q%s", c.describe(), c.wants(), c.key, req.missingHint(c.key))}
	}
	var good, bad []string
	for _, v := range got {
		if c.matches(v) != c.negated {
			good = append(good, v)
		} else {
			bad = append(bad, v)
		}
	}
	// Every value must pass for ForAllValues and for an unqualified negated
	// operator; one is enough otherwise.
	if c.qualifier == "ForAllValues" || c.qualifier == "" && c.negated {
		if len(bad) == 0 {
			return outcome{holds: true}
		}
		if c.negated {
			return outcome{reason: fmt.Sprintf("%s %s, the token has %s", c.describe(), c.wants(), quoteAll(bad, ", "))}
		}
		return outcome{reason: fmt.Sprintf("%s %s, the token also has %s%s", c.describe(), c.wants(), quoteAll(bad, ", "), c.valueHint(bad))}
	}
	if len(good) > 0 {
		return outcome{holds: true}
	}
	if c.negated {
		return outcome{reason: fmt.Sprintf("%s %s, the token has only %s", c.describe(), c.wants(), quoteAll(got, ", "))}
	}
	return outcome{reason: fmt.Sprintf("%s %s, the token has %s%s", c.describe(), c.wants(), quoteAll(got, ", "), c.valueHint(got))}
}

// evalNull evaluates the Null operator: "true" wants the key absent,
// "false" present.
func (c condition) evalNull(req *request, got []string) outcome {
	for _, v := range c.values {
		if strings.EqualFold(v, "true") == (len(got) == 0) {
			return outcome{holds: true}
		}
	}
	if len(got) == 0 {
		return outcome{reason: fmt.Sprintf("%s wants the key present, the token has no %q%s", c.describe(), c.key, req.missingHint(c.key))}
	}
	return outcome{reason: fmt.Sprintf("%s wants the key absent, the token has %s", c.describe(), quoteAll(got, ", "))}
}

// matches reports whether v matches one of the policy's values under the
// operator without its negation.
func (c condition) matches(v string) bool {
	for _, g := range c.patterns {
		var ok bool
		switch c.base {
		case "StringEquals", "StringNotEquals":
			ok = g.text() == v
		case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
			ok = strings.EqualFold(g.text(), v)
		case "StringLike", "StringNotLike":
			ok = g.match(v, false)
		}
		if ok {
			return true
		}
	}
	return false
}

// describe names the condition as the policy writes it.
func (c condition) describe() string {
	return fmt.Sprintf("condition %s %q", c.operator, c.key)
}

// wants says what the condition asks of the request's values.
func (c condition) wants() string {
	values := quoteAll(c.values, " or ")
	if len(c.values) == 0 {
		values = "(no value)"
	}
	switch {
	case c.negated && c.qualifier == "ForAnyValue":
		return "wants a value other than " + values
	case c.negated:
		return "rules out " + values
	case c.qualifier == "ForAllValues":
		return "wants every value to be " + values
	}
	return "wants " + values
}

// valueHint explains a near miss of a positive operator on got.
func (c condition) valueHint(got []string) string {
	like := c.base == "StringLike"
	for _, g := range c.patterns {
		for _, v := range got {
			if like && g.match(v, true) || !like && strings.EqualFold(g.text(), v) {
				return " (they differ only in case, and " + c.base + " is case-sensitive)"
			}
		}
	}
	if c.base == "StringEquals" || c.base == "StringEqualsIgnoreCase" {
		for _, g := range c.patterns {
			if !g.wild() {
				continue
			}
			for _, v := range got {
				if g.match(v, c.base == "StringEqualsIgnoreCase") {
					return " (" + c.base + " compares \"*\" and \"?\" literally; StringLike would expand them)"
				}
			}
		}
	}
	return ""
}

// quoteAll quotes each value and joins them with sep.
func quoteAll(values []string, sep string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(quoted, sep)
}
