package auth

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonicalPathAccepts(t *testing.T) {
	tests := []struct {
		escaped, want string
	}{
		{"/", "/"},
		{"/api/2.0/mlflow/experiments/get", "/api/2.0/mlflow/experiments/get"},
		// A trailing slash or another case is canonical; it matches no endpoint later.
		{"/api/2.0/mlflow/experiments/get/", "/api/2.0/mlflow/experiments/get/"},
		{"/API/2.0/MLflow", "/API/2.0/MLflow"},
		// Dots inside a segment are not dot segments.
		{"/static-files/static/js/main.3f2a.js", "/static-files/static/js/main.3f2a.js"},
		{"/a/.hidden/b..c/...", "/a/.hidden/b..c/..."},
		// Escapes of characters that need them decode.
		{"/get-artifact/my%20model", "/get-artifact/my model"},
		{"/a/%25/b", "/a/%/b"},
		{"/a/%3F%23", "/a/?#"},
		{"/caf%C3%A9", "/café"},
		{"/%E2%82%AC", "/€"},
		// Sub-delims may appear raw.
		{"/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
	}
	for _, tt := range tests {
		t.Run(tt.escaped, func(t *testing.T) {
			got, err := CanonicalPath(tt.escaped)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCanonicalPathRejects(t *testing.T) {
	tests := []struct {
		name, escaped, reason string
	}{
		{"empty", "", "the path must start with '/'"},
		{"relative", "api/2.0", "the path must start with '/'"},
		{"double slash", "//api/2.0/mlflow/runs/get", "empty path segment ('//')"},
		{"inner double slash", "/api//2.0", "empty path segment ('//')"},
		{"dot segment", "/api/./2.0", "'.' path segment"},
		{"trailing dot", "/api/.", "'.' path segment"},
		{"dot-dot segment", "/static-files/../api/2.0/mlflow/users/delete", "'..' path segment"},
		{"trailing dot-dot", "/api/..", "'..' path segment"},
		{"encoded slash", "/api/2.0%2Fmlflow", "encoded '/' (%2F)"},
		{"encoded slash lower", "/api/2.0%2fmlflow", "encoded '/' (%2f)"},
		{"encoded backslash", "/api%5C2.0", "encoded '\\' (%5C)"},
		{"encoded backslash lower", "/api%5c2.0", "encoded '\\' (%5c)"},
		{"encoded dot", "/static-files/%2E%2E/api", "encoded '.' (%2E)"},
		{"encoded dot lower", "/static-files/%2e%2e/api", "encoded '.' (%2e)"},
		{"encoded NUL", "/api%00/x", "encoded NUL (%00)"},
		{"encoded control", "/api%0A", "encoded control character (%0A)"},
		{"encoded DEL", "/api%7F", "encoded control character (%7F)"},
		{"backslash", "/api\\2.0", "backslash in path"},
		{"semicolon", "/api;jsessionid=1/2.0", "';' in path"},
		{"encoded semicolon", "/api%3Bx", "encoded ';' (%3B)"},
		{"raw control", "/api\t", "control character in path"},
		{"raw non-ASCII", "/caf\xc3\xa9", "unescaped non-ASCII byte in path"},
		{"truncated escape", "/api%2", "malformed percent-escape"},
		{"bad hex", "/api%zz", "malformed percent-escape"},
		{"percent at end", "/api%", "malformed percent-escape"},
		{"lower-case escape", "/caf%c3%a9", "lower-case percent-escape (%c3)"},
		{"lower-case escape of star", "/my%2a", "lower-case percent-escape (%2a)"},
		{"needless escape letter", "/%41pi", `needless percent-escape %41 of 'A'`},
		{"needless escape digit", "/api/%32.0", `needless percent-escape %32 of '2'`},
		{"needless escape tilde", "/%7Euser", `needless percent-escape %7E of '~'`},
		{"needless escape hyphen", "/static%2Dfiles/x", `needless percent-escape %2D of '-'`},
		{"overlong dot", "/static-files/%C0%AE%C0%AE/api", "escapes that are not valid UTF-8 (overlong or truncated sequences)"},
		{"overlong slash", "/a%C0%AFb", "escapes that are not valid UTF-8 (overlong or truncated sequences)"},
		{"three-byte overlong dot", "/%E0%80%AE", "escapes that are not valid UTF-8 (overlong or truncated sequences)"},
		{"truncated UTF-8", "/caf%C3", "escapes that are not valid UTF-8 (overlong or truncated sequences)"},
		{"surrogate", "/%ED%A0%80", "escapes that are not valid UTF-8 (overlong or truncated sequences)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalPath(tt.escaped)
			require.Error(t, err, "accepted as %q", got)
			assert.True(t, errors.Is(err, ErrNonCanonicalPath))
			var pe *PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.reason, pe.Reason)
			assert.Empty(t, got)
		})
	}
}

// The canonicaliser is fed url.URL.EscapedPath, so what matters is what the
// Go server makes of a raw request line: non-canonical forms must not be
// laundered into canonical ones on the way.
func TestCanonicalPathFromRequestLine(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
		want   string
	}{
		{"/api/2.0/mlflow/runs/get?run_id=1", true, "/api/2.0/mlflow/runs/get"},
		{"/api/2.0/mlflow%2Fruns/get", false, ""},
		{"/api/2.0/mlflow%2fruns/get", false, ""},
		{"/static-files/%2e%2e/api", false, ""},
		{"/x%41", false, ""},
		{"/caf%C3%A9", true, "/café"},
		{"/a;b", false, ""},
		{"//evil", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			got, err := CanonicalPath(r.URL.EscapedPath())
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, r.URL.Path, got)
		})
	}
}
