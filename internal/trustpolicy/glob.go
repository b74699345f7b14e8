package trustpolicy

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind tells a literal character from a wildcard.
type tokenKind uint8

const (
	literal tokenKind = iota
	// anyRun is *: any run of characters, empty included.
	anyRun
	// anyOne is ?: exactly one character.
	anyOne
)

// token is one character of a pattern.
type token struct {
	r    rune
	kind tokenKind
}

// glob is a pattern of IAM's * and ? wildcards.
type glob []token

// compile reads pattern. With variables, ${*}, ${?} and ${$} stand for
// the literal characters, as in IAM policies of Version 2012-10-17; any
// other ${...} is a policy variable, which this evaluator does not
// resolve, so compile fails rather than compare it as text.
func compile(pattern string, variables bool) (glob, error) {
	g := make(glob, 0, len(pattern))
	for i := 0; i < len(pattern); {
		if variables && strings.HasPrefix(pattern[i:], "${") {
			if end := strings.IndexByte(pattern[i:], '}'); end > 0 {
				name := pattern[i+2 : i+end]
				switch name {
				case "*", "?", "$":
					g = append(g, token{r: rune(name[0])})
					i += end + 1
					continue
				}
				return nil, fmt.Errorf("policy variable ${%s} is not supported", name)
			}
		}
		r, size := utf8.DecodeRuneInString(pattern[i:])
		t := token{r: r}
		switch r {
		case '*':
			t.kind = anyRun
		case '?':
			t.kind = anyOne
		}
		g = append(g, t)
		i += size
	}
	return g, nil
}

// text returns the pattern as plain text, wildcards as their characters:
// what StringEquals compares.
func (g glob) text() string {
	var b strings.Builder
	for _, t := range g {
		b.WriteRune(t.r)
	}
	return b.String()
}

// wild reports whether the pattern has a wildcard.
func (g glob) wild() bool {
	for _, t := range g {
		if t.kind != literal {
			return true
		}
	}
	return false
}

// match reports whether s matches the whole pattern; fold ignores case.
func (g glob) match(s string, fold bool) bool {
	runes := []rune(s)
	same := func(a, b rune) bool {
		return a == b || fold && unicode.ToLower(a) == unicode.ToLower(b)
	}
	// Greedy with backtracking to the last *: linear in practice, and
	// never exponential.
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(runes) {
		switch {
		case p < len(g) && g[p].kind == anyRun:
			star, resume = p, i
			p++
		case p < len(g) && (g[p].kind == anyOne || same(g[p].r, runes[i])):
			p++
			i++
		case star >= 0:
			resume++
			p, i = star+1, resume
		default:
			return false
		}
	}
	for p < len(g) && g[p].kind == anyRun {
		p++
	}
	return p == len(g)
}
