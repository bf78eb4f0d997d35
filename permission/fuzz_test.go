package permission

import (
	"strings"
	"testing"
)

// FuzzValidateRule feeds rule patterns and names: validation never panics,
// and where both matchers apply they agree (Go's regexp for ASCII names
// without a newline, the Pike VM always), so the fast path and the exact
// path cannot drift apart.
func FuzzValidateRule(f *testing.F) {
	for _, s := range []string{`^team-a/`, `(team-a|team-b)/`, `[a-z]+-prod$`, `\bprod\b`, `(?i)straße`, `\d{2,}`,
		`(?=x)`, `(a)\1`, `a{,3}`, `[\W\d]`, `(?m)^a$`, `x*`, `[]a]`, `\u00e9`, `(?#c)a`, `a++`} {
		f.Add(s, "team-a/prod-1")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		err := ValidateRule(Rule{ID: 1, Kind: Experiment, Principal: ForGroup("g"), Pattern: pattern, Level: Read})
		p, perr := CompilePattern(pattern)
		if (err == nil) != (perr == nil) {
			t.Fatalf("%q: ValidateRule %v, CompilePattern %v", pattern, err, perr)
		}
		if perr != nil {
			return
		}
		got := p.Match(name)
		c, _ := compileRule(Rule{ID: 1, Kind: Experiment, Principal: ForGroup("g"), Pattern: pattern}, nil)
		if c.matches(name) != got {
			t.Fatalf("%q on %q: prefilters change the answer", pattern, name)
		}
		if isASCII(name) && !strings.Contains(name, "\n") {
			if vm := vmMatch(p.prog, name, p.ascii); vm != p.re.MatchString(name) {
				t.Fatalf("%q on %q: regexp %v, vm %v", pattern, name, p.re.MatchString(name), vm)
			}
		}
	})
}
