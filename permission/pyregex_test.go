package permission

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type regexVectors struct {
	Python  string `json:"python"`
	Unicode string `json:"unicode"`
	Vectors []struct {
		Pattern string `json:"pattern"`
		Name    string `json:"name"`
		Match   bool   `json:"match"`
	} `json:"vectors"`
	Reject     []string  `json:"reject"`
	Unassigned [][2]rune `json:"unassigned"`
	Word       [][2]rune `json:"word"`
	Digit      [][2]rune `json:"digit"`
	Space      [][2]rune `json:"space"`
}

// loadVectors reads what Python's re.match answered; testdata/gen_regex_vectors.py
// writes the file. The test never skips: the file is committed.
func loadVectors(t *testing.T) regexVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/regex_vectors.json")
	require.NoError(t, err)
	var v regexVectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Vectors)
	return v
}

func TestPatternAgreesWithPython(t *testing.T) {
	v := loadVectors(t)
	compiled := map[string]*Pattern{}
	for _, vec := range v.Vectors {
		p, ok := compiled[vec.Pattern]
		if !ok {
			var err error
			p, err = CompilePattern(vec.Pattern)
			require.NoError(t, err, "pattern %q", vec.Pattern)
			compiled[vec.Pattern] = p
		}
		assert.Equal(t, vec.Match, p.Match(vec.Name), "re.match(%q, %q) is %v in Python %s", vec.Pattern, vec.Name, vec.Match, v.Python)
	}
}

// The exact matcher must agree with Python on every vector too, not only on
// the ones Match hands to it.
func TestExactMatcherAgreesWithPython(t *testing.T) {
	v := loadVectors(t)
	for _, vec := range v.Vectors {
		p, err := CompilePattern(vec.Pattern)
		require.NoError(t, err)
		name := vec.Name
		if p.fold {
			name = strings.Map(unicode.ToLower, name)
		}
		assert.Equal(t, vec.Match, vmMatch(p.prog, name, p.ascii), "vm: re.match(%q, %q)", vec.Pattern, vec.Name)
	}
}

func TestPatternRejectsWhatRE2CannotExpress(t *testing.T) {
	v := loadVectors(t)
	require.NotEmpty(t, v.Reject)
	for _, src := range v.Reject {
		_, err := CompilePattern(src)
		require.Error(t, err, "pattern %q", src)
		assert.True(t, errors.Is(err, ErrInvalidPattern))
		var pe *PatternError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, src, pe.Pattern, "the error names the pattern")
		assert.Regexp(t, "cannot be expressed in RE2", pe.Reason)
	}
}

func inRanges(rs [][2]rune, r rune) bool {
	lo, hi := 0, len(rs)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < rs[m][0]:
			hi = m
		case r > rs[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// \w \d \s have Python's Unicode meaning on every code point Python assigns.
func TestClassEscapesMatchPythonOnEveryCodePoint(t *testing.T) {
	v := loadVectors(t)
	for _, c := range []struct {
		name   string
		python [][2]rune
	}{{`\w`, v.Word}, {`\d`, v.Digit}, {`\s`, v.Space}} {
		t.Run(c.name, func(t *testing.T) {
			pos, err := CompilePattern(c.name)
			require.NoError(t, err)
			neg, err := CompilePattern(strings.ToUpper(c.name))
			require.NoError(t, err)
			inSet, err := CompilePattern("[" + strings.ToUpper(c.name) + "]")
			require.NoError(t, err)
			bad := 0
			for r := rune(0); r <= unicode.MaxRune; r++ {
				if (r >= 0xD800 && r <= 0xDFFF) || inRanges(v.Unassigned, r) {
					continue
				}
				want := inRanges(c.python, r)
				s := string(r)
				if pos.Match(s) != want || neg.Match(s) == want || inSet.Match(s) == want {
					bad++
					if bad < 5 {
						t.Errorf("%s on U+%04X: Python says %v", c.name, r, want)
					}
				}
			}
			assert.Zero(t, bad, "code points where %s differs from Python %s", c.name, v.Python)
		})
	}
}

func TestCompilePatternErrors(t *testing.T) {
	tests := []struct {
		pattern, reason string
	}{
		{strings.Repeat("a", MaxPatternLength+1), "longer than 1024 characters"},
		{"(?x)a b", "verbose patterns (?x) are not supported"},
		{"(?L)a", "the LOCALE flag (?L) is not allowed for text patterns"},
		{"a(?i)b", "global flags not at the start of the expression"},
		{"[a-", "unterminated character set"},
		{`\q`, `bad escape \q`},
		{`\p{L}`, `bad escape \p`},
		{`\z`, `bad escape \z`},
		{`a\`, "bad escape (end of pattern)"},
		{`\x4`, `incomplete escape \x`},
		{`\uZZZZ`, `incomplete escape \uZZZZ`},
		{"(", "missing closing ): `\\A(?:()`"},
		{"a{2000}", "invalid repeat count: `{2000}`"},
		{`(?<n>a)`, "unknown extension \"(?<\""},
		{"\U0010FFFE", "contains the noncharacter U+10FFFE"},
		{"(?#never closed", "unterminated comment"},
		{"(?a:x)", "the flags (?a:...) are not supported in a group"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			_, err := CompilePattern(tt.pattern)
			var pe *PatternError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.reason, pe.Reason)
		})
	}
	// Limits on the compiled program, not only the text.
	_, err := CompilePattern(strings.Repeat(`[a-z]{1,100}`, 40))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too complex")
}

func TestPatternMatchesAtStartOnly(t *testing.T) {
	p, err := CompilePattern("prod")
	require.NoError(t, err)
	assert.True(t, p.Match("prod-model"))
	assert.False(t, p.Match("my-prod"), "re.match anchors at the start")
	assert.Equal(t, "prod", p.String())
}
