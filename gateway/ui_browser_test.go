package gateway

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/browsertest"
	"github.com/mlflowauth/mlflowauth/store"
)

// screenshots is where the UI's pictures go: test-artifacts/ui after
// .ci/run.
func screenshots(t *testing.T) string { return browsertest.Screenshots(t, "ui") }

// A person in a real browser: signs in through the provider, makes a
// token and uses it, grants a colleague READ (whose request goes from 403
// to 200), revokes the token (which then fails), looks at every page.
func TestUIInBrowser(t *testing.T) {
	e := newE2E(t, nil)
	browser := browsertest.New(t, 2*time.Minute)
	dir := screenshots(t)
	shot := func(name string) {
		t.Helper()
		// Quality 100 is PNG; below it Chromium sends JPEG.
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
	}
	basicStatus := func(user, secret, path string) int {
		t.Helper()
		req, err := http.NewRequest("GET", e.url+path, nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, secret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	// Sign in: the protected page sends the browser to the sign-in page,
	// the provider, and back.
	e.idp.QueueUser(&mockoidc.MockUser{Subject: "00u-ada", Email: "ada@example.com", EmailVerified: true, Groups: []string{"mlflow-admin"}})
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(e.url+"/oidc/ui/tokens"), chromedp.WaitVisible("#sign-in")))
	shot("1-sign-in")
	require.NoError(t, chromedp.Do(browser, chromedp.Click("#sign-in"), chromedp.WaitVisible("#create-token")))
	loc, err := chromedp.Run(browser, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, e.url+"/oidc/ui/tokens", loc, "back on the page asked for")

	// A token, shown once, that works with Basic auth.
	require.NoError(t, chromedp.Do(browser,
		chromedp.SendKeys("#token-name", "laptop"),
		chromedp.Click("#create-token"),
		chromedp.WaitVisible("#new-token"),
	))
	shot("2-new-token")
	secret, err := chromedp.Run(browser, chromedp.Value("#token-secret"))
	require.NoError(t, err)
	lines, err := chromedp.Run(browser, chromedp.Text("#env-lines"))
	require.NoError(t, err)
	assert.Contains(t, lines, "export MLFLOW_TRACKING_USERNAME=ada@example.com")
	assert.Contains(t, lines, "export MLFLOW_TRACKING_PASSWORD="+secret)
	assert.Contains(t, lines, "export MLFLOW_TRACKING_URI="+e.url)
	assert.Equal(t, 200, basicStatus("ada@example.com", secret, exp2), "the new token works (ada is an admin)")
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(e.url+"/oidc/ui/tokens"), chromedp.WaitVisible("#create-token")))
	page, err := chromedp.Run(browser, chromedp.OuterHTML("main"))
	require.NoError(t, err)
	assert.NotContains(t, page, secret, "shown once, never again")
	assert.Contains(t, page, "laptop")

	// A colleague gets READ on experiment 2.
	_, err = e.db.CreateUser(context.Background(), store.User{Username: "bea@example.com"})
	require.NoError(t, err)
	colleague := e.mintToken(context.Background(), "bea@example.com", "script")
	assert.Equal(t, 403, basicStatus("bea@example.com", colleague, exp2))
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/grants?kind=experiment&id=2"),
		chromedp.WaitVisible("#grant-who"),
		chromedp.SendKeys("#grant-who", "bea@example.com"),
		chromedp.SetValue("#grant-level", "READ"),
		chromedp.Click("#grant-submit"),
		chromedp.WaitVisible(".notice"),
	))
	shot("3-grants")
	held, err := chromedp.Run(browser, chromedp.Text("main table"))
	require.NoError(t, err)
	assert.Contains(t, held, "bea@example.com")
	assert.Equal(t, 200, basicStatus("bea@example.com", colleague, exp2), "the colleague reads it now")

	// Revoke the token: it fails at once.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/tokens"),
		chromedp.WaitVisible(`button[data-token="laptop"]`),
		chromedp.Click(`button[data-token="laptop"]`),
		chromedp.WaitVisible(".notice"),
	))
	shot("4-token-revoked")
	assert.Equal(t, 401, basicStatus("ada@example.com", secret, exp2), "revoked")

	// A service account with a token; a colleague deactivated.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/admin/users"),
		chromedp.WaitVisible("#service-name"),
		chromedp.SendKeys("#service-name", "svc-nightly"),
		chromedp.Click("#service-create"),
		chromedp.WaitVisible("#new-token"),
	))
	lines, err = chromedp.Run(browser, chromedp.Text("#env-lines"))
	require.NoError(t, err)
	svcSecret := between(lines, "MLFLOW_TRACKING_PASSWORD=", "\n")
	require.NotEmpty(t, svcSecret, lines)
	assert.Equal(t, 403, basicStatus("svc-nightly", strings.TrimSpace(svcSecret), exp2), "signs in; no grant yet")
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/admin/users"),
		chromedp.Click(`button[data-user="bea@example.com"]`),
		chromedp.WaitVisible(".notice"),
	))
	assert.Equal(t, 401, basicStatus("bea@example.com", colleague, exp2), "deactivated: her token stops at once")

	// Every other page, for a person to look at.
	for _, p := range []struct{ name, path, sel string }{
		{"5-me", "/oidc/ui/", "#username"},
		{"6-permissions", "/oidc/ui/permissions?kind=experiment&id=2", "#explained"},
		{"7-users", "/oidc/ui/admin/users", "main table"},
		{"8-groups", "/oidc/ui/admin/groups", "main table"},
		{"9-rules", "/oidc/ui/admin/rules", "#rule-pattern"},
		{"10-audit", "/oidc/ui/admin/audit", "main table"},
	} {
		require.NoError(t, chromedp.Do(browser, chromedp.Navigate(e.url+p.path), chromedp.WaitVisible(p.sel)), p.path)
		shot(p.name)
	}
	who, err := chromedp.Run(browser, chromedp.Text("main table"))
	require.NoError(t, err)
	assert.Contains(t, who, "grant.put", "the audit trail has the grant")

	// A rule whose pattern cannot be compiled is refused, and not saved.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/admin/rules?kind=experiment"),
		chromedp.WaitVisible("#rule-pattern"),
		chromedp.SendKeys(`input[name="who"]`, "team-a"),
		chromedp.SendKeys("#rule-pattern", "(?<=x)y"),
		chromedp.Click("#rule-submit"),
		chromedp.WaitVisible(".error"),
	))
	msg, err := chromedp.Run(browser, chromedp.Text(".error"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(msg, "Not saved"), msg)
	rules, err := e.db.ListRules(context.Background(), 0)
	require.NoError(t, err)
	assert.Empty(t, rules)

	// SCIM: a token for the identity provider, shown once with the base
	// URL to paste; it opens SCIM, and SCIM is off again once revoked.
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/admin/scim"),
		chromedp.WaitVisible("#scim-token-name"),
		chromedp.SendKeys("#scim-token-name", "okta"),
		chromedp.Click("#create-scim-token"),
		chromedp.WaitVisible("#new-token"),
	))
	shot("12-scim-token")
	scimSecret, err := chromedp.Run(browser, chromedp.Value("#token-secret"))
	require.NoError(t, err)
	lines, err = chromedp.Run(browser, chromedp.Text("#scim-lines"))
	require.NoError(t, err)
	assert.Contains(t, lines, e.url+"/scim/v2")
	assert.Contains(t, lines, scimSecret)
	scimStatus := func() int {
		t.Helper()
		req, err := http.NewRequest("GET", e.url+"/scim/v2/Users", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+scimSecret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, scimStatus())
	assert.Equal(t, 401, basicStatus("ada@example.com", scimSecret, exp2), "a SCIM token is no MLflow credential")
	require.NoError(t, chromedp.Do(browser,
		chromedp.Navigate(e.url+"/oidc/ui/admin/scim"),
		chromedp.WaitVisible(`button[data-token="okta"]`),
		chromedp.Click(`button[data-token="okta"]`),
		chromedp.WaitVisible(".notice"),
	))
	shot("13-scim-revoked")
	assert.Equal(t, 404, scimStatus(), "the only SCIM token revoked: SCIM is off")

	// MLflow's UI page carries the menu; it names the user and signs out.
	e.d.Extra = map[string]http.Handler{"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>MLflow</title></head><body><div id="root">MLflow UI</div></body></html>`))
	})}
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible("#mlflowauth-menu")))
	shot("11-mlflow-menu")
	menu, err := chromedp.Run(browser, chromedp.Text("#mlflowauth-menu"))
	require.NoError(t, err)
	assert.Contains(t, menu, "ada@example.com")
	assert.Contains(t, menu, "Sign out")

	// The session ends elsewhere ("sign out everywhere"): the page's next
	// API call answers 401, and the menu's script leads back to sign in.
	_, err = e.db.RevokeUserSessions(context.Background(), "ada@example.com")
	require.NoError(t, err)
	_, _ = chromedp.Run(browser, chromedp.Evaluate[any](`fetch("/api/2.0/mlflow/experiments/get?experiment_id=1").then(function(){return 1})`))
	require.NoError(t, chromedp.Do(browser, chromedp.WaitVisible("#sign-in")))
	loc, err = chromedp.Run(browser, chromedp.Location())
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(loc, e.url+"/login?next="), loc)
	t.Logf("screenshots in %s", dir)
}

// The pages' defences, without a browser: CSRF tokens on every form, a
// strict Content-Security-Policy, admin pages for admins, cross-origin
// posts refused.
func TestUIDefences(t *testing.T) {
	e := newE2E(t, nil)
	cookie := e.signIn(&mockoidc.MockUser{Subject: "00u-cy", Email: "cy@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/")
	resp, _ := e.do(call{path: "/oidc/ui/tokens", cookie: cookie})
	require.Equal(t, 200, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "script-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "mlflowauth_csrf" {
			csrf = c
		}
	}
	require.NotNil(t, csrf, "the CSRF cookie")
	assert.True(t, csrf.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, csrf.SameSite)

	post := func(form string, header map[string]string, cookies ...*http.Cookie) int {
		req, err := http.NewRequest("POST", e.url+"/oidc/ui/tokens", strings.NewReader(form))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirects.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 403, post("action=create&name=x&days=30", nil, cookie, csrf), "no token")
	assert.Equal(t, 403, post("action=create&name=x&days=30&csrf=forged", nil, cookie, csrf), "a wrong token")
	tokens, err := e.db.ListTokens(context.Background(), "cy@example.com")
	require.NoError(t, err)
	assert.Empty(t, tokens, "nothing was made")
	// The right token: read it from the page, as the browser's form has it.
	_, page := e.doHTML(call{path: "/oidc/ui/tokens", cookie: cookie}, csrf)
	token := between(page, `name="csrf" value="`, `"`)
	require.NotEmpty(t, token)
	assert.Equal(t, 403, post("action=create&name=x&days=30&csrf="+token, map[string]string{"Sec-Fetch-Site": "cross-site"}, cookie, csrf),
		"from another site: refused before the form is read")
	assert.Equal(t, 200, post("action=create&name=x&days=30&csrf="+token, nil, cookie, csrf))
	tokens, err = e.db.ListTokens(context.Background(), "cy@example.com")
	require.NoError(t, err)
	assert.Len(t, tokens, 1)

	for _, p := range []string{"/oidc/ui/admin/users", "/oidc/ui/admin/audit", "/oidc/ui/admin/rules"} {
		assert.Equal(t, 403, e.status(call{path: p, cookie: cookie}), "%s is for admins", p)
	}
	_, page = e.doHTML(call{path: "/oidc/ui/grants?kind=experiment&id=1", cookie: cookie}, csrf)
	assert.Contains(t, page, "You do not manage experiment 1", "a non-manager sees no holders")
	assert.NotContains(t, page, "dave", "nor who holds it")
	resp, _ = e.do(call{path: "/oidc/ui/tokens"})
	assert.Equal(t, 401, resp.StatusCode, "no credentials")
}

// doHTML is do for a page: the body as text.
func (e *e2e) doHTML(c call, extra ...*http.Cookie) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url+c.path, nil)
	require.NoError(e.t, err)
	req.AddCookie(c.cookie)
	for _, x := range extra {
		req.AddCookie(x)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
