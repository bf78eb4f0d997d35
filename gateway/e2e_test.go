package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/internal/oidctest"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// upstreamSeen is what MLflow last received.
type upstreamSeen struct {
	mu                          sync.Mutex
	host, origin, authorization string
	cookies                     []string
}

// e2e is a gateway on loopback in front of the MLflow double, with SSO
// through a real OpenID provider (mockoidc) and its database seeded by
// importing the MLflow 2.17.2 auth database.
type e2e struct {
	t      testing.TB
	d      *mlflowtest.Double
	idp    *mockoidc.MockOIDC
	g      *Gateway
	url    string
	db     *store.Store
	log    *testenv.Buffer
	audit  *testenv.Buffer // the audit log, JSON lines
	seen   *upstreamSeen
	token  string // bob's access token
	rootPW string
}

const rootPassword = "root-password-for-tests"

// fixtureDB is a copy of the auth database MLflow 2.17.2 wrote.
func fixtureDB(t testing.TB) string {
	b, err := os.ReadFile("../store/testdata/mlflow-2.17.2-basic_auth.db")
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "basic_auth.db")
	require.NoError(t, os.WriteFile(f, b, 0o600))
	return "sqlite:///" + f
}

// newE2E starts one; env overrides the settings ("" unsets one).
func newE2E(t testing.TB, env map[string]string) *e2e {
	t.Helper()
	return newE2EWith(t, func(_ *e2e, vars map[string]string) {
		for k, v := range env {
			if v == "" {
				delete(vars, k)
			} else {
				vars[k] = v
			}
		}
	})
}

// newE2EWith starts one, tweak changing the settings knowing the
// provider and MLflow.
func newE2EWith(t testing.TB, tweak func(e *e2e, vars map[string]string)) *e2e {
	t.Helper()
	ctx := context.Background()
	e := &e2e{t: t, d: mlflowtest.New(t), log: &testenv.Buffer{}, audit: &testenv.Buffer{}, seen: &upstreamSeen{}, rootPW: rootPassword}
	e.d.AddExperiment("2", "team-a/forecast")
	e.d.OnRequest = func(r *http.Request) {
		e.seen.mu.Lock()
		defer e.seen.mu.Unlock()
		e.seen.host, e.seen.origin, e.seen.authorization = r.Host, r.Header.Get("Origin"), r.Header.Get("Authorization")
		e.seen.cookies = e.seen.cookies[:0]
		for _, c := range r.Cookies() {
			e.seen.cookies = append(e.seen.cookies, c.Name)
		}
	}
	var err error
	e.idp, err = mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.idp.Shutdown() })

	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String()
	vars := map[string]string{
		"MLFLOW_UPSTREAM_URL":        e.d.URL(),
		"OIDC_USERS_DB_URI":          "sqlite:///" + filepath.Join(t.TempDir(), "auth.db"),
		"IMPORT_DB_URI":              fixtureDB(t),
		"MLFLOW_AUTH_ADMIN_USERNAME": "root",
		"MLFLOW_AUTH_ADMIN_PASSWORD": rootPassword,
		"OIDC_DISCOVERY_URL":         e.idp.DiscoveryEndpoint(),
		"OIDC_CLIENT_ID":             e.idp.Config().ClientID,
		"OIDC_CLIENT_SECRET":         e.idp.Config().ClientSecret,
		"OIDC_REDIRECT_URI":          e.url + "/callback",
		"OIDC_SCOPE":                 "openid email profile groups",
	}
	tweak(e, vars)
	cfg, err := FromEnv(envOf(vars))
	require.NoError(t, err)
	e.g, err = New(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(e.log, nil)), Audit: slog.New(slog.NewJSONHandler(e.audit, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { e.g.Close() })
	e.db = e.g.Store()
	srv.Config.Handler = e.g
	srv.Start()
	t.Cleanup(srv.Close)

	e.token = e.mintToken(ctx, "bob", "laptop")
	return e
}

// mintToken makes an access token for user, as the admin API does.
func (e *e2e) mintToken(ctx context.Context, user, name string) string {
	e.t.Helper()
	secret, err := basic.NewToken()
	require.NoError(e.t, err)
	h, err := basic.ParseToken(secret)
	require.NoError(e.t, err)
	_, err = e.db.CreateToken(ctx, store.Token{Username: user, Name: name, Hash: h[:], Prefix: basic.TokenDisplayPrefix(secret),
		ExpiresAt: time.Now().Add(24 * time.Hour)})
	require.NoError(e.t, err)
	return secret
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type call struct {
	method, path, body string
	user, password     string
	bearer             string
	cookie             *http.Cookie
	header             map[string]string
}

// do sends c to the gateway and returns the status and the JSON answer.
func (e *e2e) do(c call) (*http.Response, map[string]any) {
	e.t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	req, err := http.NewRequest(c.method, e.url+c.path, strings.NewReader(c.body))
	require.NoError(e.t, err)
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return resp, out
}

func (e *e2e) status(c call) int {
	e.t.Helper()
	resp, _ := e.do(c)
	return resp.StatusCode
}

// signIn signs a user in through the provider and returns the session
// cookie.
func (e *e2e) signIn(u *mockoidc.MockUser, next string) *http.Cookie {
	e.t.Helper()
	c, landed, err := oidctest.SignIn(e.url, e.idp, u, next, "session")
	require.NoError(e.t, err)
	assert.Equal(e.t, next, landed, "back where the browser was going")
	return c
}

// bearer is a JWT the provider signed for email.
func (e *e2e) bearer(email string) string {
	e.t.Helper()
	return e.bearerFor("svc-"+email, email)
}

// bearerFor is the identity provider's JWT for the person it knows as
// subject.
func (e *e2e) bearerFor(subject, email string) string {
	e.t.Helper()
	now := time.Now()
	tok, err := e.idp.Keypair.SignJWT(jwt.MapClaims{"iss": e.idp.Issuer(), "aud": e.idp.Config().ClientID, "sub": subject,
		"email": email, "email_verified": true, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	require.NoError(e.t, err)
	return tok
}

const (
	exp1 = "/api/2.0/mlflow/experiments/get?experiment_id=1"
	exp2 = "/api/2.0/mlflow/experiments/get?experiment_id=2"
)

// TestEndToEnd: every kind of caller through the assembled gateway, as
// MLflow's clients and a browser send requests.
func TestEndToEnd(t *testing.T) {
	e := newE2E(t, nil)
	ctx := context.Background()

	t.Run("no credentials", func(t *testing.T) {
		resp, body := e.do(call{path: exp1})
		assert.Equal(t, 401, resp.StatusCode)
		assert.Equal(t, "UNAUTHENTICATED", body["error_code"])
		assert.Equal(t, `Basic realm="mlflow"`, resp.Header.Get("WWW-Authenticate"), "an API client is challenged")

		resp, _ = e.do(call{path: exp1, header: map[string]string{"Sec-Fetch-Mode": "cors"}})
		assert.Equal(t, 401, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "a page's script gets no password dialog")

		resp, _ = e.do(call{path: "/#/experiments/1", header: map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}})
		assert.Equal(t, http.StatusFound, resp.StatusCode, "a browser is sent to sign in")
		assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login?next="), resp.Header.Get("Location"))

		resp, _ = e.do(call{path: exp1, user: "bob", password: "wrong"})
		assert.Equal(t, 401, resp.StatusCode)
		assert.Equal(t, 200, e.status(call{path: "/health"}))
		assert.Equal(t, 200, e.status(call{path: "/health/ready"}))
	})

	t.Run("token", func(t *testing.T) {
		assert.Equal(t, 200, e.status(call{path: exp2, user: "bob", password: e.token}), "bob may edit experiment 2")
		resp, body := e.do(call{path: exp1, user: "bob", password: e.token})
		assert.Equal(t, 403, resp.StatusCode)
		assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
	})

	t.Run("password", func(t *testing.T) {
		// alice's pbkdf2 hash came with the import.
		assert.Equal(t, 200, e.status(call{path: exp1, user: "alice", password: "alice-password-0001"}))
		assert.Equal(t, 200, e.status(call{path: exp2, user: "alice", password: "alice-password-0001"}))
		// dave's scrypt hash: READ on 1, nothing on 2.
		assert.Equal(t, 200, e.status(call{path: exp1, user: "dave", password: "dave-password-0001"}))
		assert.Equal(t, 403, e.status(call{path: exp2, user: "dave", password: "dave-password-0001"}))
		// MLflow's shipped default password was not imported as one.
		assert.Equal(t, 401, e.status(call{path: exp1, user: "admin", password: "password1234"}))
	})

	t.Run("admin", func(t *testing.T) {
		assert.Equal(t, 200, e.status(call{path: exp1, user: "root", password: e.rootPW}))
		assert.Equal(t, 200, e.status(call{path: exp2, user: "root", password: e.rootPW}))
		assert.Equal(t, 401, e.status(call{path: exp1, user: "root", password: "not-the-password"}))
	})

	cookie := e.signIn(&mockoidc.MockUser{Subject: "00u-erin", Email: "erin@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/#/experiments/2")
	t.Run("session", func(t *testing.T) {
		assert.Equal(t, 403, e.status(call{path: exp2, cookie: cookie}), "signed in, no grant yet")
		require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "2"},
			Principal: permission.ForUser("erin@example.com"), Level: permission.Read}))
		assert.Equal(t, 200, e.status(call{path: exp2, cookie: cookie}), "the grant applies at once")
		assert.Equal(t, 403, e.status(call{path: exp1, cookie: cookie}))
		resp, _ := e.do(call{path: exp1, cookie: &http.Cookie{Name: "session", Value: "forged"}})
		assert.Equal(t, 401, resp.StatusCode)
		assert.Empty(t, resp.Header.Get("WWW-Authenticate"), "a browser with a dead session gets no password dialog")
	})

	t.Run("bearer", func(t *testing.T) {
		_, err := e.db.CreateUser(ctx, store.User{Username: "frank@example.com"})
		require.NoError(t, err)
		require.NoError(t, e.db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
			Principal: permission.ForUser("frank@example.com"), Level: permission.Read}))
		tok := e.bearer("frank@example.com")
		assert.Equal(t, 200, e.status(call{path: exp1, bearer: tok}))
		assert.Equal(t, 403, e.status(call{path: exp2, bearer: tok}))
		assert.Equal(t, 401, e.status(call{path: exp1, bearer: e.bearer("nobody@example.com")}), "no such account")
		assert.Equal(t, 401, e.status(call{path: exp1, bearer: tok[:len(tok)-4] + "AAAA"}), "a bad signature")
	})

	t.Run("creator gets MANAGE, then creates a run at once", func(t *testing.T) {
		resp, body := e.do(call{method: "POST", path: "/api/2.0/mlflow/experiments/create", body: `{"name":"bob/new"}`, user: "bob", password: e.token})
		require.Equal(t, 200, resp.StatusCode, "%v", body)
		id, _ := body["experiment_id"].(string)
		require.NotEmpty(t, id)
		assert.Equal(t, 200, e.status(call{method: "POST", path: "/api/2.0/mlflow/runs/create", body: `{"experiment_id":"` + id + `"}`, user: "bob", password: e.token}))
		assert.Equal(t, 403, e.status(call{method: "POST", path: "/api/2.0/mlflow/runs/create", body: `{"experiment_id":"` + id + `"}`, user: "dave", password: "dave-password-0001"}))
	})

	t.Run("search filtering", func(t *testing.T) {
		for i, name := range []string{"team-a/churn", "team-a/forecast", "team-b/nlp", "team-b/vision"} {
			e.d.Catalog = append(e.d.Catalog, map[string]any{"experiment_id": string(rune('1' + i)), "name": name, "lifecycle_stage": "active"})
		}
		resp, body := e.do(call{method: "POST", path: "/api/2.0/mlflow/experiments/search", body: `{"max_results":10}`, user: "dave", password: "dave-password-0001"})
		require.Equal(t, 200, resp.StatusCode, "%v", body)
		exps, _ := body["experiments"].([]any)
		require.Len(t, exps, 1, "dave reads experiment 1 only: %v", body)
		assert.Equal(t, "1", exps[0].(map[string]any)["experiment_id"])
		assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")
	})

	t.Run("unknown and non-canonical paths", func(t *testing.T) {
		assert.Equal(t, 403, e.status(call{path: "/api/2.0/mlflow/no-such-endpoint", user: "bob", password: e.token}), "unknown: admins only")
		assert.Equal(t, 404, e.status(call{path: "/api/2.0/mlflow/no-such-endpoint", user: "root", password: e.rootPW}), "an admin reaches MLflow, which has no such route")
		for _, p := range []string{"/api/2.0/mlflow//experiments/get?experiment_id=1", "/api/2.0/mlflow/./experiments/get", "/api/2.0/mlflow/experiments%2Fget", "/health/../api/2.0/mlflow/experiments/get"} {
			resp, body := e.do(call{path: p, user: "root", password: e.rootPW})
			assert.Equal(t, 400, resp.StatusCode, p)
			assert.NotEmpty(t, body["error_code"], p)
		}
		assert.NotEqual(t, 200, e.status(call{path: "/Health"}), "own routes match exactly")
	})

	t.Run("cross-origin cookie write", func(t *testing.T) {
		create := call{method: "POST", path: "/api/2.0/mlflow/experiments/create", body: `{"name":"erin/x"}`, cookie: cookie}
		create.header = map[string]string{"Sec-Fetch-Site": "cross-site"}
		resp, body := e.do(create)
		assert.Equal(t, 403, resp.StatusCode)
		assert.Equal(t, "PERMISSION_DENIED", body["error_code"])
		create.header = map[string]string{"Origin": "https://evil.example"}
		assert.Equal(t, 403, e.status(create))
		create.header = map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.url}
		assert.Equal(t, 200, e.status(create), "the UI's own write passes")
		resp, _ = e.do(call{path: exp2, cookie: cookie})
		assert.Contains(t, resp.Header.Values("Vary"), "Cookie")
	})

	t.Run("what MLflow receives", func(t *testing.T) {
		resp, _ := e.do(call{path: exp2, cookie: &http.Cookie{Name: "session", Value: cookie.Value},
			header: map[string]string{"Origin": e.url, "Cookie": "session=" + cookie.Value + "; mlflow_ui=1"}})
		require.Equal(t, 200, resp.StatusCode)
		e.seen.mu.Lock()
		defer e.seen.mu.Unlock()
		u, _ := url.Parse(e.d.URL())
		assert.Equal(t, u.Host, e.seen.host, "MLflow's own Host: 3.5 refuses any other")
		assert.Empty(t, e.seen.origin, "no Origin: 3.5 refuses cross-origin writes")
		assert.Empty(t, e.seen.authorization)
		assert.NotContains(t, e.seen.cookies, "session", "the gateway's session cookie stays here")
	})

	t.Run("sign out", func(t *testing.T) {
		resp, _ := e.do(call{path: "/logout", cookie: cookie})
		assert.Equal(t, http.StatusFound, resp.StatusCode)
		assert.Equal(t, 401, e.status(call{path: exp2, cookie: cookie}), "the session has ended")
	})

	t.Run("a deactivated user stops at once", func(t *testing.T) {
		no := false
		_, err := e.db.UpdateUser(ctx, "bob", store.UserChange{Active: &no})
		require.NoError(t, err)
		assert.NotEqual(t, 200, e.status(call{path: exp2, user: "bob", password: e.token}))
	})

	assert.Equal(t, 0, strings.Count(e.log.String(), "single sign-on is off"), "SSO is on")
	assert.NotContains(t, e.log.String(), e.token, "no secret in the log")
	assert.NotContains(t, e.log.String(), rootPassword, "no secret in the log")
}

// Without SSO settings: Basic and bearer only, said once, and a browser
// gets the Basic challenge as with MLflow's basic-auth.
func TestEndToEndWithoutSSO(t *testing.T) {
	e := newE2E(t, map[string]string{"OIDC_DISCOVERY_URL": "", "OIDC_REDIRECT_URI": "", "OIDC_CLIENT_SECRET": "", "OIDC_CLIENT_ID": ""})
	assert.Equal(t, 1, strings.Count(e.log.String(), "single sign-on is off"))
	resp, _ := e.do(call{path: "/", header: map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html"}})
	assert.Equal(t, 401, resp.StatusCode)
	assert.Equal(t, `Basic realm="mlflow"`, resp.Header.Get("WWW-Authenticate"))
	assert.NotEqual(t, http.StatusFound, e.status(call{path: "/login"}), "no sign-in routes")
	assert.Equal(t, 200, e.status(call{path: exp2, user: "bob", password: e.token}))
}

// SSO without discovery: the endpoints, issuer and keys given by hand,
// and logout sent to OIDC_END_SESSION_URL (Cognito's, which discovery
// does not name).
func TestEndToEndWithoutDiscovery(t *testing.T) {
	e := newE2EWith(t, func(e *e2e, vars map[string]string) {
		delete(vars, "OIDC_DISCOVERY_URL")
		vars["OIDC_AUTHORIZATION_URL"] = e.idp.AuthorizationEndpoint()
		vars["OIDC_TOKEN_URL"] = e.idp.TokenEndpoint()
		vars["OIDC_USER_URL"] = e.idp.UserinfoEndpoint()
		vars["OIDC_ISSUER"] = e.idp.Issuer()
		vars["OIDC_JWKS_URL"] = e.idp.JWKSEndpoint()
		vars["OIDC_END_SESSION_URL"] = "https://mlflow.auth.eu-west-1.amazoncognito.com/logout"
	})
	cookie := e.signIn(&mockoidc.MockUser{Subject: "00u-gus", Email: "gus@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/")
	assert.Equal(t, 403, e.status(call{path: exp1, cookie: cookie}), "signed in, no grant")
	_, err := e.db.CreateUser(context.Background(), store.User{Username: "frank@example.com"})
	require.NoError(t, err)
	assert.Equal(t, 403, e.status(call{path: exp1, bearer: e.bearer("frank@example.com")}), "bearer tokens verified with OIDC_JWKS_URL")
	assert.Equal(t, 401, e.status(call{path: exp1, bearer: e.bearer("nobody@example.com")}))
	resp, _ := e.do(call{path: "/logout", cookie: cookie})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	var loc *url.URL
	loc, err = url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "mlflow.auth.eu-west-1.amazoncognito.com", loc.Host)
	assert.Equal(t, e.url+"/", loc.Query().Get("logout_uri"))
}

// A restart imports nothing again, keeps the administrator's password as
// it was changed, and keeps the generated SECRET_KEY.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	dbURI := "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")
	env := envOf(map[string]string{"MLFLOW_UPSTREAM_URL": "http://127.0.0.1:1", "OIDC_USERS_DB_URI": dbURI, "IMPORT_DB_URI": fixtureDB(t),
		"MLFLOW_AUTH_ADMIN_USERNAME": "root", "MLFLOW_AUTH_ADMIN_PASSWORD": rootPassword})
	cfg, err := FromEnv(env)
	require.NoError(t, err)
	quiet := Options{Logger: slog.New(slog.DiscardHandler), Audit: slog.New(slog.DiscardHandler)}
	g, err := New(ctx, cfg, quiet)
	require.NoError(t, err)
	key, err := g.Store().SecretKey(ctx, SecretKeyName, nil)
	require.NoError(t, err)
	require.NoError(t, g.Store().DeleteUser(ctx, "alice"))
	hash, err := basic.HashPassword("changed-by-the-admin")
	require.NoError(t, err)
	_, err = g.Store().UpdateUser(ctx, "root", store.UserChange{PasswordHash: &hash})
	require.NoError(t, err)
	require.NoError(t, g.Close())

	g, err = New(ctx, cfg, quiet)
	require.NoError(t, err)
	defer g.Close()
	_, err = g.Store().GetUser(ctx, "alice")
	assert.ErrorIs(t, err, store.ErrNotFound, "a deleted user is not imported again")
	root, err := g.Store().GetUser(ctx, "root")
	require.NoError(t, err)
	assert.Equal(t, hash, root.PasswordHash, "the bootstrap admin is created once, not reset")
	assert.True(t, root.Admin)
	again, err := g.Store().SecretKey(ctx, SecretKeyName, nil)
	require.NoError(t, err)
	assert.Equal(t, key, again)
	assert.Len(t, key, 32)
}

// MLflow down: a 502 in MLflow's error shape.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	ln.Close()
	e := newE2E(t, map[string]string{"MLFLOW_UPSTREAM_URL": closed})
	resp, body := e.do(call{path: exp1, user: "root", password: e.rootPW})
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Equal(t, "TEMPORARILY_UNAVAILABLE", body["error_code"])
	// A non-admin's lookup of a run fails closed too: 503, never through.
	resp, body = e.do(call{path: "/api/2.0/mlflow/runs/get?run_id=" + mlflowtest.RecordedRun, user: "bob", password: e.token})
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%v", body)
}

// Each thing New must reach or read, broken: a startup error naming the
// variable to fix.
func TestStartupErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	ln.Close()
	notAuthDB := "sqlite:///" + filepath.Join(t.TempDir(), "empty.db")
	empty, err := store.Open(context.Background(), notAuthDB)
	require.NoError(t, err)
	empty.Close()
	base := map[string]string{"MLFLOW_UPSTREAM_URL": "http://127.0.0.1:5000"}
	for name, env := range map[string]map[string]string{
		"OIDC_USERS_DB_URI":                    {"OIDC_USERS_DB_URI": "mysql://db/auth"},
		"IMPORT_DB_URI":                        {"IMPORT_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "missing", "nope.db")},
		"IMPORT_DB_URI (not an auth database)": {"IMPORT_DB_URI": notAuthDB},
		"OIDC_DISCOVERY_URL":                   {"OIDC_DISCOVERY_URL": closed, "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "http://127.0.0.1:8080/callback"},
		"REDIS_URL": {"OIDC_DISCOVERY_URL": closed, "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "http://127.0.0.1:8080/callback",
			"SESSION_TYPE": "redis", "REDIS_URL": "redis://" + strings.TrimPrefix(closed, "http://") + "/0"},
		"OIDC_GROUP_DETECTION_PLUGIN": {"OIDC_DISCOVERY_URL": closed, "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "http://127.0.0.1:8080/callback",
			"OIDC_GROUP_DETECTION_PLUGIN": "no-such-plugin"},
		"PROXY_ASSERTION_JWKS_URL": {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion", "PROXY_ASSERTION_JWKS_URL": closed + "/jwks",
			"PROXY_ASSERTION_ISSUER": "https://cloud.google.com/iap", "PROXY_ASSERTION_AUDIENCE": "/projects/1", "TRUSTED_PROXIES": "10.0.0.0/8"},
	} {
		vars := map[string]string{"OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")}
		for k, v := range base {
			vars[k] = v
		}
		for k, v := range env {
			vars[k] = v
		}
		cfg, err := FromEnv(envOf(vars))
		require.NoError(t, err, name)
		g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Audit: slog.New(slog.DiscardHandler)})
		if !assert.Error(t, err, name) {
			g.Close()
			continue
		}
		assert.ErrorContains(t, err, strings.Fields(name)[0], name)
	}
}

// An integrator's own routes and authenticator: served by the gateway
// after authentication, never proxied, the identity in the context.
func TestOwnRoutesAndAuthenticators(t *testing.T) {
	apiKey := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Identity, error) {
		if r.Header.Get("X-Api-Key") != "k-123" {
			return nil, auth.ErrNoCredentials
		}
		return &auth.Identity{Username: "bob", Method: "api-key"}, nil
	})
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromRequest(r)
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`","user":"`+id.Username+`"}`)
	})
	e := &e2e{t: t, d: mlflowtest.New(t)} // a client and MLflow; the gateway is this test's own
	cfg, err := FromEnv(envOf(map[string]string{"MLFLOW_UPSTREAM_URL": e.d.URL(), "OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")}))
	require.NoError(t, err)
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Audit: slog.New(slog.DiscardHandler), Authenticators: []auth.Authenticator{apiKey},
		Routes: map[string]http.Handler{"/me": whoami, "/ui/": whoami}})
	require.NoError(t, err)
	defer g.Close()
	_, err = g.Store().CreateUser(context.Background(), store.User{Username: "bob"})
	require.NoError(t, err)
	srv := httptest.NewServer(g)
	defer srv.Close()
	e.url = srv.URL
	before := e.d.Calls.Load()

	for _, p := range []string{"/me", "/ui/tokens", "/ui/"} {
		resp, body := e.do(call{path: p, header: map[string]string{"X-Api-Key": "k-123"}})
		assert.Equal(t, 200, resp.StatusCode, p)
		assert.Equal(t, "bob", body["user"], p)
		assert.Equal(t, 401, e.status(call{path: p}), "%s needs credentials", p)
	}
	assert.Equal(t, 401, e.status(call{path: "/me", header: map[string]string{"X-Api-Key": "wrong"}}))
	assert.Equal(t, before, e.d.Calls.Load(), "own routes never reach MLflow")
	assert.Equal(t, 403, e.status(call{path: "/me/", header: map[string]string{"X-Api-Key": "k-123"}}), "an exact route is exact: /me/ is MLflow's, and unknown")
	assert.Equal(t, 403, e.status(call{path: exp1, header: map[string]string{"X-Api-Key": "k-123"}}), "the authorizer decides the rest")
}

// MLflow's UI page gets the menu's script, and nothing about the user;
// other answers pass untouched.
func TestMenuInMLflowUI(t *testing.T) {
	e := newE2E(t, nil)
	page := `<!doctype html><html><head><title>MLflow</title></head><body><div id="root"></div></body></html>`
	var acceptEncoding string
	e.d.Extra = map[string]http.Handler{"/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding = r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("ETag", `"abc123"`)
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = io.WriteString(w, page)
	})}
	cookie := e.signIn(&mockoidc.MockUser{Subject: "00u-ivy", Email: "ivy@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "/")
	req, err := http.NewRequest("GET", e.url+"/", nil)
	require.NoError(t, err)
	req.AddCookie(cookie)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Accept", "text/html")
	resp, err := noRedirects.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	assert.Equal(t, "identity", acceptEncoding, "fetched uncompressed")
	body := string(b)
	assert.Contains(t, body, `<script src="/oidc/ui/static/menu.js" data-login="/login" defer></script></head>`)
	assert.NotContains(t, body, "ivy", "no user data in the page")
	assert.Equal(t, strconv.Itoa(len(b)), resp.Header.Get("Content-Length"))
	assert.Equal(t, `W/"mlflowauth-abc123"`, resp.Header.Get("ETag"), "not the original's ETag")
	assert.Contains(t, resp.Header.Get("Cache-Control"), "no-store")

	// The script itself, and an API answer, untouched.
	resp2, body2 := e.do(call{path: "/oidc/ui/static/menu.js", cookie: cookie})
	assert.Equal(t, 200, resp2.StatusCode)
	assert.Nil(t, body2)
	resp3, _ := e.do(call{path: exp1, user: "root", password: e.rootPW})
	assert.Empty(t, resp3.Header.Get("ETag"))
}
