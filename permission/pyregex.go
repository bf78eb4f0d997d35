package permission

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Limits on a rule's pattern: names are short, and a rule is evaluated
// against every new name, so a pattern must stay small.
const (
	MaxPatternLength = 1024 // characters
	maxProgInsts     = 5000 // instructions of the compiled program
)

// ErrInvalidPattern is wrapped by every error about a rule's pattern.
var ErrInvalidPattern = errors.New("invalid pattern")

// Pattern is a rule's regular expression, written in Python's syntax (as
// mlflow-oidc-auth stores it) and matched as Python's re.match does: at the
// start of the name, not necessarily to its end.
//
// It is translated to RE2 so that matching takes linear time: \d \w \s and
// \b keep their Unicode meaning, and $ also matches before a final newline.
// A pattern RE2 cannot express (lookaround, backreferences, conditionals,
// atomic groups, possessive quantifiers) is refused, never dropped.
type Pattern struct {
	source   string
	re       *regexp.Regexp // exact unless vmFor says otherwise
	prog     *syntax.Prog   // for the exact matcher
	boundary bool           // uses \b or \B with Unicode meaning
	dollar   bool           // uses $ outside multiline mode
	ascii    bool           // (?a): \b and \w are ASCII
	fold     bool           // global (?i) in Unicode mode
}

// CompilePattern translates and compiles a Python pattern.
func CompilePattern(src string) (*Pattern, error) {
	if n := utf8.RuneCountInString(src); n > MaxPatternLength {
		return nil, patternError(src, fmt.Sprintf("longer than %d characters", MaxPatternLength))
	}
	if !utf8.ValidString(src) {
		return nil, patternError(src, "not valid UTF-8")
	}
	t, err := translate(src)
	if err != nil {
		return nil, patternError(src, err.Error())
	}
	// The size check comes before regexp.Compile, which would otherwise
	// do the expensive work first.
	parsed, err := syntax.Parse(`\A(?:`+t.vm+`)`, syntax.Perl)
	if err != nil {
		return nil, patternError(src, reasonOf(err))
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, patternError(src, reasonOf(err))
	}
	if len(prog.Inst) > maxProgInsts {
		return nil, patternError(src, "too complex (its compiled program is too large)")
	}
	re, err := regexp.Compile(`\A(?:` + t.re2 + `)`)
	if err != nil {
		return nil, patternError(src, reasonOf(err))
	}
	return &Pattern{source: src, re: re, prog: prog, boundary: t.boundary, dollar: t.dollar, ascii: t.ascii, fold: t.fold && !t.ascii}, nil
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.source }

// Match reports whether the pattern matches at the start of name, as
// Python's re.match(pattern, name) would.
func (p *Pattern) Match(name string) bool {
	if p.fold && !isASCII(name) {
		// Python ignores case by comparing simple lower-case forms, so
		// "İ" matches (?i)i; Go's case folding does not relate the two.
		// Lower-casing the name first gives Python's answer.
		name = strings.Map(unicode.ToLower, name)
	}
	if (p.dollar && strings.IndexByte(name, '\n') >= 0) || (p.boundary && !isASCII(name)) {
		// Go's $ and \b differ from Python's here: use the exact matcher.
		return vmMatch(p.prog, name, p.ascii)
	}
	return p.re.MatchString(name)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// PatternError is the error of CompilePattern.
type PatternError struct {
	Pattern string
	Reason  string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("invalid pattern %q: %s", e.Pattern, e.Reason)
}

func (e *PatternError) Is(target error) bool { return target == ErrInvalidPattern }

func patternError(src, reason string) error {
	if len(src) > 80 {
		src = src[:80] + "..."
	}
	return &PatternError{Pattern: src, Reason: reason}
}

func reasonOf(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code) + ": `" + se.Expr + "`"
	}
	return err.Error()
}

// pyDollar stands for Python's $ in the exact matcher's program: a
// noncharacter that no pattern may contain, treated as an assertion.
const pyDollar = '\U0010FFFE'

type translation struct {
	re2, vm  string
	boundary bool
	dollar   bool
	ascii    bool
	fold     bool
}

// translate rewrites Python regular-expression syntax as RE2 syntax.
func translate(src string) (translation, error) {
	var t translation
	var re2, vm strings.Builder
	emit := func(s string) { re2.WriteString(s); vm.WriteString(s) }

	rs := []rune(src)
	ascii := false
	multiline := false
	stack := []bool{} // multiline mode outside each open group
	inClass, classStart := false, false
	i := 0

	// Global flags come first, as Python 3.11 requires.
	for i+1 < len(rs) && rs[i] == '(' && rs[i+1] == '?' {
		j := i + 2
		for j < len(rs) && strings.ContainsRune("aiLmsux", rs[j]) {
			j++
		}
		if j == i+2 || j >= len(rs) || rs[j] != ')' {
			break
		}
		var keep strings.Builder
		for _, f := range rs[i+2 : j] {
			switch f {
			case 'a':
				ascii = true
			case 'u':
			case 'L':
				return t, errors.New("the LOCALE flag (?L) is not allowed for text patterns")
			case 'x':
				return t, errors.New("verbose patterns (?x) are not supported")
			case 'm':
				multiline = true
				keep.WriteRune(f)
			case 'i':
				t.fold = true
				keep.WriteRune(f)
			default:
				keep.WriteRune(f)
			}
		}
		if keep.Len() > 0 {
			emit("(?" + keep.String() + ")")
		}
		i = j + 1
	}

	for ; i < len(rs); i++ {
		c := rs[i]
		if c == pyDollar {
			return t, errors.New("contains the noncharacter U+10FFFE")
		}
		if inClass {
			first := classStart
			classStart = false
			switch c {
			case '\\':
				n, err := translateEscape(rs, i, true, ascii, &t, emit)
				if err != nil {
					return t, err
				}
				i = n
			case ']':
				if first {
					emit(`\]`)
				} else {
					emit("]")
					inClass = false
				}
			case '[':
				emit(`\[`) // Go would read [: as a POSIX class
			case '^':
				if first && rs[i-1] == '[' {
					emit("^")
					classStart = true // ']' right after '[^' is literal too
				} else {
					emit(`\^`)
				}
			default:
				emit(string(c))
			}
			continue
		}
		switch c {
		case '\\':
			n, err := translateEscape(rs, i, false, ascii, &t, emit)
			if err != nil {
				return t, err
			}
			i = n
		case '[':
			emit("[")
			inClass, classStart = true, true
		case '(':
			n, err := translateGroup(rs, i, &multiline, &stack, emit)
			if err != nil {
				return t, err
			}
			i = n
		case ')':
			emit(")")
			if len(stack) > 0 {
				multiline = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case '$':
			if multiline {
				emit("$")
			} else {
				t.dollar = true
				re2.WriteString("$")
				vm.WriteString(`\x{10FFFE}`)
			}
		case '{':
			// Python reads {,n} as {0,n}; Go would take it literally.
			if j := i + 1; j < len(rs) && rs[j] == ',' {
				k := j + 1
				for k < len(rs) && '0' <= rs[k] && rs[k] <= '9' {
					k++
				}
				if k > j+1 && k < len(rs) && rs[k] == '}' {
					emit("{0," + string(rs[j+1:k]) + "}")
					i = k
					continue
				}
			}
			emit("{")
		case '+', '*', '?', '}':
			emit(string(c))
			// A '+' after a quantifier is Python 3.11's possessive form;
			// Go would report "nested repetition", say it plainly.
			if i+1 < len(rs) && rs[i+1] == '+' && (c != '?' || i == 0 || !isQuantEnd(rs[i-1])) {
				return t, errors.New("possessive quantifiers cannot be expressed in RE2")
			}
		default:
			emit(string(c))
		}
	}
	if inClass {
		return t, errors.New("unterminated character set")
	}
	t.re2, t.vm, t.ascii = re2.String(), vm.String(), ascii
	return t, nil
}

func isQuantEnd(r rune) bool { return r == '+' || r == '*' || r == '?' || r == '}' }

// translateGroup handles the '(' at rs[i] and returns the index of the last
// rune it consumed.
func translateGroup(rs []rune, i int, multiline *bool, stack *[]bool, emit func(string)) (int, error) {
	rest := string(rs[i:min(i+4, len(rs))])
	switch {
	case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
		return 0, errors.New("lookahead cannot be expressed in RE2")
	case strings.HasPrefix(rest, "(?<="), strings.HasPrefix(rest, "(?<!"):
		return 0, errors.New("lookbehind cannot be expressed in RE2")
	case strings.HasPrefix(rest, "(?P="):
		return 0, errors.New("backreferences cannot be expressed in RE2")
	case strings.HasPrefix(rest, "(?("):
		return 0, errors.New("conditional groups cannot be expressed in RE2")
	case strings.HasPrefix(rest, "(?>"):
		return 0, errors.New("atomic groups cannot be expressed in RE2")
	case strings.HasPrefix(rest, "(?#"):
		for j := i + 3; j < len(rs); j++ {
			if rs[j] == ')' {
				return j, nil // a comment: nothing to match
			}
		}
		return 0, errors.New("unterminated comment")
	case strings.HasPrefix(rest, "(?P<"), strings.HasPrefix(rest, "(?:"), !strings.HasPrefix(rest, "(?"):
		*stack = append(*stack, *multiline)
		emit("(")
		return i, nil
	}
	// Scoped flags: (?imsx-imsx:...)
	j := i + 2
	for j < len(rs) && strings.ContainsRune("aiLmsux-", rs[j]) {
		j++
	}
	if j >= len(rs) || rs[j] != ':' {
		if j < len(rs) && rs[j] == ')' {
			return 0, errors.New("global flags not at the start of the expression")
		}
		return 0, fmt.Errorf("unknown extension %q", string(rs[i:min(j+1, len(rs))]))
	}
	flags := string(rs[i+2 : j])
	if strings.ContainsAny(flags, "auLx") {
		return 0, fmt.Errorf("the flags (?%s:...) are not supported in a group", flags)
	}
	*stack = append(*stack, *multiline)
	on, off, _ := strings.Cut(flags, "-")
	if strings.ContainsRune(on, 'm') {
		*multiline = true
	}
	if strings.ContainsRune(off, 'm') {
		*multiline = false
	}
	emit("(?" + flags + ":")
	return j, nil
}

// translateEscape handles the backslash at rs[i] and returns the index of
// the last rune it consumed.
func translateEscape(rs []rune, i int, inClass, ascii bool, t *translation, emit func(string)) (int, error) {
	if i+1 >= len(rs) {
		return 0, errors.New("bad escape (end of pattern)")
	}
	c := rs[i+1]
	class := func(set charSet, negated bool) {
		switch {
		case inClass && !negated:
			emit(set.members)
		case inClass:
			emit(set.complement())
		case negated:
			emit("[^" + set.members + "]")
		default:
			emit("[" + set.members + "]")
		}
	}
	switch c {
	case 'd', 'D':
		class(digitSet(ascii), c == 'D')
	case 'w', 'W':
		class(wordSet(ascii), c == 'W')
	case 's', 'S':
		class(spaceSet(ascii), c == 'S')
	case 'b':
		if inClass {
			emit(`\x08`) // backspace inside a set, as in Python
		} else {
			emit(`\b`)
			t.boundary = t.boundary || !ascii
		}
	case 'B':
		if inClass {
			return 0, errors.New(`bad escape \B in a character set`)
		}
		emit(`\B`)
		t.boundary = t.boundary || !ascii
	case 'A', 'Z':
		if inClass {
			return 0, fmt.Errorf(`bad escape \%c in a character set`, c)
		}
		if c == 'A' {
			emit(`\A`)
		} else {
			emit(`\z`)
		}
	case 'a', 'f', 'n', 'r', 't', 'v':
		emit(`\` + string(c))
	case 'x', 'u', 'U':
		digits := map[rune]int{'x': 2, 'u': 4, 'U': 8}[c]
		if i+1+digits >= len(rs) {
			return 0, fmt.Errorf(`incomplete escape \%c`, c)
		}
		hex := string(rs[i+2 : i+2+digits])
		v, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || strings.ContainsAny(hex, "+-") {
			return 0, fmt.Errorf(`incomplete escape \%c%s`, c, hex)
		}
		if v > unicode.MaxRune || v == pyDollar {
			return 0, fmt.Errorf(`bad escape \%c%s`, c, hex)
		}
		emit(fmt.Sprintf(`\x{%x}`, v))
		return i + 1 + digits, nil
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// Python: \0 and three octal digits are characters; other digits
		// are backreferences.
		j := i + 1
		for j < len(rs) && j < i+4 && '0' <= rs[j] && rs[j] <= '7' {
			j++
		}
		if c == '0' || j == i+4 {
			end := j
			if c == '0' {
				end = min(j, i+4)
			}
			v, _ := strconv.ParseUint(string(rs[i+1:end]), 8, 32)
			if v > 0o377 {
				return 0, fmt.Errorf(`octal escape value \%s outside of range 0-0o377`, string(rs[i+1:end]))
			}
			emit(fmt.Sprintf(`\x{%x}`, v))
			return end - 1, nil
		}
		return 0, errors.New("backreferences cannot be expressed in RE2")
	default:
		if c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c)) {
			return 0, fmt.Errorf(`bad escape \%c`, c)
		}
		if c < utf8.RuneSelf {
			emit(`\` + string(c)) // an escaped ASCII symbol is itself in Go too
		} else {
			emit(string(c))
		}
	}
	return i + 1, nil
}

// charSet is one of Python's class escapes as the contents of an RE2 set,
// with its complement (for \W \S \D inside another set, where RE2 cannot
// nest a negated set) computed on first use.
type charSet struct {
	members    string
	complement func() string
}

func newCharSet(members string, member func(rune) bool) charSet {
	return charSet{members: members, complement: sync.OnceValue(func() string { return complementRanges(member) })}
}

// The class escapes, by mode. Computing a complement walks every code
// point once, so each is computed at most once per process.
var (
	unicodeDigits = newCharSet(`\p{Nd}`, func(r rune) bool { return unicode.Is(unicode.Nd, r) })
	unicodeWords  = newCharSet(`\p{L}\p{N}_`, isPyWord)
	unicodeSpaces = newCharSet(pySpace, isPySpace)
	asciiDigits   = newCharSet(`0-9`, func(r rune) bool { return '0' <= r && r <= '9' })
	asciiWords    = newCharSet(`0-9A-Za-z_`, isASCIIWord)
	asciiSpaces   = newCharSet(`\t\n\v\f\r `, func(r rune) bool { return r == ' ' || '\t' <= r && r <= '\r' })
)

func digitSet(ascii bool) charSet { return pick(ascii, asciiDigits, unicodeDigits) }
func wordSet(ascii bool) charSet  { return pick(ascii, asciiWords, unicodeWords) }
func spaceSet(ascii bool) charSet { return pick(ascii, asciiSpaces, unicodeSpaces) }

func pick(ascii bool, a, u charSet) charSet {
	if ascii {
		return a
	}
	return u
}

// isPyWord is Python's \w for text: str.isalnum() or '_'.
func isPyWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func isASCIIWord(r rune) bool {
	return r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// Python's \s for text: the characters str.isspace() accepts.
const pySpace = `\t\n\v\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

func isPySpace(r rune) bool {
	switch {
	case '\t' <= r && r <= '\r', 0x1c <= r && r <= 0x20, r == 0x85, r == 0xa0, r == 0x1680,
		0x2000 <= r && r <= 0x200a, r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// complementRanges lists, as RE2 set contents, the code points member
// rejects.
func complementRanges(member func(rune) bool) string {
	var b strings.Builder
	lo := rune(-1)
	for r := rune(0); r <= unicode.MaxRune+1; r++ {
		if r <= unicode.MaxRune && !member(r) {
			if lo < 0 {
				lo = r
			}
			continue
		}
		if lo >= 0 {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, lo, r-1)
			lo = -1
		}
	}
	return b.String()
}
