package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxAuthorizationLength is the longest Authorization header accepted, in
// bytes. A Basic header for a long token or an IdP's JWT is well under it.
const MaxAuthorizationLength = 8 << 10

// ErrMalformedAuthorization is wrapped by every error about an Authorization
// header's form.
var ErrMalformedAuthorization = errors.New("malformed Authorization header")

// headerError is a malformed-header error whose text is fit for the client.
type headerError struct{ reason string }

func (e *headerError) Error() string        { return "Malformed Authorization header: " + e.reason }
func (e *headerError) Is(target error) bool { return target == ErrMalformedAuthorization }

// The reasons are values, not built per request, so that rejecting a
// malformed header costs no allocation.
var (
	errTooMany      = &headerError{"more than one Authorization header"}
	errTooLong      = &headerError{"longer than 8192 bytes"}
	errEmpty        = &headerError{"empty value"}
	errNoScheme     = &headerError{`no authentication scheme (expected "Basic <base64 of username:password>" or "Bearer <token>")`}
	errNoCreds      = &headerError{"scheme without credentials"}
	errBadBase64    = &headerError{"Basic credentials are not valid base64"}
	errNoColon      = &headerError{"Basic credentials have no ':' between username and password"}
	errNotUTF8      = &headerError{"Basic credentials are not valid UTF-8"}
	errControl      = &headerError{"Basic credentials contain a control character"}
	errEmptyUser    = &headerError{"Basic credentials have an empty username"}
	errBearerSyntax = &headerError{"Bearer token has characters a token cannot have (RFC 6750)"}
)

func unsupportedScheme(scheme string) error {
	if len(scheme) > 32 {
		scheme = scheme[:32] + "..."
	}
	return &headerError{`unsupported scheme "` + scheme + `" (expected Basic or Bearer)`}
}

// splitAuthorization returns the scheme and the credentials of the request's
// Authorization header. ok is false when there is none.
func splitAuthorization(h http.Header) (scheme, creds string, ok bool, err error) {
	values := h["Authorization"] // the server canonicalised the key
	switch len(values) {
	case 0:
		return "", "", false, nil
	case 1:
	default:
		return "", "", true, errTooMany
	}
	v := values[0]
	if len(v) > MaxAuthorizationLength {
		return "", "", true, errTooLong
	}
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", "", true, errEmpty
	}
	i := strings.IndexAny(v, " \t")
	if i < 0 {
		if isKnownScheme(v) {
			return v, "", true, errNoCreds
		}
		return "", "", true, errNoScheme
	}
	scheme, creds = v[:i], strings.TrimLeft(v[i:], " \t")
	if !isToken(scheme) {
		return "", "", true, errNoScheme
	}
	return scheme, creds, true, nil
}

func isKnownScheme(s string) bool {
	return strings.EqualFold(s, "Basic") || strings.EqualFold(s, "Bearer")
}

// checkAuthorization checks the Authorization header's structure without
// allocating: one header, not too long, a scheme that Basic, Bearer or an
// integrator's authenticator handles, and credentials after it. What the
// credentials hold is checked once, by BasicCredentials or BearerToken in
// the authenticator that takes them, and their errors reach the client as
// precisely as these.
func checkAuthorization(h http.Header, extra []string) error {
	scheme, _, ok, err := splitAuthorization(h)
	if !ok || err != nil || isKnownScheme(scheme) {
		return err
	}
	for _, s := range extra {
		if strings.EqualFold(scheme, s) {
			return nil
		}
	}
	return unsupportedScheme(scheme)
}

// decodeBasic decodes RFC 7617 credentials into dst and splits them.
func decodeBasic(creds, dst []byte) (user, pass []byte, err error) {
	if len(creds) == 0 {
		return nil, nil, errNoCreds
	}
	enc := base64.StdEncoding.Strict()
	if len(creds)%4 != 0 {
		// Some clients leave the padding off; the bytes are still unambiguous.
		enc = base64.RawStdEncoding.Strict()
	}
	if enc.DecodedLen(len(creds)) > len(dst) {
		return nil, nil, errTooLong
	}
	// Go's decoder skips CR and LF; a header cannot hold them, but be exact.
	if bytes.IndexByte(creds, '\r') >= 0 || bytes.IndexByte(creds, '\n') >= 0 {
		return nil, nil, errBadBase64
	}
	n, derr := enc.Decode(dst, creds)
	if derr != nil {
		return nil, nil, errBadBase64
	}
	b := dst[:n]
	if !utf8.Valid(b) {
		return nil, nil, errNotUTF8
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return nil, nil, errControl
		}
	}
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return nil, nil, errNoColon
	}
	if i == 0 {
		return nil, nil, errEmptyUser
	}
	return b[:i], b[i+1:], nil
}

// checkBearer checks RFC 6750's b64token syntax.
func checkBearer(tok string) error {
	if tok == "" {
		return errNoCreds
	}
	i := 0
	for i < len(tok) && b64tokenChars.has(tok[i]) {
		i++
	}
	if i == 0 {
		return errBearerSyntax
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return errBearerSyntax
		}
	}
	return nil
}

// byteSet is a set of bytes: one load per byte on paths every request takes.
type byteSet [256]bool

func makeByteSet(chars string) *byteSet {
	var s byteSet
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return &s
}

func (s *byteSet) has(c byte) bool { return s[c] }

const (
	alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// Read-only lookup tables.
var (
	b64tokenChars = makeByteSet(alnum + "-._~+/")            // RFC 6750 b64token, before "="
	tokenChars    = makeByteSet(alnum + "!#$%&'*+-.^_`|~")   // RFC 9110 token
	pathChars     = makeByteSet(alnum + "-._~!$&'()*+,=:@/") // path bytes with nothing to check
)

// isToken reports RFC 9110's token syntax, which a scheme name has.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenChars.has(s[i]) {
			return false
		}
	}
	return true
}

// BasicCredentials returns the username and password of the request's
// "Authorization: Basic" header (RFC 7617, UTF-8). The username is returned
// as sent; compare it with NormalizeUsername. It returns ErrNoCredentials
// when the request has no Basic header, and an error wrapping
// ErrMalformedAuthorization when the header is malformed.
func BasicCredentials(r *http.Request) (username, password string, err error) {
	scheme, creds, ok, err := splitAuthorization(r.Header)
	if err != nil {
		return "", "", err
	}
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", ErrNoCredentials
	}
	// The unpadded length is the larger: enough for either encoding. Usual
	// credentials (a username and a token) fit the stack buffers, so the
	// two strings returned are all this allocates.
	var srcBuf, dstBuf [256]byte
	src := append(srcBuf[:0], creds...)
	dst := dstBuf[:]
	if n := base64.RawStdEncoding.DecodedLen(len(creds)); n > len(dst) {
		dst = make([]byte, n)
	}
	user, pass, err := decodeBasic(src, dst)
	if err != nil {
		return "", "", err
	}
	return string(user), string(pass), nil
}

// BearerToken returns the token of the request's "Authorization: Bearer"
// header. It returns ErrNoCredentials when the request has no Bearer header,
// and an error wrapping ErrMalformedAuthorization when the header is
// malformed.
func BearerToken(r *http.Request) (string, error) {
	scheme, creds, ok, err := splitAuthorization(r.Header)
	if err != nil {
		return "", err
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	if err := checkBearer(creds); err != nil {
		return "", err
	}
	return creds, nil
}
