package permission

import (
	"fmt"
	"regexp/syntax"
	"strings"
)

// ValidateRule checks a rule as the admin API and the importer must before
// storing it: a known kind and level, a user or group, and a pattern that
// compiles. The error names the rule.
func ValidateRule(r Rule) error {
	_, err := compileRule(r, nil)
	return err
}

// compiledRule is a rule with its pattern and the prefilters that let most
// rules be passed over without running the pattern.
type compiledRule struct {
	Rule
	pat *Pattern
	// prefix is a literal every matching name starts with ("" if none,
	// or if case is folded).
	prefix string
	// required are literals every matching name contains.
	required []string
}

// compileRule compiles r, reusing old's pattern when it is the same.
func compileRule(r Rule, old *compiledRule) (*compiledRule, error) {
	name := fmt.Sprintf("rule %d (%s, %s, priority %d)", r.ID, r.Kind, r.Principal, r.Priority)
	if !r.Kind.valid() {
		return nil, fmt.Errorf("%s: unknown resource kind", name)
	}
	if r.Principal.Kind != ToUser && r.Principal.Kind != ToGroup || r.Principal.Name == "" {
		return nil, fmt.Errorf("%s: needs a user or a group", name)
	}
	if r.Level > Manage {
		return nil, fmt.Errorf("%s: unknown level %d", name, r.Level)
	}
	if old != nil && old.Pattern == r.Pattern {
		c := *old
		c.Rule = r
		return &c, nil
	}
	pat, err := CompilePattern(r.Pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &compiledRule{Rule: r, pat: pat}
	if !pat.fold {
		if re, err := syntax.Parse(`\A(?:`+translateOrEmpty(r.Pattern)+`)`, syntax.Perl); err == nil {
			c.prefix, c.required = literals(re.Simplify())
		}
	}
	return c, nil
}

func translateOrEmpty(src string) string {
	t, err := translate(src)
	if err != nil {
		return ""
	}
	return t.re2
}

// matches runs the prefilters, then the pattern.
func (c *compiledRule) matches(name string) bool {
	if !strings.HasPrefix(name, c.prefix) {
		return false
	}
	for _, lit := range c.required {
		if !strings.Contains(name, lit) {
			return false
		}
	}
	return c.pat.Match(name)
}

// literals finds, in a parsed pattern anchored at the start, the literal
// prefix every match begins with and literals every match contains.
// Only plain concatenations are looked into: anything optional, repeated
// zero times, alternated or case-folded contributes nothing, so the
// prefilters never reject a name the pattern matches.
func literals(re *syntax.Regexp) (prefix string, required []string) {
	subs := flatten(re)
	atStart := true
	for _, s := range subs {
		switch s.Op {
		case syntax.OpBeginText, syntax.OpEmptyMatch:
			continue
		case syntax.OpLiteral:
			if s.Flags&syntax.FoldCase != 0 {
				atStart = false
				continue
			}
			lit := string(s.Rune)
			if atStart {
				prefix += lit
			} else if len(lit) >= 2 {
				required = append(required, lit)
			}
			continue
		}
		atStart = false
	}
	return prefix, required
}

// flatten lists the elements of nested concatenations and captures.
func flatten(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			out = append(out, flatten(s)...)
		}
		return out
	case syntax.OpCapture:
		return flatten(re.Sub[0])
	}
	return []*syntax.Regexp{re}
}
