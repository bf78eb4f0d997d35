package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerAuth is a test authenticator for one header: absent means "not
// mine", "good" accepts, anything else is invalid.
type headerAuth struct {
	header string
	id     Identity
	calls  int
}

func (a *headerAuth) Authenticate(r *http.Request) (*Identity, error) {
	a.calls++
	switch v := r.Header.Get(a.header); v {
	case "":
		return nil, ErrNoCredentials
	case "good":
		id := a.id
		return &id, nil
	case "busy":
		return nil, &Error{Status: http.StatusTooManyRequests, Code: CodeRequestLimitExceeded, Message: "Too many failed attempts", RetryAfter: 1500 * time.Millisecond}
	case "down":
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Message: "The user store is unavailable", Err: errors.New("dial tcp: connection refused")}
	case "wrapped-not-mine":
		return nil, fmt.Errorf("looked elsewhere: %w", ErrNoCredentials)
	case "nil":
		return nil, nil
	default:
		return nil, errors.New("invalid credential " + v)
	}
}

type response struct {
	status    int
	errorCode string
	message   string
	challenge string
	location  string
	user      string // set when the next handler ran
	header    http.Header
}

func serve(t *testing.T, cfg Config, r *http.Request, authns ...Authenticator) response {
	t.Helper()
	var user string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := FromRequest(r); ok {
			user = id.Username
		} else {
			user = "(anonymous)"
		}
		w.WriteHeader(http.StatusOK)
	})
	w := httptest.NewRecorder()
	Middleware(cfg, authns...)(next).ServeHTTP(w, r)
	res := response{
		status:    w.Code,
		challenge: w.Header().Get("WWW-Authenticate"),
		location:  w.Header().Get("Location"),
		user:      user,
		header:    w.Header(),
	}
	if w.Code >= 400 {
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
		var b map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &b), "body %q", w.Body.String())
		assert.Len(t, b, 2, "MLflow's error body has error_code and message only")
		res.errorCode, _ = b["error_code"].(string)
		res.message, _ = b["message"].(string)
		assert.Empty(t, user, "the next handler must not run on an error")
	}
	return res
}

const basicChallenge = `Basic realm="mlflow"`

func TestMiddleware(t *testing.T) {
	sso := Config{LoginPath: "/login", SessionCookie: "session", Public: []string{"/health", "/health/ready"}}
	noSSO := Config{Public: []string{"/health"}}
	type req struct {
		method, target string
		header         map[string]string
		cookie         string
	}
	tests := []struct {
		name string
		cfg  Config
		req  req
		want response
	}{
		{
			name: "first authenticator accepts",
			cfg:  noSSO,
			req:  req{target: "/api/2.0/mlflow/experiments/search", header: map[string]string{"X-A": "good"}},
			want: response{status: 200, user: "alice"},
		},
		{
			name: "not mine passes to the next",
			cfg:  noSSO,
			req:  req{target: "/api/2.0/mlflow/experiments/search", header: map[string]string{"X-B": "good"}},
			want: response{status: 200, user: "bob"},
		},
		{
			name: "wrapped not mine passes to the next",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"X-A": "wrapped-not-mine", "X-B": "good"}},
			want: response{status: 200, user: "bob"},
		},
		{
			name: "mine and invalid stops the chain with the standard 401",
			cfg:  noSSO,
			req:  req{target: "/api/2.0/mlflow/experiments/search", header: map[string]string{"X-A": "wrong", "X-B": "good"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "authenticator chooses 429 with Retry-After",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"X-A": "busy"}},
			want: response{status: 429, errorCode: CodeRequestLimitExceeded, message: "Too many failed attempts"},
		},
		{
			name: "authenticator reports its store down: 503, cause not sent",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"X-A": "down"}},
			want: response{status: 503, errorCode: CodeTemporarilyUnavailable, message: "The user store is unavailable"},
		},
		{
			name: "accepting without an identity fails closed",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"X-A": "nil"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "API call without credentials: 401 with the Basic challenge",
			cfg:  sso,
			req:  req{target: "/api/2.0/mlflow/experiments/search"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "POST navigation is not redirected",
			cfg:  sso,
			req:  req{method: "POST", target: "/api/2.0/mlflow/runs/create", header: map[string]string{"Sec-Fetch-Mode": "navigate"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "page script without credentials: 401 without the challenge",
			cfg:  sso,
			req:  req{target: "/ajax-api/2.0/mlflow/experiments/search", header: map[string]string{"Sec-Fetch-Mode": "cors"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated},
		},
		{
			name: "same-origin fetch without SSO: no challenge either",
			cfg:  noSSO,
			req:  req{target: "/ajax-api/2.0/mlflow/experiments/search", header: map[string]string{"Sec-Fetch-Mode": "same-origin"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated},
		},
		{
			name: "request with an expired session cookie: no challenge",
			cfg:  sso,
			req:  req{target: "/api/2.0/mlflow/experiments/search", cookie: "session=expired"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated},
		},
		{
			name: "browser navigation with SSO goes to the sign-in page",
			cfg:  sso,
			req:  req{target: "/", header: map[string]string{"Sec-Fetch-Mode": "navigate"}},
			want: response{status: 302, location: "/login?next=%2F"},
		},
		{
			name: "navigation keeps path and query in next",
			cfg:  sso,
			req:  req{target: "/get-artifact?path=a%20b&run_uuid=1", header: map[string]string{"Sec-Fetch-Mode": "navigate"}},
			want: response{status: 302, location: "/login?next=%2Fget-artifact%3Fpath%3Da%2520b%26run_uuid%3D1"},
		},
		{
			name: "older browser without Sec-Fetch-Mode asking for HTML",
			cfg:  sso,
			req:  req{method: "HEAD", target: "/", header: map[string]string{"Accept": "text/html,application/xhtml+xml"}},
			want: response{status: 302, location: "/login?next=%2F"},
		},
		{
			name: "browser navigation without SSO gets the Basic challenge",
			cfg:  noSSO,
			req:  req{target: "/", header: map[string]string{"Sec-Fetch-Mode": "navigate"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "public path exact",
			cfg:  sso,
			req:  req{target: "/health"},
			want: response{status: 200, user: "(anonymous)"},
		},
		{
			name: "public path skips authenticators even with bad credentials",
			cfg:  sso,
			req:  req{target: "/health/ready", header: map[string]string{"X-A": "wrong", "Authorization": "Nonsense"}},
			want: response{status: 200, user: "(anonymous)"},
		},
		{
			name: "public path with a trailing slash is not public",
			cfg:  sso,
			req:  req{target: "/health/"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "public path in another case is not public",
			cfg:  sso,
			req:  req{target: "/Health"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "login path is public",
			cfg:  sso,
			req:  req{target: "/login?next=/"},
			want: response{status: 200, user: "(anonymous)"},
		},
		{
			name: "static assets are public",
			cfg:  noSSO,
			req:  req{target: "/static-files/static/js/main.js"},
			want: response{status: 200, user: "(anonymous)"},
		},
		{
			name: "static assets under the static prefix",
			cfg:  Config{StaticPrefix: "/mlflow"},
			req:  req{target: "/mlflow/static-files/index.html"},
			want: response{status: 200, user: "(anonymous)"},
		},
		{
			name: "without the static prefix they are not",
			cfg:  Config{StaticPrefix: "/mlflow/"},
			req:  req{target: "/static-files/index.html"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "static-files itself is not under the prefix",
			cfg:  noSSO,
			req:  req{target: "/static-files"},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: MessageUnauthenticated, challenge: basicChallenge},
		},
		{
			name: "dot-dot out of static-files is refused before public matching",
			cfg:  noSSO,
			req:  req{target: "/static-files/../api/2.0/mlflow/users/delete"},
			want: response{status: 400, errorCode: CodeBadRequest, message: "Invalid request path: '..' path segment"},
		},
		{
			name: "encoded slash is refused",
			cfg:  noSSO,
			req:  req{target: "/api/2.0/mlflow%2Fexperiments/get", header: map[string]string{"X-A": "good"}},
			want: response{status: 400, errorCode: CodeBadRequest, message: "Invalid request path: encoded '/' (%2F)"},
		},
		{
			name: "Basic credentials that parse",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Basic " + b64("Dave:pw")}},
			want: response{status: 200, user: "dave"},
		},
		{
			name: "Bearer token that parses",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Bearer tok"}},
			want: response{status: 200, user: "erin"},
		},
		{
			name: "malformed Basic credentials: a precise 401",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Basic " + b64("nocolon")}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "Malformed Authorization header: Basic credentials have no ':' between username and password", challenge: basicChallenge},
		},
		{
			name: "Basic credentials in bad base64",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Basic %%%"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "Malformed Authorization header: Basic credentials are not valid base64", challenge: basicChallenge},
		},
		{
			name: "Basic credentials not UTF-8",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Basic " + b64("d\xffave:pw")}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "Malformed Authorization header: Basic credentials are not valid UTF-8", challenge: basicChallenge},
		},
		{
			name: "malformed Bearer token",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Bearer a,b"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "Malformed Authorization header: Bearer token has characters a token cannot have (RFC 6750)", challenge: basicChallenge},
		},
		{
			name: "no scheme is refused before any authenticator",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": b64("dave:pw"), "X-A": "good"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: `Malformed Authorization header: no authentication scheme (expected "Basic <base64 of username:password>" or "Bearer <token>")`, challenge: basicChallenge},
		},
		{
			name: "over 8 KiB is refused before any authenticator",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("t", 8200), "X-A": "good"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "Malformed Authorization header: longer than 8192 bytes", challenge: basicChallenge},
		},
		{
			name: "unknown scheme is refused before any authenticator",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"Authorization": "Digest username=x", "X-A": "good"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: `Malformed Authorization header: unsupported scheme "Digest" (expected Basic or Bearer)`, challenge: basicChallenge},
		},
		{
			name: "a declared scheme that no authenticator takes",
			cfg:  Config{Schemes: []string{"ApiKey"}},
			req:  req{target: "/x", header: map[string]string{"Authorization": "ApiKey abc"}},
			want: response{status: 401, errorCode: CodeUnauthenticated, message: "The ApiKey authorization scheme is not accepted by this server", challenge: basicChallenge},
		},
		{
			name: "identity username is lower-cased",
			cfg:  noSSO,
			req:  req{target: "/x", header: map[string]string{"X-C": "good"}},
			want: response{status: 200, user: "carol"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.req.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, tt.req.target, nil)
			for k, v := range tt.req.header {
				r.Header.Set(k, v)
			}
			if tt.req.cookie != "" {
				r.Header.Set("Cookie", tt.req.cookie)
			}
			authA := &headerAuth{header: "X-A", id: Identity{Username: "alice", Method: MethodBasic}}
			authB := &headerAuth{header: "X-B", id: Identity{Username: "bob", Method: MethodBearer}}
			authC := &headerAuth{header: "X-C", id: Identity{Username: "Carol", Method: MethodSession}}
			authD := AuthenticatorFunc(func(r *http.Request) (*Identity, error) {
				user, pass, err := BasicCredentials(r)
				if err != nil {
					return nil, err
				}
				if user != "Dave" || pass != "pw" {
					return nil, Unauthenticated("")
				}
				return &Identity{Username: user, Method: MethodBasic}, nil
			})
			authE := AuthenticatorFunc(func(r *http.Request) (*Identity, error) {
				tok, err := BearerToken(r)
				if err != nil {
					return nil, err
				}
				if tok != "tok" {
					return nil, Unauthenticated("")
				}
				return &Identity{Username: "erin", Method: MethodBearer}, nil
			})
			tt.cfg.Logger = slog.New(slog.DiscardHandler)
			got := serve(t, tt.cfg, r, authA, authB, authC, authD, authE)
			assert.Equal(t, tt.want.status, got.status)
			assert.Equal(t, tt.want.errorCode, got.errorCode)
			assert.Equal(t, tt.want.message, got.message)
			assert.Equal(t, tt.want.challenge, got.challenge)
			assert.Equal(t, tt.want.location, got.location)
			if tt.want.user != "" {
				assert.Equal(t, tt.want.user, got.user)
			}
			if tt.want.status == 429 {
				assert.Equal(t, "2", got.header.Get("Retry-After"), "rounded up to whole seconds")
			}
			if tt.want.status == 302 {
				assert.Equal(t, "no-store", got.header.Get("Cache-Control"))
			}
		})
	}
}

func TestMiddlewareStopsAtFirstAnswer(t *testing.T) {
	a := &headerAuth{header: "X-A"}
	b := &headerAuth{header: "X-B", id: Identity{Username: "bob"}}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-A", "wrong")
	r.Header.Set("X-B", "good")
	got := serve(t, Config{Logger: slog.New(slog.DiscardHandler)}, r, a, b)
	assert.Equal(t, 401, got.status)
	assert.Equal(t, 1, a.calls)
	assert.Equal(t, 0, b.calls, "an invalid credential must not fall through to a later authenticator")
}

func TestMiddlewareDoesNotAliasIdentity(t *testing.T) {
	shared := &Identity{Username: "Dave", Method: MethodBasic}
	a := AuthenticatorFunc(func(*http.Request) (*Identity, error) { return shared, nil })
	var seen *Identity
	h := Middleware(Config{}, a)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = FromRequest(r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	require.NotNil(t, seen)
	assert.Equal(t, "dave", seen.Username)
	assert.Equal(t, "Dave", shared.Username, "the authenticator's value is copied, not changed")
}

func TestMiddlewareLogsNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := &headerAuth{header: "X-A"}
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-A", "down")
	r.Header.Set("Authorization", "Basic "+b64("alice:topsecret"))
	got := serve(t, Config{Logger: logger}, r, a)
	assert.Equal(t, 503, got.status)
	assert.Contains(t, logs.String(), "connection refused", "the cause is logged")
	assert.NotContains(t, logs.String(), "topsecret")
	assert.NotContains(t, logs.String(), b64("alice:topsecret"))
}

func TestMiddlewareRealm(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	got := serve(t, Config{Realm: `team "ml"`}, r)
	assert.Equal(t, `Basic realm="team ml"`, got.challenge)
}

func TestMiddlewareExtraScheme(t *testing.T) {
	apiKey := AuthenticatorFunc(func(r *http.Request) (*Identity, error) {
		v := r.Header.Get("Authorization")
		if !strings.HasPrefix(v, "ApiKey ") {
			return nil, ErrNoCredentials
		}
		if v != "ApiKey k1" {
			return nil, errors.New("unknown key")
		}
		return &Identity{Username: "svc-ci", Method: MethodBearer}, nil
	})
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "ApiKey k1")
	got := serve(t, Config{Schemes: []string{"ApiKey"}}, r, apiKey)
	assert.Equal(t, 200, got.status)
	assert.Equal(t, "svc-ci", got.user)

	got = serve(t, Config{}, r, apiKey)
	assert.Equal(t, 401, got.status, "a scheme nobody declared is refused")
}

// TestMiddlewarePublicRequest: with PublicRequest, what is served without
// credentials is what it says (by method and path), in place of the
// static prefix rule; Public paths and the login page stay public.
func TestMiddlewarePublicRequest(t *testing.T) {
	cfg := Config{Public: []string{"/health"}, LoginPath: "/login", PublicRequest: func(method, path string) bool {
		return method == "GET" && strings.HasPrefix(path, "/static-files/")
	}}
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/static-files/static/js/main.abc.js", 200},
		{"GET", "/static-files/a/b/c/d.css", 200},
		{"POST", "/static-files/static/js/main.abc.js", 401},
		{"GET", "/favicon.ico", 401},
		{"GET", "/health", 200},
		{"GET", "/login", 200},
		{"GET", "/api/2.0/mlflow/experiments/search", 401},
	} {
		got := serve(t, cfg, httptest.NewRequest(tt.method, tt.path, nil))
		assert.Equal(t, tt.want, got.status, "%s %s", tt.method, tt.path)
	}
}
