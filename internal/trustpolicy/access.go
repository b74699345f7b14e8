package trustpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Access is whether a role's permission policies allow one action on one
// resource.
type Access struct {
	Allowed bool `json:"allowed"`
	// Conditional says the allowing statement has conditions, which depend
	// on the request and are not evaluated here.
	Conditional bool   `json:"conditional,omitempty"`
	Reason      string `json:"reason"`
}

// EvaluateAccess decides whether the permission policies (name → document,
// as IAM returns them) allow action on resource. Conditions depend on each
// request, so they are not evaluated: an Allow with conditions allows
// "if its conditions hold", and a Deny with conditions is reported as one
// that may deny. Permission boundaries, SCPs and resource policies are not
// considered.
func EvaluateAccess(policies map[string]string, action, resource string) (Access, error) {
	names := make([]string, 0, len(policies))
	for name := range policies {
		names = append(names, name)
	}
	slices.Sort(names)
	req := &request{action: action}
	var allow, conditionalAllow, conditionalDeny string
	for _, name := range names {
		doc, err := parse(policies[name])
		if err != nil {
			return Access{}, fmt.Errorf("policy %s: %w", name, err)
		}
		for i, st := range doc.statements {
			if ok, _ := req.matchAction(st); !ok || !matchResource(st, resource) {
				continue
			}
			where := fmt.Sprintf("policy %s, %s", name, label(i, st.sid))
			switch {
			case st.effect == "Deny" && len(st.conditions) == 0:
				return Access{Reason: "denied explicitly by " + where}, nil
			case st.effect == "Deny":
				conditionalDeny = where
			case len(st.conditions) == 0:
				allow = where
			case conditionalAllow == "":
				conditionalAllow = where
			}
		}
	}
	note := ""
	if conditionalDeny != "" {
		note = "; " + conditionalDeny + " denies it when its conditions hold"
	}
	switch {
	case allow != "":
		return Access{Allowed: true, Reason: "allowed by " + allow + note}, nil
	case conditionalAllow != "":
		return Access{Allowed: true, Conditional: true, Reason: "allowed by " + conditionalAllow + " if its conditions hold" + note}, nil
	}
	return Access{Reason: fmt.Sprintf("no statement of the role's policies (%s) allows %s on %s", strings.Join(names, ", "), action, resource)}, nil
}

// matchResource reports whether the statement's Resource (or NotResource)
// covers resource; ARNs compare with case.
func matchResource(s statement, resource string) bool {
	if s.resources == nil {
		return false
	}
	covered := slices.ContainsFunc(s.resources, func(pattern string) bool {
		g, err := compile(pattern, false)
		return err == nil && g.match(resource, false)
	})
	return covered != s.notResource
}
