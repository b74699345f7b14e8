package trustpolicy

import (
	"strings"
)

// Grant is what one statement of a trust policy says, for people to read:
// which identity providers, and which subjects and audiences of theirs.
type Grant struct {
	Sid    string `json:"sid,omitempty"`
	Effect string `json:"effect"`
	// Providers are the Federated principals ("*" for anyone).
	Providers []string `json:"providers"`
	// Subjects and Audiences are the values the statement's conditions
	// require of the sub and aud keys, each as "OPERATOR value".
	Subjects  []string `json:"subjects,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
	// Others are the remaining conditions, as "OPERATOR key value".
	Others []string `json:"others,omitempty"`
}

// Grants lists what each statement of policy grants to identity
// providers; statements for other kinds of principals are left out.
func Grants(policy string) ([]Grant, error) {
	doc, err := parse(policy)
	if err != nil {
		return nil, err
	}
	var out []Grant
	for _, st := range doc.statements {
		g := Grant{Sid: st.sid, Effect: st.effect}
		if st.principal != nil {
			if st.principal.everyone {
				g.Providers = append(g.Providers, "*")
			}
			for _, e := range st.principal.entries {
				if e.kind == "Federated" {
					g.Providers = append(g.Providers, e.values...)
				}
			}
		}
		if len(g.Providers) == 0 {
			continue
		}
		for _, c := range st.conditions {
			values := c.operator + " " + strings.Join(c.values, ", ")
			switch {
			case strings.HasSuffix(strings.ToLower(c.key), ":sub"):
				g.Subjects = append(g.Subjects, values)
			case strings.HasSuffix(strings.ToLower(c.key), ":aud"):
				g.Audiences = append(g.Audiences, values)
			default:
				g.Others = append(g.Others, c.operator+" "+c.key+" "+strings.Join(c.values, ", "))
			}
		}
		out = append(out, g)
	}
	return out, nil
}
