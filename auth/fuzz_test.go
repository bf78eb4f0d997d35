package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{
		"/", "/api/2.0/mlflow/runs/get", "//x", "/a/../b", "/a/%2E%2E/b", "/%2F", "/%C0%AE",
		"/caf%C3%A9", "/a;b", "/a\\b", "/%41", "/%2a", "/%25", "/static-files/x.js",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		got, err := CanonicalPath(escaped)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with a result %q", err, got)
			}
			return
		}
		// What is accepted has none of the forms that are refused.
		for _, bad := range []string{"//", "/./", "/../", "\\", ";", "\x00"} {
			if strings.Contains(got, bad) {
				t.Fatalf("%q accepted as %q, which contains %q", escaped, got, bad)
			}
		}
		if strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/..") || !strings.HasPrefix(got, "/") {
			t.Fatalf("%q accepted as %q", escaped, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("%q accepted as invalid UTF-8 %q", escaped, got)
		}
		// The decoded path escaped the standard way is canonical, and decodes
		// to itself: one path, one meaning.
		again, err := CanonicalPath((&url.URL{Path: got}).EscapedPath())
		if err != nil || again != got {
			t.Fatalf("%q -> %q, re-escaped -> %q, %v", escaped, got, again, err)
		}
		// Go's own decoder agrees.
		if dec, err := url.PathUnescape(escaped); err != nil || dec != got {
			t.Fatalf("%q: url.PathUnescape gives %q, %v; CanonicalPath %q", escaped, dec, err, got)
		}
	})
}

func FuzzAuthorization(f *testing.F) {
	for _, s := range []string{
		"Basic " + b64("alice:secret"), "basic " + b64(":x"), "Basic", "Bearer abc.def", "Bearer",
		"Bearer a b", "Digest x", "", " ", "Basic !!", "Basic " + b64("al\xffice:x"), "Basic YR==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := &http.Request{Header: http.Header{"Authorization": {value}}}
		checkErr := checkAuthorization(r.Header, nil)
		user, pass, basicErr := BasicCredentials(r)
		token, bearerErr := BearerToken(r)
		if basicErr == nil {
			if checkErr != nil {
				t.Fatalf("%q: BasicCredentials accepts what the middleware refuses: %v", value, checkErr)
			}
			if user == "" || strings.Contains(user, ":") || !utf8.ValidString(user) || !utf8.ValidString(pass) {
				t.Fatalf("%q: bad split %q / %q", value, user, pass)
			}
			// The parsed credentials encode back to the same bytes.
			creds := strings.TrimLeft(strings.Trim(value, " \t")[len("basic"):], " \t")
			if !bytes.Equal(mustDecode(creds), []byte(user+":"+pass)) {
				t.Fatalf("%q: %q:%q does not round-trip", value, user, pass)
			}
		}
		if bearerErr == nil {
			if checkErr != nil {
				t.Fatalf("%q: BearerToken accepts what the middleware refuses: %v", value, checkErr)
			}
			if token == "" || strings.ContainsAny(token, " \t\"") {
				t.Fatalf("%q: bad token %q", value, token)
			}
		}
		if basicErr == nil && bearerErr == nil {
			t.Fatalf("%q is both Basic and Bearer", value)
		}
		for _, err := range []error{checkErr, basicErr, bearerErr} {
			if err != nil && err != ErrNoCredentials && !errors.Is(err, ErrMalformedAuthorization) {
				t.Fatalf("%q: unexpected kind of error %v", value, err)
			}
		}
		// What passes the middleware's check is claimed by one of the parsers
		// (accepted, or refused with a precise reason).
		if checkErr == nil && len(strings.Trim(value, " \t")) > 0 && basicErr == ErrNoCredentials && bearerErr == ErrNoCredentials {
			t.Fatalf("%q passes the check yet is neither Basic nor Bearer", value)
		}
	})
}

func mustDecode(s string) []byte {
	if b, err := b64Decode(s); err == nil {
		return b
	}
	return nil
}

func b64Decode(s string) ([]byte, error) {
	if len(s)%4 != 0 {
		return base64.RawStdEncoding.DecodeString(s)
	}
	return base64.StdEncoding.DecodeString(s)
}
