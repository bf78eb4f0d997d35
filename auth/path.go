package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrNonCanonicalPath is wrapped by every error of CanonicalPath.
var ErrNonCanonicalPath = errors.New("non-canonical request path")

// CanonicalPath checks a request path in its escaped form (what
// url.URL.EscapedPath returns) and returns it decoded.
//
// A path that could mean one thing to the gateway and another to MLflow or a
// proxy in between is refused rather than cleaned: empty segments ("//"),
// dot segments ("/./", "/../"), an encoded "/", "\" or "." (%2F %5C %2E), an
// encoded or raw NUL or control character, a backslash, ";", escapes that
// are malformed, lower-case (%2f), needless (%41 for "A") or that decode to
// invalid UTF-8 (overlong forms such as %C0%AE). A trailing slash or a
// change of case is not an error: such a path simply matches no endpoint.
//
// The returned error is a *PathError, which matches ErrNonCanonicalPath with
// errors.Is and says what is wrong in words fit for the client.
func CanonicalPath(escaped string) (string, error) {
	if escaped == "" || escaped[0] != '/' {
		return "", pathError("the path must start with '/'")
	}
	escapes := false
	segStart := 1 // index after the '/' that began the current segment
	for i := 1; i < len(escaped); i++ {
		c := escaped[i]
		if pathChars.has(c) && c != '/' {
			continue
		}
		switch {
		case c == '/':
			if err := checkSegment(escaped[segStart:i]); err != nil {
				return "", err
			}
			segStart = i + 1
		case c == '%':
			if i+2 >= len(escaped) || !isHex(escaped[i+1]) || !isHex(escaped[i+2]) {
				return "", pathError("malformed percent-escape")
			}
			if err := checkEscape(escaped[i : i+3]); err != nil {
				return "", err
			}
			escapes = true
			i += 2
		case c == '\\':
			return "", pathError("backslash in path")
		case c == ';':
			return "", pathError("';' in path")
		case c < 0x20 || c == 0x7f:
			return "", pathError("control character in path")
		case c >= 0x80:
			return "", pathError("unescaped non-ASCII byte in path")
		}
	}
	// The last segment may be empty: a trailing slash only matches nothing.
	if last := escaped[segStart:]; last != "" {
		if err := checkSegment(last); err != nil {
			return "", err
		}
	}
	if !escapes {
		return escaped, nil
	}
	var b strings.Builder
	b.Grow(len(escaped))
	for i := 0; i < len(escaped); i++ {
		if escaped[i] == '%' {
			b.WriteByte(unhex(escaped[i+1])<<4 | unhex(escaped[i+2]))
			i += 2
			continue
		}
		b.WriteByte(escaped[i])
	}
	decoded := b.String()
	if !utf8.ValidString(decoded) {
		return "", pathError("escapes that are not valid UTF-8 (overlong or truncated sequences)")
	}
	return decoded, nil
}

// checkSegment judges one path segment, escaped.
func checkSegment(seg string) error {
	switch seg {
	case "":
		return pathError("empty path segment ('//')")
	case ".":
		return pathError("'.' path segment")
	case "..":
		return pathError("'..' path segment")
	}
	return nil
}

// checkEscape judges one well-formed "%XY".
func checkEscape(esc string) error {
	v := unhex(esc[1])<<4 | unhex(esc[2])
	switch {
	case v == '/':
		return pathError("encoded '/' (" + esc + ")")
	case v == '\\':
		return pathError("encoded '\\' (" + esc + ")")
	case v == '.':
		return pathError("encoded '.' (" + esc + ")")
	case v == 0:
		return pathError("encoded NUL (" + esc + ")")
	case v == ';':
		return pathError("encoded ';' (" + esc + ")")
	case v < 0x20 || v == 0x7f:
		return pathError("encoded control character (" + esc + ")")
	case isLowerHex(esc[1]) || isLowerHex(esc[2]):
		return pathError("lower-case percent-escape (" + esc + ")")
	case isUnreserved(v):
		return pathError(fmt.Sprintf("needless percent-escape %s of %q", esc, rune(v)))
	}
	return nil
}

// PathError is the error of CanonicalPath. Reason is fit for the client.
type PathError struct{ Reason string }

func (e *PathError) Error() string        { return "non-canonical request path: " + e.Reason }
func (e *PathError) Is(target error) bool { return target == ErrNonCanonicalPath }

func pathError(reason string) error { return &PathError{Reason: reason} }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isUnreserved reports RFC 3986's unreserved characters, which are never
// escaped in a canonical URI. ('.' is refused earlier for its own reason.)
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '~' || c == '.'
}
