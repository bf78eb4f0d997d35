package oidc

import (
	"net/url"
	"strings"
)

// SafeNext returns where to send a browser after sign-in: next when it is
// a path on this site, else "/". Browsers treat "\" like "/" and drop tab,
// CR and LF inside URLs, so "/\evil", "/\t/evil" and "//evil" all name
// another host; any of those, a scheme, a host, or an escape that decodes
// to one, lands on "/".
func SafeNext(next string) string {
	if next == "" || next[0] != '/' {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	if strings.HasPrefix(next, "//") {
		return "/"
	}
	// A path whose decoding starts another authority ("/%2F/evil",
	// "/%5Cevil", "/%09/evil") is refused too: some servers and browsers
	// decode before they resolve.
	if dec, err := url.PathUnescape(next); err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\t\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return next
}

// ParseScopes reads OIDC_SCOPE: scopes separated by commas, spaces or
// both ("openid email profile", "openid,email, profile"), each once, in
// order.
func ParseScopes(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
