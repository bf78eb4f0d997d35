package oidc

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
)

// flow is a gateway's /login and /callback in front of a real OpenID
// provider (mockoidc), with a browser that follows redirects by hand.
type flow struct {
	t      *testing.T
	idp    *mockoidc.MockOIDC
	gw     *httptest.Server
	h      *Handler
	mu     sync.Mutex
	logins []*Login
	now    time.Time
}

func newFlow(t *testing.T, tweak func(*Config)) *flow {
	idp, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { _ = idp.Shutdown() })
	f := &flow{t: t, idp: idp, now: time.Now()}
	mux := http.NewServeMux()
	f.gw = httptest.NewServer(mux)
	t.Cleanup(f.gw.Close)
	cfg := Config{
		DiscoveryURL: idp.Issuer(),
		ClientID:     idp.Config().ClientID,
		ClientSecret: idp.Config().ClientSecret,
		RedirectURL:  f.gw.URL + "/callback",
		Scopes:       []string{"openid", "email", "profile", "groups"},
		States:       memstore.New(),
		SignIn: SignInFunc(func(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error {
			f.mu.Lock()
			f.logins = append(f.logins, l)
			f.mu.Unlock()
			http.Redirect(w, r, l.Next, http.StatusFound)
			return nil
		}),
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	f.h, err = New(context.Background(), cfg)
	require.NoError(t, err)
	mux.HandleFunc("/login", f.h.Login)
	mux.HandleFunc("/callback", f.h.Callback)
	return f
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get sends a GET with the given cookie (if any) and returns the answer.
func (f *flow) get(target string, cookie *http.Cookie) (*http.Response, string) {
	req, err := http.NewRequest("GET", target, nil)
	require.NoError(f.t, err)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noFollow.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// start runs /login and returns the pending-login cookie and the
// provider's authorize URL.
func (f *flow) start(next string) (*http.Cookie, *url.URL) {
	resp, _ := f.get(f.gw.URL+"/login?start=1&next="+url.QueryEscape(next), nil)
	require.Equal(f.t, http.StatusFound, resp.StatusCode)
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == "mlflowauth_login" {
			c = x
		}
	}
	require.NotNil(f.t, c, "a pending-login cookie")
	assert.True(f.t, c.HttpOnly)
	assert.Equal(f.t, http.SameSiteLaxMode, c.SameSite)
	u, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(f.t, err)
	return c, u
}

// authorize has the provider sign the user in and returns the callback
// URL it sends the browser to.
func (f *flow) authorize(u *url.URL) string {
	resp, _ := f.get(u.String(), nil)
	require.Equal(f.t, http.StatusFound, resp.StatusCode)
	return resp.Header.Get("Location")
}

func TestLoginFlow(t *testing.T) {
	f := newFlow(t, nil)
	f.idp.QueueUser(&mockoidc.MockUser{Subject: "00u1", Email: "Alice@Example.com", EmailVerified: true, PreferredUsername: "alice", Groups: []string{"mlflow", "team-a"}})
	cookie, authURL := f.start("/#/experiments/1")
	q := authURL.Query()
	assert.Equal(t, "S256", q.Get("code_challenge_method"), "PKCE")
	assert.NotEmpty(t, q.Get("nonce"))
	assert.Contains(t, q.Get("scope"), "openid")
	callback := f.authorize(authURL)
	resp, _ := f.get(callback, cookie)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/#/experiments/1", resp.Header.Get("Location"), "back where the browser was")
	require.Len(t, f.logins, 1)
	l := f.logins[0]
	assert.Equal(t, "00u1", l.Subject)
	assert.Equal(t, f.idp.Issuer(), l.Issuer)
	assert.Equal(t, "Alice@Example.com", l.Claims["email"])
	assert.Equal(t, []any{"mlflow", "team-a"}, l.Claims["groups"])
	assert.NotEmpty(t, l.IDToken)

	// The same callback again: the pending login is gone.
	resp, body := f.get(callback, cookie)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "replayed")
	assert.Contains(t, body, "already used")
	assert.Len(t, f.logins, 1)
}

func TestCallbackRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		// alter changes the authorize URL before the provider sees it, or
		// the callback URL and cookie before the gateway does.
		authorize func(q url.Values)
		callback  func(q url.Values, f *flow) (cookie bool)
		status    int
		says      string
	}{
		{name: "no pending login in this browser", callback: func(url.Values, *flow) bool { return false }, status: 400},
		{name: "state from another login", callback: func(q url.Values, _ *flow) bool { q.Set("state", "x"); return true }, status: 400},
		{name: "state missing", callback: func(q url.Values, _ *flow) bool { q.Del("state"); return true }, status: 400},
		{name: "expired", callback: func(_ url.Values, f *flow) bool {
			f.mu.Lock()
			f.now = f.now.Add(11 * time.Minute)
			f.mu.Unlock()
			return true
		}, status: 400},
		{name: "the provider's error", callback: func(q url.Values, _ *flow) bool {
			q.Del("code")
			q.Set("error", "access_denied")
			q.Set("error_description", "<b>not assigned</b>")
			return true
		}, status: 400, says: "access_denied: &lt;b&gt;not assigned&lt;/b&gt;"},
		{name: "another issuer (RFC 9207)", callback: func(q url.Values, _ *flow) bool { q.Set("iss", "https://evil.example"); return true }, status: 400},
		{name: "a nonce from another login", authorize: func(q url.Values) { q.Set("nonce", "other") }, status: 400, says: "did not match"},
		{name: "a code the provider does not know", callback: func(q url.Values, _ *flow) bool { q.Set("code", "bogus"); return true }, status: 502},
		{name: "a PKCE challenge that is not ours", authorize: func(q url.Values) { q.Set("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") }, status: 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFlow(t, nil)
			cookie, authURL := f.start("/x")
			if c.authorize != nil {
				q := authURL.Query()
				c.authorize(q)
				authURL.RawQuery = q.Encode()
			}
			cb, err := url.Parse(f.authorize(authURL))
			require.NoError(t, err)
			send := cookie
			if c.callback != nil {
				q := cb.Query()
				if !c.callback(q, f) {
					send = nil
				}
				cb.RawQuery = q.Encode()
			}
			resp, body := f.get(cb.String(), send)
			assert.Equal(t, c.status, resp.StatusCode, body)
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			if c.says != "" {
				assert.Contains(t, body, c.says)
			}
			assert.Empty(t, f.logins, "nobody signed in")
			// The browser's pending login is cleared.
			cleared := false
			for _, x := range resp.Cookies() {
				cleared = cleared || (x.Name == "mlflowauth_login" && x.MaxAge < 0)
			}
			assert.True(t, cleared)
		})
	}
}

func TestHTTPSCookie(t *testing.T) {
	idp, err := mockoidc.Run()
	require.NoError(t, err)
	defer idp.Shutdown()
	h, err := New(context.Background(), Config{DiscoveryURL: idp.Issuer(), ClientID: idp.Config().ClientID,
		RedirectURL: "https://mlflow.example/callback", States: memstore.New(),
		SignIn: SignInFunc(func(context.Context, http.ResponseWriter, *http.Request, *Login) error { return nil })})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	// Behind a TLS-terminating load balancer the request itself is HTTP.
	h.Login(w, httptest.NewRequest("GET", "http://10.0.0.1/login?start=1&next=//evil.example", nil))
	c := w.Result().Cookies()
	require.Len(t, c, 1)
	assert.Equal(t, "__Host-mlflowauth_login", c[0].Name)
	assert.True(t, c[0].Secure)
	assert.Equal(t, "/", c[0].Path)
	loc, _ := url.Parse(w.Header().Get("Location"))
	assert.True(t, strings.HasPrefix(loc.String(), idp.AuthorizationEndpoint()))
	assert.Equal(t, "https://mlflow.example/callback", loc.Query().Get("redirect_uri"))
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := New(context.Background(), Config{ClientID: "c", RedirectURL: "mlflow.example/callback", States: memstore.New(),
		SignIn: SignInFunc(func(context.Context, http.ResponseWriter, *http.Request, *Login) error { return nil })})
	assert.ErrorContains(t, err, "RedirectURL")
	_, err = New(context.Background(), Config{ClientID: "c", RedirectURL: "https://m/callback", States: memstore.New(),
		SignIn: SignInFunc(func(context.Context, http.ResponseWriter, *http.Request, *Login) error { return nil })})
	assert.ErrorContains(t, err, "without DiscoveryURL")
}

func TestLogout(t *testing.T) {
	for _, c := range []struct {
		name, endSession string
		want             func(t *testing.T, loc *url.URL, clientID string)
	}{
		{"no end-session endpoint", "", func(t *testing.T, loc *url.URL, _ string) {
			assert.Equal(t, "https://mlflow.example/", loc.String())
		}},
		{"RP-initiated logout", "https://idp.example/logout", func(t *testing.T, loc *url.URL, clientID string) {
			assert.Equal(t, "idp.example", loc.Host)
			assert.Equal(t, "raw-id-token", loc.Query().Get("id_token_hint"))
			assert.Equal(t, "https://mlflow.example/", loc.Query().Get("post_logout_redirect_uri"))
			assert.Equal(t, clientID, loc.Query().Get("client_id"))
		}},
		{"Cognito", "https://team.auth.eu-west-1.amazoncognito.com/logout", func(t *testing.T, loc *url.URL, clientID string) {
			assert.Equal(t, "https://mlflow.example/", loc.Query().Get("logout_uri"))
			assert.Equal(t, clientID, loc.Query().Get("client_id"))
			assert.Empty(t, loc.Query().Get("id_token_hint"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			idp, err := mockoidc.Run()
			require.NoError(t, err)
			defer idp.Shutdown()
			h, err := New(context.Background(), Config{DiscoveryURL: idp.Issuer(), ClientID: idp.Config().ClientID, EndSessionURL: c.endSession,
				RedirectURL: "https://mlflow.example/callback", States: memstore.New(),
				SignIn: SignInFunc(func(context.Context, http.ResponseWriter, *http.Request, *Login) error { return nil })})
			require.NoError(t, err)
			s, err := NewSessions(SessionsConfig{Store: memstore.New(), Secure: true})
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			require.NoError(t, s.Start(t.Context(), rec, &auth.Identity{Username: "alice"}, "raw-id-token"))
			cookie := rec.Result().Cookies()[0]
			r := httptest.NewRequest("GET", "/logout", nil)
			r.AddCookie(cookie)
			w := httptest.NewRecorder()
			h.Logout(s)(w, r)
			assert.Equal(t, http.StatusFound, w.Code)
			loc, err := url.Parse(w.Header().Get("Location"))
			require.NoError(t, err)
			c.want(t, loc, idp.Config().ClientID)
			_, err = s.Authenticate(r)
			assert.Error(t, err, "the session is over")
		})
	}
}

func TestSignInPage(t *testing.T) {
	f := newFlow(t, func(c *Config) {
		c.ProviderName = "Sign in with <Okta>"
		c.Favicon = "/static-files/favicon.ico"
	})
	resp, body := f.get(f.gw.URL+"/login?next="+url.QueryEscape("/#/experiments/2"), nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "Sign in with &lt;Okta&gt;", "named, and escaped")
	assert.Contains(t, body, `<link rel="icon" href="/static-files/favicon.ico">`, "MLflow's icon")
	assert.Contains(t, body, `class="button"`, "styled as the web UI")
	assert.Contains(t, body, `href="/login?next=%2F%23%2Fexperiments%2F2&amp;start=1"`)
	assert.Empty(t, resp.Cookies(), "nothing is started by looking at the page")
	_, body = f.get(f.gw.URL+"/login?next=//evil.example", nil)
	assert.Contains(t, body, `href="/login?next=%2F&amp;start=1"`, "an unsafe next is dropped already")

	auto := newFlow(t, func(c *Config) { c.AutoRedirect = true })
	resp, _ = auto.get(auto.gw.URL+"/login?next=/x", nil)
	assert.Equal(t, http.StatusFound, resp.StatusCode, "AUTOMATIC_LOGIN_REDIRECT")
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), auto.idp.AuthorizationEndpoint()))
}

// Without discovery (OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL, OIDC_USER_URL
// and the key set given): the same flow.
func TestLoginWithoutDiscovery(t *testing.T) {
	idp := newFlow(t, nil).idp // a provider to point at by hand
	f2 := newFlow(t, func(c *Config) {
		c.DiscoveryURL = ""
		c.Issuer, c.AuthURL, c.TokenURL, c.UserInfoURL, c.JWKSURL = idp.Issuer(), idp.AuthorizationEndpoint(), idp.TokenEndpoint(), idp.UserinfoEndpoint(), idp.JWKSEndpoint()
		c.ClientID, c.ClientSecret = idp.Config().ClientID, idp.Config().ClientSecret
	})
	idp.QueueUser(&mockoidc.MockUser{Subject: "00u9", Email: "erin@example.com", EmailVerified: true, Groups: []string{"mlflow"}})
	cookie, authURL := f2.start("/x")
	assert.True(t, strings.HasPrefix(authURL.String(), idp.AuthorizationEndpoint()))
	resp, body := f2.get(f2.authorize(authURL), cookie)
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	require.Len(t, f2.logins, 1)
	assert.Equal(t, "00u9", f2.logins[0].Subject)
}
