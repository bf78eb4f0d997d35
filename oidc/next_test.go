package oidc

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/#/experiments/1":         "/#/experiments/1",
		"/ajax-api/x?y=1":          "/ajax-api/x?y=1",
		"/static-files/index.html": "/static-files/index.html",
		"":                         "/",
		"https://evil.example":     "/",
		"//evil.example":           "/",
		"/\\evil.example":          "/",
		"/%09/evil.example":        "/",
		"/\t/evil.example":         "/",
		"/\r\n/evil.example":       "/",
		"javascript:alert(1)":      "/",
		"/%2F/evil.example":        "/",
		"/%5Cevil.example":         "/",
		"evil.example":             "/",
		"/%zz":                     "/",
	} {
		assert.Equal(t, want, SafeNext(in), "%q", in)
	}
}

// FuzzSafeNext: whatever comes in, what goes out resolves, against this
// site, to this site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/a", "//evil", "/\\evil", "/%09/evil", "javascript:x"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://mlflow.example/")
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeNext(in)
		if out != "/" && out != in {
			t.Fatalf("%q became %q", in, out)
		}
		// Browsers drop tab, CR and LF and read "\" as "/".
		seen := strings.NewReplacer("\t", "", "\r", "", "\n", "", "\\", "/").Replace(out)
		u, err := base.Parse(seen)
		if err != nil || u.Host != "mlflow.example" || u.Scheme != "https" {
			t.Fatalf("%q leads to %v", in, u)
		}
	})
}

func TestParseScopes(t *testing.T) {
	for in, want := range map[string][]string{
		"openid email profile":             {"openid", "email", "profile"},
		"openid,email, profile":            {"openid", "email", "profile"},
		" openid ,, groups\temail openid ": {"openid", "groups", "email"},
		"":                                 nil,
	} {
		assert.Equal(t, want, ParseScopes(in), "%q", in)
	}
}

func FuzzParseScopes(f *testing.F) {
	f.Add("openid, email profile")
	f.Fuzz(func(t *testing.T, s string) {
		seen := map[string]bool{}
		for _, sc := range ParseScopes(s) {
			if sc == "" || strings.ContainsAny(sc, ", \t\r\n") || seen[sc] {
				t.Fatalf("%q gave scope %q", s, sc)
			}
			seen[sc] = true
		}
	})
}
