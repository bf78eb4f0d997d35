package admin_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/admin"
)

// The web UI's revoke buttons: an id no token has (one too large for an
// int64 included) revokes nothing and is no server error.
func TestUIRevokeOfNoToken(t *testing.T) {
	e := newEnv(t)
	browser := e.browser()
	const form = "application/x-www-form-urlencoded"
	send := func(method, path string, v url.Values) (int, string) {
		return browser("root", method, path, form, v.Encode())
	}
	for _, page := range []string{admin.UIPrefix + "tokens", admin.UIPrefix + "admin/scim"} {
		status, body := send("GET", page, nil)
		require.Equal(t, http.StatusOK, status, page)
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
		require.NotNil(t, m, body)
		for _, id := range []string{"99999999999999999999", "x", "424242"} {
			status, body = send("POST", page, url.Values{"csrf": {m[1]}, "action": {"revoke"}, "id": {id}})
			assert.Equal(t, http.StatusSeeOther, status, "%s id %s: %s", page, id, body)
		}
	}
}

// browser returns a way to send requests as a browser of the web UI does:
// its own cookie jar, Basic credentials of the caller named, redirects
// answered rather than followed.
func (e *env) browser() func(caller, method, path, contentType, body string) (int, string) {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(caller, method, path, contentType, body string) (int, string) {
		e.t.Helper()
		req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
		require.NoError(e.t, err)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(e.creds[caller])))
		resp, err := client.Do(req)
		require.NoError(e.t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}
