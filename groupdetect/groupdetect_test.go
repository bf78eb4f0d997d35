package groupdetect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

var ctx = context.Background()

func claimsOf(t *testing.T, js string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(js), &m))
	return m
}

func TestClaims(t *testing.T) {
	tests := []struct {
		name     string
		provider Provider
		claims   string
		want     []string
		err      string
	}{
		{"list", Claims(""), `{"groups":["mlflow","ml-team"]}`, []string{"mlflow", "ml-team"}, ""},
		{"string", Claims("groups"), `{"groups":"mlflow"}`, []string{"mlflow"}, ""},
		{"space-separated", Claims("groups"), `{"groups":"mlflow  ml-team "}`, []string{"mlflow", "ml-team"}, ""},
		{"nested (Keycloak)", Claims("realm_access.roles"), `{"realm_access":{"roles":["mlflow-admin"]}}`, []string{"mlflow-admin"}, ""},
		{"Okta post-login action", Okta(), `{"urn:mlflow:groups":["mlflow-admin"]}`, []string{"mlflow-admin"}, ""},
		{"Cognito", Cognito(), `{"cognito:groups":["mlflow"]}`, []string{"mlflow"}, ""},
		{"missing claim: no information", Claims("groups"), `{"sub":"1"}`, nil, ""},
		{"empty claim: in no group", Claims("groups"), `{"groups":[]}`, []string{}, ""},
		{"null claim", Claims("groups"), `{"groups":null}`, []string{}, ""},
		{"empty entries dropped", Claims("groups"), `{"groups":["", " a "]}`, []string{"a"}, ""},
		{"a number in the list", Claims("groups"), `{"groups":["a", 7]}`, nil, "groupdetect: claims: reading the groups claim: a group that is not a string: 7 (float64)"},
		{"an object", Claims("groups"), `{"groups":{"a":1}}`, nil, "groups claim of type map[string]interface {}"},
		{"Entra overage", Claims("groups"), `{"_claim_names":{"groups":"src1"},"_claim_sources":{"src1":{"endpoint":"https://graph"}}}`, nil, "use the Entra provider"},
		{"Entra hasgroups", Claims("groups"), `{"hasgroups":true}`, nil, "use the Entra provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.provider.Groups(ctx, Input{Claims: claimsOf(t, tt.claims)})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Nil(t, got)
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, "claims", e.Provider)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := Claims("groups").Groups(ctx, Input{Claims: claimsOf(t, `{"hasgroups":true}`)})
	assert.ErrorIs(t, err, ErrOverage)
}

// graph serves Microsoft Graph's transitiveMemberOf in pages, as
// documented: {"value": [...], "@odata.nextLink": "..."}.
type graph struct {
	pages      [][]map[string]string
	nextHost   string // the host nextLinks point to; the server's own when empty
	throttle   int32  // answer 429 this many times first
	retryAfter string
	fail       int // status to answer instead
	body       string
	delay      time.Duration
	calls      atomic.Int32
	srv        *httptest.Server
}

func (g *graph) start(t *testing.T) string {
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.calls.Add(1)
		assert.Equal(t, "Bearer graph-token", r.Header.Get("Authorization"))
		assert.Equal(t, "/v1.0/me/transitiveMemberOf/microsoft.graph.group", r.URL.Path)
		if g.delay > 0 {
			time.Sleep(g.delay)
		}
		if n <= g.throttle {
			w.Header().Set("Retry-After", g.retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if g.fail != 0 {
			w.WriteHeader(g.fail)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if g.body != "" {
			fmt.Fprint(w, g.body)
			return
		}
		page := 0
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		resp := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": g.pages[page]}
		if page+1 < len(g.pages) {
			host := g.nextHost
			if host == "" {
				host = g.srv.URL
			}
			resp["@odata.nextLink"] = host + "/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$skiptoken=X&page=" + fmt.Sprint(page+1)
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(g.srv.Close)
	return g.srv.URL
}

var graphToken = &oauth2.Token{AccessToken: "graph-token"}

func group(id, name string) map[string]string {
	return map[string]string{"@odata.type": "#microsoft.graph.group", "id": id, "displayName": name}
}

func TestEntra(t *testing.T) {
	pages := [][]map[string]string{
		{group("11111111-aaaa", "mlflow"), group("22222222-bbbb", "ml-team")},
		{group("33333333-cccc", "nested-child-of-ml-team")},
		{group("44444444-dddd", "")},
	}
	t.Run("every page, display names", func(t *testing.T) {
		g := &graph{pages: pages}
		got, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.NoError(t, err)
		assert.Equal(t, []string{"mlflow", "ml-team", "nested-child-of-ml-team", "44444444-dddd"}, got, "a group without a name by its id")
		assert.Equal(t, int32(3), g.calls.Load())
	})
	t.Run("ids", func(t *testing.T) {
		g := &graph{pages: pages}
		got, err := Entra(EntraConfig{GraphURL: g.start(t), IDs: true}).Groups(ctx, Input{Token: graphToken})
		require.NoError(t, err)
		assert.Equal(t, []string{"11111111-aaaa", "22222222-bbbb", "33333333-cccc", "44444444-dddd"}, got)
	})
	t.Run("empty list", func(t *testing.T) {
		g := &graph{pages: [][]map[string]string{{}}}
		got, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.NoError(t, err)
		assert.Empty(t, got)
	})
	t.Run("nextLink to another host is refused", func(t *testing.T) {
		g := &graph{pages: pages, nextHost: "https://evil.example.com"}
		_, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "groupdetect: entra: following @odata.nextLink (page 1): refused")
		assert.Equal(t, int32(1), g.calls.Load(), "the token never went to the other host")
	})
	t.Run("429 with Retry-After, then success", func(t *testing.T) {
		g := &graph{pages: pages[:1], throttle: 2, retryAfter: "0"}
		got, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.NoError(t, err)
		assert.Len(t, got, 2)
		assert.Equal(t, int32(3), g.calls.Load())
	})
	t.Run("429 past the retries", func(t *testing.T) {
		g := &graph{pages: pages[:1], throttle: 10, retryAfter: "0"}
		_, err := Entra(EntraConfig{GraphURL: g.start(t), Retries: 2}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "listing groups (page 1): HTTP 429")
		assert.Equal(t, int32(3), g.calls.Load())
	})
	t.Run("Retry-After longer than we wait", func(t *testing.T) {
		g := &graph{pages: pages[:1], throttle: 1, retryAfter: "120"}
		_, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Retry-After 2m0s is longer than 10s")
	})
	t.Run("5xx", func(t *testing.T) {
		g := &graph{pages: pages, fail: http.StatusServiceUnavailable}
		_, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		assert.EqualError(t, err, "groupdetect: entra: listing groups (page 1): HTTP 503")
	})
	t.Run("timeout", func(t *testing.T) {
		g := &graph{pages: pages, delay: 300 * time.Millisecond}
		_, err := Entra(EntraConfig{GraphURL: g.start(t), Timeout: 50 * time.Millisecond}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "groupdetect: entra: listing groups (page 1)")
	})
	t.Run("malformed JSON", func(t *testing.T) {
		g := &graph{body: `{"value": [`}
		_, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "groupdetect: entra: listing groups (page 1): malformed JSON")
	})
	t.Run("no value list", func(t *testing.T) {
		g := &graph{body: `{"error": {"code": "Authorization_RequestDenied"}}`}
		_, err := Entra(EntraConfig{GraphURL: g.start(t)}).Groups(ctx, Input{Token: graphToken})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `no "value" list`)
	})
	t.Run("no token", func(t *testing.T) {
		_, err := Entra(EntraConfig{}).Groups(ctx, Input{})
		assert.ErrorIs(t, err, ErrNoToken)
	})
}

// userinfo answers as Google's userinfo endpoint documents.
func userinfo(t *testing.T, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer google-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func writeMapping(t *testing.T, path, js string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(js), 0o600))
}

func TestGoogle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "groups.json")
	writeMapping(t, path, `{"emails": {"ada@example.com": ["mlflow-admin"]}, "domains": {"example.com": ["mlflow"]}}`)
	mapping, err := NewMapping(path, nil)
	require.NoError(t, err)
	tok := &oauth2.Token{AccessToken: "google-token"}
	tests := []struct {
		name string
		info string
		want []string
		err  string
	}{
		{"workspace admin", `{"sub":"1","email":"ada@example.com","email_verified":true,"hd":"example.com"}`, []string{"mlflow-admin", "mlflow"}, ""},
		{"workspace user", `{"sub":"2","email":"bo@example.com","email_verified":true,"hd":"example.com"}`, []string{"mlflow"}, ""},
		{"allowed email domain outside a workspace", `{"sub":"3","email":"cy@partner.org","email_verified":true}`, []string{}, ""},
		{"unverified email", `{"sub":"4","email":"ada@example.com","email_verified":false,"hd":"example.com"}`, nil, "the email is not verified"},
		{"no email_verified", `{"sub":"4","email":"ada@example.com","hd":"example.com"}`, nil, "the email is not verified"},
		{"any gmail account", `{"sub":"5","email":"someone@gmail.com","email_verified":true}`, nil, "neither its hosted domain nor its email domain is allowed"},
		{"malformed", `{"sub":`, nil, "groupdetect: google: calling userinfo: malformed JSON"},
		{"no email", `{"sub":"6"}`, nil, "no sub or email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Google(GoogleConfig{UserinfoURL: userinfo(t, tt.info), HostedDomains: []string{"Example.com"}, EmailDomains: []string{"partner.org"}, Mapping: mapping})
			require.NoError(t, err)
			got, err := p.Groups(ctx, Input{Token: tok})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err = Google(GoogleConfig{Mapping: mapping})
	assert.ErrorContains(t, err, "name the allowed hosted domains or email domains")
	_, err = Google(GoogleConfig{HostedDomains: []string{"example.com"}})
	assert.ErrorContains(t, err, "a mapping of accounts to groups is required")
	p, _ := Google(GoogleConfig{HostedDomains: []string{"example.com"}, Mapping: mapping})
	_, err = p.Groups(ctx, Input{})
	assert.ErrorIs(t, err, ErrNoToken)
}

func TestMappingReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "groups.json")
	writeMapping(t, path, `{"subjects": {"s1": ["mlflow"]}}`)
	m, err := NewMapping(path, nil)
	require.NoError(t, err)
	in := Input{Claims: map[string]any{"sub": "s1", "email": "Ada@Example.com", "email_verified": true}}
	got, err := m.Groups(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow"}, got)

	writeMapping(t, path, `{"subjects": {"s1": ["mlflow", "ops"]}, "emails": {"ada@example.com": ["mlflow-admin"]}}`)
	require.NoError(t, os.Chtimes(path, time.Now().Add(time.Minute), time.Now().Add(time.Minute)))
	got, err = m.Groups(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow", "ops", "mlflow-admin"}, got, "reloaded on change")

	unverified := Input{Claims: map[string]any{"sub": "other", "email": "ada@example.com", "email_verified": false}}
	got, err = m.Groups(ctx, unverified)
	require.NoError(t, err)
	assert.Empty(t, got, "an unverified email gets nothing")

	writeMapping(t, path, `{"subjects": `)
	require.NoError(t, os.Chtimes(path, time.Now().Add(2*time.Minute), time.Now().Add(2*time.Minute)))
	got, err = m.Groups(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow", "ops", "mlflow-admin"}, got, "a broken file keeps the last good mapping")

	bad := filepath.Join(t.TempDir(), "bad.json")
	writeMapping(t, bad, `{"users": {}}`)
	_, err = NewMapping(bad, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "groupdetect: mapping: parsing "+bad)
	_, err = NewMapping(filepath.Join(t.TempDir(), "missing.json"), nil)
	assert.ErrorContains(t, err, "groupdetect: mapping: reading")
}

func TestHTTPProvider(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		fmt.Fprint(w, `{"data": {"memberships": ["mlflow", "ml-team"]}}`)
	}))
	defer srv.Close()
	p, err := HTTP(HTTPConfig{URL: srv.URL + "/users/{email}/groups", ResponsePath: "data.memberships", ForwardToken: true, AllowHTTP: true})
	require.NoError(t, err)
	got, err := p.Groups(ctx, Input{Token: &oauth2.Token{AccessToken: "at"}, Claims: map[string]any{"email": "a/b@example.com"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow", "ml-team"}, got)
	assert.Equal(t, "/users/a%2Fb@example.com/groups", gotPath, "claims are escaped into the URL")
	assert.Equal(t, "Bearer at", gotAuth)

	p, err = HTTP(HTTPConfig{URL: srv.URL + "/x", AllowHTTP: true})
	require.NoError(t, err)
	_, err = p.Groups(ctx, Input{})
	assert.EqualError(t, err, "groupdetect: http: reading the answer: no groups in it")

	_, err = HTTP(HTTPConfig{URL: "http://directory.internal/groups"})
	assert.ErrorContains(t, err, "must be an https:// URL")
	_, err = HTTP(HTTPConfig{URL: "::"})
	assert.Error(t, err)
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	for _, name := range []string{"entra", EntraAlias, "okta", "cognito"} {
		_, err := r.Lookup(name)
		require.NoError(t, err, name)
	}
	mine := Func(func(context.Context, Input) ([]string, error) { return []string{"from-ldap"}, nil })
	r.Register("corp-ldap", mine)
	p, err := r.Lookup("corp-ldap")
	require.NoError(t, err)
	got, err := p.Groups(ctx, Input{})
	require.NoError(t, err)
	assert.Equal(t, []string{"from-ldap"}, got)
	_, err = r.Lookup("google_oidc_auth_plugin")
	require.Error(t, err)
	assert.Equal(t, `OIDC_GROUP_DETECTION_PLUGIN="google_oidc_auth_plugin": unknown group provider (known: cognito, corp-ldap, entra, mlflow_oidc_auth.plugins.group_detection_microsoft_entra_id, okta)`, err.Error())
}

func TestGate(t *testing.T) {
	def := Gate{}
	assert.Equal(t, Verdict{SignIn: true}, def.Check([]string{"x", "mlflow"}))
	assert.Equal(t, Verdict{SignIn: true, Admin: true}, def.Check([]string{"mlflow-admin"}))
	assert.Equal(t, Verdict{}, def.Check(nil))
	assert.Equal(t, Verdict{}, def.Check([]string{"MLflow"}), "names compare exactly")
	g := Gate{Allowed: ParseList(" data-science, ml-eng ,"), Admin: ParseList("platform")}
	assert.Equal(t, []string{"data-science", "ml-eng"}, g.Allowed)
	assert.Equal(t, Verdict{SignIn: true}, g.Check([]string{"ml-eng"}))
	assert.Equal(t, Verdict{SignIn: true, Admin: true}, g.Check([]string{"platform"}))
	assert.Equal(t, Verdict{}, g.Check([]string{"mlflow"}), "the defaults no longer apply")
	assert.Equal(t, "You are not in a group allowed to use MLflow (data-science, ml-eng, or platform for administrators). Ask an administrator to add you.", g.Refusal())
}

func TestCached(t *testing.T) {
	var calls atomic.Int32
	fail := false
	p := Func(func(context.Context, Input) ([]string, error) {
		calls.Add(1)
		if fail {
			return nil, errors.New("directory down")
		}
		return []string{"g"}, nil
	})
	c := Cached(p, time.Minute).(*cached)
	now := time.Now()
	c.now = func() time.Time { return now }
	in := Input{Claims: map[string]any{"iss": "https://idp", "sub": "u1"}}
	for range 3 {
		got, err := c.Groups(ctx, in)
		require.NoError(t, err)
		assert.Equal(t, []string{"g"}, got)
	}
	assert.Equal(t, int32(1), calls.Load())
	got, _ := c.Groups(ctx, in)
	got[0] = "changed"
	again, _ := c.Groups(ctx, in)
	assert.Equal(t, []string{"g"}, again, "callers get copies")

	now = now.Add(2 * time.Minute)
	fail = true
	_, err := c.Groups(ctx, in)
	assert.Error(t, err, "expired, and the error is not cached")
	fail = false
	_, err = c.Groups(ctx, in)
	require.NoError(t, err)
	_, err = c.Groups(ctx, Input{Claims: map[string]any{}})
	require.NoError(t, err)
	assert.Equal(t, int32(4), calls.Load(), "a token without sub is never cached")
	assert.True(t, strings.HasPrefix((&Error{Provider: "x", Step: "y", Err: errors.New("z")}).Error(), "groupdetect: x: y: z"))
}
