package admin_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/admin"
	"github.com/mlflowauth/mlflowauth/basic"
)

// TestSignupForm: MLflow 3's sign-up page and its form post, for
// administrators, with a CSRF token that must come from the page.
func TestSignupForm(t *testing.T) {
	e := newEnv(t)
	send := e.browser()
	const form = "application/x-www-form-urlencoded"
	post := func(caller string, v url.Values) (int, string) {
		return send(caller, "POST", admin.CreateUserUIPath, form, v.Encode())
	}

	status, page := send("root", "GET", admin.SignupPath, "", "")
	require.Equal(t, http.StatusOK, status)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m, page)
	token := m[1]
	assert.Contains(t, page, `action="`+admin.CreateUserUIPath+`"`)

	status, page = post("root", url.Values{"username": {"carol"}, "password": {"carol-password-1"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "The CSRF token is missing")
	status, page = post("root", url.Values{"csrf_token": {token + "x"}, "username": {"carol"}, "password": {"carol-password-1"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "The CSRF token is invalid")
	status, page = send("root", "POST", admin.CreateUserUIPath, "application/json", `{"username":"carol"}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "Invalid content type")
	status, page = post("root", url.Values{"csrf_token": {token}, "username": {"carol"}, "password": {"short"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "Password must be a string longer than 12 characters.")
	_, err := e.g.Store().GetUser(context.Background(), "carol")
	require.Error(t, err, "nothing was made by a refused form")

	status, page = post("root", url.Values{"csrf_token": {token}, "username": {"carol"}, "password": {"carol-password-1"}})
	assert.Equal(t, http.StatusOK, status, page)
	assert.Contains(t, page, "Successfully signed up user: carol")
	u, err := e.g.Store().GetUser(context.Background(), "carol")
	require.NoError(t, err)
	ok, err := basic.VerifyPassword(u.PasswordHash, "carol-password-1")
	require.NoError(t, err)
	assert.True(t, ok, "the password works")
	status, page = post("root", url.Values{"csrf_token": {token}, "username": {"carol"}, "password": {"carol-password-1"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, page, "Username has already been taken: carol")

	// A non-administrator gets neither the page nor the post, even with
	// an administrator's token.
	status, _ = send("alice", "GET", admin.SignupPath, "", "")
	assert.Equal(t, http.StatusForbidden, status)
	status, page = post("alice", url.Values{"csrf_token": {token}, "username": {"mallory"}, "password": {"mallory-password-1"}})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, page, "Permission denied. Only administrators")
	_, err = e.g.Store().GetUser(context.Background(), "mallory")
	assert.Error(t, err)
}

// TestUINotFound: an unknown page of the web UI is the UI's own page
// (its look, its menu, MLflow's icon), not Go's plain-text 404.
func TestUINotFound(t *testing.T) {
	e := newEnv(t)
	req, err := http.NewRequest("GET", e.url+"/oidc/ui/no-such-page", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(e.creds["alice"])))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, string(b), "Not found")
	assert.Contains(t, string(b), `href="/oidc/ui/tokens"`, "the UI's menu")
	assert.Contains(t, string(b), `<link rel="icon" href="/static-files/favicon.ico">`, "MLflow's icon")
}
