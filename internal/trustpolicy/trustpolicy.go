// Package trustpolicy evaluates IAM policies offline: whether a role trust
// policy lets a ServiceAccount token assume the role, and whether the role's
// permission policies allow an action on a resource, and if not, why.
package trustpolicy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultAction is the action a Request that names none is evaluated for.
const DefaultAction = "sts:AssumeRoleWithWebIdentity"

// ErrInvalidPolicy is returned for a document that is not a policy.
var ErrInvalidPolicy = errors.New("not an IAM policy document")

// Request is one AssumeRoleWithWebIdentity call as IAM evaluates it.
type Request struct {
	// ProviderARN is the IAM OIDC provider that accepted the token, the
	// federated principal: arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH.
	ProviderARN string
	// Claims are the condition keys the token provides with their values,
	// e.g. "HOST/PATH:sub" and "HOST/PATH:aud"; keys are matched without
	// regard to case, as IAM does.
	Claims map[string][]string
	// Action is the action called; empty means DefaultAction.
	Action string
}

// Decision is whether a trust policy lets a request assume the role, and why.
type Decision struct {
	// Allowed is set when an Allow statement matches and no Deny does.
	Allowed bool
	// Reason says in one sentence why: the statement that allowed or
	// denied, or the closest statement's reason when none allowed.
	Reason string
	// Broad is set when an allowing statement does not pin the token's sub
	// to exact ServiceAccounts: it uses a wildcard or has no sub condition.
	Broad bool
	// BroadReason says which statement is broad and how.
	BroadReason string
	// Statements are the policy's statements in order, each evaluated.
	Statements []StatementResult
}

// StatementResult is one statement evaluated against a request.
type StatementResult struct {
	// Index is the statement's place in the policy, from 0.
	Index int
	// Sid is the statement's Sid, empty when it has none.
	Sid string
	// Effect is Allow or Deny.
	Effect string
	// Matched is set when principal, action and every condition match.
	Matched bool
	// Unsupported is set when nothing but a condition this evaluator cannot
	// evaluate (an unsupported operator or policy variable) stands between
	// the statement and a match.
	Unsupported bool
	// Reason says why the statement matched or which element did not,
	// starting with the statement's name.
	Reason string
	// Notes are conditions that hold only because the token lacks their
	// key, which may not be what the author meant.
	Notes []string
}

// stage is how far a statement got in matching: the higher, the closer.
type stage int

const (
	stageNoPrincipal stage = iota
	stageOtherPrincipal
	stageOtherProvider
	stageAction
	stageCondition
	stageMatched
)

// evaluation is a statement's result with what the decision needs.
type evaluation struct {
	result StatementResult
	label  string
	stage  stage
	broad  string
}

// request is a Request prepared for evaluation.
type request struct {
	provider string
	action   string
	// claims are keyed by lower-case condition key.
	claims map[string][]string
	// keys are the condition keys as given, sorted.
	keys []string
}

// Evaluate decides whether the trust policy, as IAM returns it (JSON,
// possibly URL-encoded), lets req assume the role. The error wraps
// ErrInvalidPolicy when policy is not a policy document.
func Evaluate(policy string, req Request) (Decision, error) {
	doc, err := parse(policy)
	if err != nil {
		return Decision{}, err
	}
	r := newRequest(req)
	evals := make([]evaluation, len(doc.statements))
	d := Decision{Statements: make([]StatementResult, len(doc.statements))}
	for i, s := range doc.statements {
		evals[i] = r.evaluate(i, s)
		d.Statements[i] = evals[i].result
	}
	r.decide(&d, evals)
	return d, nil
}

// newRequest prepares req: the default action, and claims keyed without
// regard to case.
func newRequest(req Request) *request {
	r := &request{provider: req.ProviderARN, action: req.Action, claims: map[string][]string{}}
	if r.action == "" {
		r.action = DefaultAction
	}
	for k, v := range req.Claims {
		lower := strings.ToLower(k)
		r.claims[lower] = append(r.claims[lower], v...)
		r.keys = append(r.keys, k)
	}
	slices.Sort(r.keys)
	return r
}

// decide applies IAM's evaluation logic: a matching Deny wins, then a
// matching Allow; with neither the request is implicitly denied.
func (r *request) decide(d *Decision, evals []evaluation) {
	for _, e := range evals {
		if e.result.Effect == "Deny" && e.result.Matched {
			d.Reason = fmt.Sprintf("denied: Deny %s matches this token, and an explicit Deny overrides any Allow", e.label)
			return
		}
	}
	// A Deny that might match keeps the request from being reported as
	// allowed: an unknown is never read as a yes.
	for _, e := range evals {
		if e.result.Effect == "Deny" && e.result.Unsupported {
			d.Reason = "not known to be allowed: Deny " + e.result.Reason
			return
		}
	}
	var best *evaluation
	for i, e := range evals {
		if e.result.Effect != "Allow" {
			continue
		}
		if e.result.Matched {
			if !d.Allowed {
				d.Allowed = true
				d.Reason = fmt.Sprintf("allowed: %s allows %s for this token", e.label, r.action)
				if len(e.result.Notes) > 0 {
					d.Reason += ", but " + strings.Join(e.result.Notes, "; ")
				}
			}
			if e.broad != "" && !d.Broad {
				d.Broad, d.BroadReason = true, e.broad
			}
			continue
		}
		if best == nil || e.stage > best.stage {
			best = &evals[i]
		}
	}
	switch {
	case d.Allowed:
	case best == nil:
		d.Reason = fmt.Sprintf("no statement allows %s: the policy has no Allow statement", r.action)
	case best.stage <= stageOtherProvider:
		d.Reason = fmt.Sprintf("no statement allows %s for provider %s: %s", r.action, r.provider, best.result.Reason)
	default:
		d.Reason = fmt.Sprintf("no statement allows %s for this token: %s", r.action, best.result.Reason)
	}
}

// evaluate matches one statement against the request: principal, then
// action, then conditions, reporting the first element that does not match
// (every failing condition, when it is the conditions).
func (r *request) evaluate(i int, s statement) evaluation {
	e := evaluation{label: label(i, s.sid)}
	e.result = StatementResult{Index: i, Sid: s.sid, Effect: s.effect}
	fail := func(st stage, why string) evaluation {
		e.stage = st
		e.result.Reason = e.label + ": " + why
		return e
	}
	if s.principal == nil {
		return fail(stageNoPrincipal, "it names no Principal")
	}
	if ok, federated, why := r.matchPrincipal(s); !ok {
		if federated {
			return fail(stageOtherProvider, why)
		}
		return fail(stageOtherPrincipal, why)
	}
	if ok, why := r.matchAction(s); !ok {
		return fail(stageAction, why)
	}
	var failed, unsupported []string
	for _, c := range s.conditions {
		o := c.eval(r)
		switch {
		case o.holds:
			if o.note != "" {
				e.result.Notes = append(e.result.Notes, o.note)
			}
		case o.unsupported:
			unsupported = append(unsupported, o.reason)
		default:
			failed = append(failed, o.reason)
		}
	}
	if len(failed) > 0 {
		return fail(stageCondition, strings.Join(failed, "; "))
	}
	if len(unsupported) > 0 {
		e.result.Unsupported = true
		return fail(stageCondition, strings.Join(unsupported, "; ")+", so whether it matches cannot be told offline")
	}
	e.stage = stageMatched
	e.result.Matched = true
	switch n := len(s.conditions); n {
	case 0:
		e.result.Reason = e.label + ": principal and action match, and it has no condition"
	case 1:
		e.result.Reason = e.label + ": principal and action match, and its condition holds"
	default:
		e.result.Reason = fmt.Sprintf("%s: principal and action match, and all %d conditions hold", e.label, n)
	}
	if s.effect == "Allow" {
		e.broad = r.broad(e.label, s)
	}
	return e
}

// label names a statement by its Sid, or its index when it has none.
func label(i int, sid string) string {
	if sid != "" {
		return fmt.Sprintf("statement %q", sid)
	}
	return fmt.Sprintf("statement %d", i)
}

// matchPrincipal reports whether the statement's Principal (or
// NotPrincipal) admits the token's provider; federated says a mismatch is
// with another federated provider rather than another kind of principal.
func (r *request) matchPrincipal(s statement) (ok, federated bool, why string) {
	names, federatedValues := r.names(s.principal)
	if s.notPrincipal {
		if names {
			return false, true, fmt.Sprintf("NotPrincipal excludes the token's provider %s", r.provider)
		}
		return true, false, ""
	}
	if names {
		return true, false, ""
	}
	if len(federatedValues) == 0 {
		var named []string
		for _, e := range s.principal.entries {
			named = append(named, e.kind+" "+quoteAll(e.values, ", "))
		}
		return false, false, fmt.Sprintf("principal is %s, not a Federated provider: a web identity token matches only Principal {\"Federated\": %q}", strings.Join(named, "; "), r.provider)
	}
	return false, true, r.providerMismatch(federatedValues)
}

// names reports whether the principal covers the token's provider: "*",
// {"AWS": "*"} (which IAM reads as "*"), a Federated "*" or the provider's
// exact ARN. It also returns the Federated values.
func (r *request) names(p *principal) (bool, []string) {
	if p.everyone {
		return true, nil
	}
	var federated []string
	for _, e := range p.entries {
		for _, v := range e.values {
			switch {
			case e.kind == "AWS" && v == "*":
				return true, nil
			case e.kind == "Federated" && (v == "*" || v == r.provider):
				return true, nil
			case e.kind == "Federated":
				federated = append(federated, v)
			}
		}
	}
	return false, federated
}

// providerMismatch says how the Federated principals differ from the
// token's provider, pointing at the closest one.
func (r *request) providerMismatch(federated []string) string {
	if len(federated) == 1 {
		why := fmt.Sprintf("principal is %s, the token's provider is %s", federated[0], r.provider)
		if hint, _ := providerDifference(federated[0], r.provider); hint != "" {
			why += " (" + hint + ")"
		}
		return why
	}
	why := fmt.Sprintf("principal lists %s, none of them the token's provider %s", strings.Join(federated, ", "), r.provider)
	best, bestScore, bestHint := "", 0, ""
	for _, f := range federated {
		if hint, score := providerDifference(f, r.provider); score > bestScore {
			best, bestScore, bestHint = f, score, hint
		}
	}
	if bestHint != "" {
		why += fmt.Sprintf(" (closest: %s, %s)", best, bestHint)
	}
	return why
}

// providerDifference says how a Federated principal differs from the
// provider ARN, and how close it is: the higher, the closer.
func providerDifference(principal, provider string) (string, int) {
	switch {
	case strings.TrimRight(principal, "/") == strings.TrimRight(provider, "/"):
		if strings.HasSuffix(principal, "/") {
			return "they differ only by the principal's trailing slash, and IAM compares ARNs exactly", 3
		}
		return "they differ only by the provider's trailing slash, and IAM compares ARNs exactly", 3
	case strings.EqualFold(principal, provider):
		return "they differ only in case, and IAM compares ARNs exactly", 3
	}
	pPartition, pAccount, pIssuer, ok := splitProviderARN(principal)
	if !ok {
		return "the principal is not an OIDC provider ARN", 0
	}
	partition, account, issuer, ok := splitProviderARN(provider)
	switch {
	case !ok:
		return "", 0
	case pPartition != partition:
		return "another AWS partition", 1
	case pAccount != account && pIssuer == issuer:
		return "the same issuer in another AWS account", 2
	case pAccount == account && strings.TrimRight(pIssuer, "/") == strings.TrimRight(issuer, "/"):
		return "the issuers differ only by a trailing slash, and IAM compares ARNs exactly", 3
	case pAccount == account:
		return "another issuer: another cluster's provider, or this cluster's issuer changed", 2
	}
	return "another AWS account and another issuer", 1
}

// splitProviderARN splits arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER.
func splitProviderARN(arn string) (partition, account, issuer string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", "", "", false
	}
	issuer, ok = strings.CutPrefix(parts[5], "oidc-provider/")
	return parts[1], parts[4], issuer, ok
}

// matchAction reports whether the statement's Action (or NotAction)
// covers the request's action; IAM compares actions without regard to
// case.
func (r *request) matchAction(s statement) (bool, string) {
	if s.actions == nil {
		return false, "it names no Action"
	}
	covered := false
	for _, a := range s.actions {
		if g, _ := compile(a, false); g.match(r.action, true) {
			covered = true
			break
		}
	}
	switch {
	case s.notAction && covered:
		return false, fmt.Sprintf("NotAction %s excludes %s", quoteAll(s.actions, ", "), r.action)
	case s.notAction || covered:
		return true, ""
	case len(s.actions) == 1:
		return false, fmt.Sprintf("action is %q, not %s", s.actions[0], r.action)
	}
	return false, fmt.Sprintf("actions %s do not cover %s", quoteAll(s.actions, ", "), r.action)
}

// broad says how an allowing statement fails to pin the token's sub to
// exact ServiceAccounts, or returns "" when it pins it. A positive
// condition on the sub key with only literal values pins it; the
// conditions are ANDed, so one such condition is enough.
func (r *request) broad(label string, s statement) string {
	subKey := ""
	if _, _, issuer, ok := splitProviderARN(r.provider); ok {
		subKey = strings.ToLower(issuer) + ":sub"
	}
	isSub := func(key string) bool {
		key = strings.ToLower(key)
		if subKey != "" {
			return key == subKey
		}
		return strings.HasSuffix(key, ":sub")
	}
	wildcard := ""
	for _, c := range s.conditions {
		if c.unsupported != "" || c.negated || c.base == "Null" || !isSub(c.key) || len(c.patterns) == 0 {
			continue
		}
		var wild []string
		if c.base == "StringLike" {
			for i, g := range c.patterns {
				if g.wild() {
					wild = append(wild, c.values[i])
				}
			}
		}
		if len(wild) == 0 {
			return ""
		}
		if wildcard == "" {
			wildcard = fmt.Sprintf("%s: %s matches the sub by wildcard %s", label, c.describe(), quoteAll(wild, ", "))
		}
	}
	if wildcard != "" {
		return wildcard
	}
	key := "the sub claim"
	if subKey != "" {
		_, _, issuer, _ := splitProviderARN(r.provider)
		key = fmt.Sprintf("%q", issuer+":sub")
	}
	return fmt.Sprintf("%s has no condition on %s, so any ServiceAccount the provider issues tokens for may assume the role", label, key)
}

// missingHint points at the token's key for the same claim when a
// condition names a key the token lacks, as when it names another issuer.
func (r *request) missingHint(key string) string {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return ""
	}
	issuer, claim := key[:i], key[i+1:]
	for _, k := range r.keys {
		j := strings.LastIndexByte(k, ':')
		if j < 0 || !strings.EqualFold(k[j+1:], claim) {
			continue
		}
		if strings.EqualFold(strings.TrimRight(k[:j], "/"), strings.TrimRight(issuer, "/")) {
			return fmt.Sprintf(" (its key is %q: they differ by a trailing slash)", k)
		}
		return fmt.Sprintf(" (its key is %q: the condition names another issuer)", k)
	}
	return ""
}
