package admin_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/gatewaytest"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// env is a gateway serving the admin API, with an administrator (root),
// a manager of experiment 7 (bob) and a plain user (alice).
type env struct {
	t     *testing.T
	g     *gateway.Gateway
	d     *mlflowtest.Double
	url   string
	creds map[string]string // Basic username:secret by caller name
}

const rootPassword = "root-password-0001"

func newEnv(t *testing.T) *env {
	g, d := gatewaytest.New(t, gateway.Options{})
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	e := &env{t: t, g: g, d: d, url: srv.URL, creds: map[string]string{}}
	ctx := context.Background()
	hash, err := basic.HashPassword(rootPassword)
	require.NoError(t, err)
	_, err = g.Store().CreateUser(ctx, store.User{Username: "root", Admin: true, PasswordHash: hash})
	require.NoError(t, err)
	e.creds["root"] = "root:" + rootPassword
	e.creds["alice"] = "alice:" + gatewaytest.User(t, g, "alice")
	e.creds["bob"] = "bob:" + gatewaytest.User(t, g, "bob")
	require.NoError(t, g.Store().PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "7"},
		Principal: permission.ForUser("bob"), Level: permission.Manage}))
	return e
}

// do sends a request as caller (a name in creds, or "user:password") and
// returns the status and the decoded JSON answer.
func (e *env) do(caller, method, path string, query map[string]string, body any) (int, any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	u := e.url + path
	if len(query) > 0 {
		q := url.Values{}
		for k, v := range query {
			q.Set(k, v)
		}
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(e.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if caller != "" {
		cred, ok := e.creds[caller]
		if !ok {
			cred = caller
		}
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// at walks a dotted path into a JSON value; "#" is an array's length.
func at(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			if part == "#" {
				v = float64(len(x))
				continue
			}
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func TestAuthServiceClientFlows(t *testing.T) {
	b, err := os.ReadFile("testdata/auth_client_flows.json")
	require.NoError(t, err)
	var file struct {
		Flows []struct {
			Name  string `json:"name"`
			Steps []struct {
				Note   string            `json:"note"`
				As     string            `json:"as"`
				Method string            `json:"method"`
				Path   string            `json:"path"`
				Query  map[string]string `json:"query"`
				JSON   any               `json:"json"`
				Status int               `json:"status"`
				Expect map[string]any    `json:"expect"`
			} `json:"steps"`
		} `json:"flows"`
	}
	require.NoError(t, json.Unmarshal(b, &file))
	for _, f := range file.Flows {
		t.Run(f.Name, func(t *testing.T) {
			e := newEnv(t)
			for _, s := range f.Steps {
				status, body := e.do(s.As, s.Method, s.Path, s.Query, s.JSON)
				require.Equal(t, s.Status, status, "%s: %v", s.Note, body)
				for path, want := range s.Expect {
					got, ok := at(body, path)
					assert.True(t, ok, "%s: no %s in %v", s.Note, path, body)
					assert.Equal(t, want, got, "%s: %s", s.Note, path)
				}
			}
			grants, err := e.g.Store().ListGrants(context.Background(), store.GrantFilter{Principal: &permission.Principal{Kind: permission.ToUser, Name: "newuser"}})
			require.NoError(t, err)
			assert.Empty(t, grants, "a deleted user's grants do not come back with a new user of the name")
		})
	}
}

// Every route: who may call it. Permission comes before existence.
func TestWhoMayDoWhat(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		caller, method, path string
		query                map[string]string
		body                 map[string]any
		status               int
	}{
		{"alice", "POST", "/api/2.0/mlflow/users/create", nil, map[string]any{"username": "x", "password": "long-enough-pw-1"}, 403},
		{"alice", "GET", "/api/2.0/mlflow/users/get", map[string]string{"username": "bob"}, nil, 403},
		{"alice", "GET", "/api/2.0/mlflow/users/get", map[string]string{"username": "nobody"}, nil, 403},
		{"alice", "GET", "/api/2.0/mlflow/users/get", map[string]string{"username": "alice"}, nil, 200},
		{"alice", "GET", "/ajax-api/2.0/mlflow/users/get", map[string]string{"username": "alice"}, nil, 200},
		{"alice", "GET", "/api/2.0/mlflow/users/list", nil, nil, 403},
		{"root", "GET", "/api/2.0/mlflow/users/list", nil, nil, 200},
		{"alice", "GET", "/api/2.0/mlflow/users/current", nil, nil, 200},
		{"", "GET", "/api/2.0/mlflow/users/current", nil, nil, 401},
		{"alice", "PATCH", "/api/2.0/mlflow/users/update-admin", nil, map[string]any{"username": "alice", "is_admin": true}, 403},
		{"alice", "DELETE", "/api/2.0/mlflow/users/delete", nil, map[string]any{"username": "bob"}, 403},
		{"alice", "PATCH", "/api/2.0/mlflow/users/update-password", nil, map[string]any{"username": "bob", "password": "long-enough-pw-1"}, 403},
		// bob manages experiment 7, and only it.
		{"bob", "POST", "/api/2.0/mlflow/experiments/permissions/create", nil, map[string]any{"experiment_id": "7", "username": "alice", "permission": "READ"}, 200},
		{"bob", "GET", "/api/2.0/mlflow/experiments/permissions/get", map[string]string{"experiment_id": "7", "username": "alice"}, nil, 200},
		{"bob", "POST", "/api/2.0/mlflow/experiments/permissions/create", nil, map[string]any{"experiment_id": "1", "username": "alice", "permission": "READ"}, 403},
		{"bob", "GET", "/api/2.0/mlflow/experiments/permissions/get", map[string]string{"experiment_id": "1", "username": "nobody"}, nil, 403},
		{"alice", "PATCH", "/api/2.0/mlflow/experiments/permissions/update", nil, map[string]any{"experiment_id": "7", "username": "alice", "permission": "MANAGE"}, 403},
		{"bob", "POST", "/api/3.0/mlflow/scorers/permissions/create", nil, map[string]any{"experiment_id": "7", "scorer_name": "s", "username": "alice", "permission": "READ"}, 200},
		{"bob", "POST", "/api/2.0/mlflow/registered-models/permissions/create", nil, map[string]any{"name": "m", "username": "alice", "permission": "READ"}, 403},
		{"root", "POST", "/api/3.0/mlflow/gateway/secrets/permissions/create", nil, map[string]any{"secret_id": "sec-1", "username": "alice", "permission": "USE"}, 200},
		{"bob", "GET", "/api/3.0/mlflow/gateway/secrets/permissions/get", map[string]string{"secret_id": "sec-1", "username": "alice"}, nil, 403},
		// 3.13's shapes.
		{"bob", "POST", "/api/3.0/mlflow/users/permissions/grant", nil, map[string]any{"username": "alice", "resource_type": "experiment", "resource_id": "7", "permission": "EDIT"}, 400},
		{"bob", "POST", "/api/3.0/mlflow/users/permissions/revoke", nil, map[string]any{"username": "alice", "resource_type": "experiment", "resource_id": "7"}, 200},
		{"bob", "POST", "/ajax-api/3.0/mlflow/users/permissions/grant", nil, map[string]any{"username": "alice", "resource_type": "experiment", "resource_id": "7", "permission": "EDIT"}, 200},
		{"alice", "POST", "/api/3.0/mlflow/users/permissions/grant", nil, map[string]any{"username": "alice", "resource_type": "experiment", "resource_id": "1", "permission": "MANAGE"}, 403},
		{"root", "POST", "/api/3.0/mlflow/users/permissions/grant", nil, map[string]any{"username": "alice", "resource_type": "workspace", "resource_id": "w", "permission": "READ"}, 400},
		{"alice", "GET", "/api/3.0/mlflow/users/permissions/get", map[string]string{"username": "bob", "resource_type": "experiment", "resource_id": "7"}, nil, 403},
		{"alice", "GET", "/api/3.0/mlflow/users/permissions/list", map[string]string{"username": "bob"}, nil, 403},
		{"alice", "GET", "/api/3.0/mlflow/users/current/permissions", nil, nil, 200},
		{"root", "POST", "/api/3.0/mlflow/roles/create", nil, map[string]any{"name": "r", "workspace": "default"}, 404},
		{"root", "GET", "/signup", nil, nil, 200},
		{"alice", "GET", "/signup", nil, nil, 403},
		// mlflow-oidc-auth's users router.
		{"alice", "GET", "/api/2.0/mlflow/users", nil, nil, 200},
		{"alice", "POST", "/api/2.0/mlflow/users", nil, map[string]any{"username": "svc-ci", "is_service_account": true}, 403},
		{"root", "POST", "/api/2.0/mlflow/users", nil, map[string]any{"username": "svc-ci", "is_service_account": true}, 201},
		{"root", "POST", "/api/2.0/mlflow/users", nil, map[string]any{"username": "svc-ci", "is_service_account": true}, 200},
		{"alice", "GET", "/api/2.0/mlflow/users/bob", nil, nil, 403},
		{"root", "GET", "/api/2.0/mlflow/users/bob", nil, nil, 200},
		{"root", "GET", "/api/2.0/mlflow/users/nobody", nil, nil, 404},
		// Ours.
		{"alice", "GET", "/api/2.0/mlflowauth/tokens", map[string]string{"username": "bob"}, nil, 403},
		{"alice", "GET", "/api/2.0/mlflowauth/audit", nil, nil, 403},
		{"root", "GET", "/api/2.0/mlflowauth/audit", nil, nil, 200},
		{"alice", "GET", "/api/2.0/mlflowauth/explain", map[string]string{"username": "bob", "resource_type": "experiment", "resource_id": "7"}, nil, 403},
	} {
		var body any
		if c.body != nil {
			body = c.body
		}
		status, out := e.do(c.caller, c.method, c.path, c.query, body)
		assert.Equal(t, c.status, status, "%s %s %s %v: %v", c.caller, c.method, c.path, c.query, out)
		if status == 403 && c.path != "/signup" { // an HTML page
			msg, _ := at(out, "message")
			assert.Regexp(t, `^Permission denied\. \S`, msg, "MLflow's words, then why")
		}
	}
	// The answers of the 3.13 routes.
	_, out := e.do("alice", "GET", "/api/3.0/mlflow/users/permissions/get", map[string]string{"username": "alice", "resource_type": "experiment", "resource_id": "7"}, nil)
	assert.Equal(t, map[string]any{"allowed": true, "permission": "EDIT"}, out)
	_, out = e.do("alice", "GET", "/api/3.0/mlflow/users/permissions/get", map[string]string{"username": "alice", "resource_type": "experiment", "resource_id": "999"}, nil)
	assert.Equal(t, map[string]any{"allowed": false, "permission": "NO_PERMISSIONS"}, out, "the default, for what has no grant")
	_, out = e.do("root", "GET", "/api/3.0/mlflow/users/permissions/list", map[string]string{"username": "alice"}, nil)
	rows, _ := at(out, "permissions")
	assert.Contains(t, rows, map[string]any{"role_id": float64(0), "role_name": fmt.Sprintf("__user_%v__", mustID(t, e, "alice")), "workspace": "default",
		"resource_type": "scorer", "resource_pattern": "7/s", "permission": "READ"})
	_, out = e.do("alice", "GET", "/api/2.0/mlflow/users", map[string]string{"service": "true"}, nil)
	assert.Equal(t, []any{"svc-ci"}, out)
	_, out = e.do("alice", "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, "alice", mustAt(t, out, "username"), "mlflow-oidc-auth's shape")
	assert.Equal(t, "alice", mustAt(t, out, "user.username"), "and MLflow's")
	_, out = e.do("alice", "GET", "/api/2.0/mlflowauth/explain", map[string]string{"resource_type": "experiment", "resource_id": "7"}, nil)
	assert.Equal(t, "EDIT", mustAt(t, out, "permission"))
	assert.Equal(t, "user", mustAt(t, out, "source"))
}

func mustAt(t *testing.T, v any, path string) any {
	t.Helper()
	got, ok := at(v, path)
	require.True(t, ok, "no %s in %v", path, v)
	return got
}

func mustID(t *testing.T, e *env, name string) int64 {
	u, err := e.g.Store().GetUser(context.Background(), name)
	require.NoError(t, err)
	return u.ID
}

// Bad requests get MLflow's errors, and nothing is written.
func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	post := func(path, contentType, body string) (int, any) {
		req, err := http.NewRequest("POST", e.url+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", contentType)
		req.SetBasicAuth("root", rootPassword)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	for name, c := range map[string]struct {
		contentType, body string
		status            int
		code              string
	}{
		"a form":            {"application/x-www-form-urlencoded", "username=x&password=long-enough-pw-1", 400, "BAD_REQUEST"},
		"not JSON":          {"application/json", "{username", 400, "INVALID_PARAMETER_VALUE"},
		"a field twice":     {"application/json", `{"username":"x","username":"y","password":"long-enough-pw-1"}`, 400, "INVALID_PARAMETER_VALUE"},
		"a short password":  {"application/json", `{"username":"x","password":"short"}`, 400, "INVALID_PARAMETER_VALUE"},
		"MLflow's default":  {"application/json", `{"username":"x","password":"password1234"}`, 400, "INVALID_PARAMETER_VALUE"},
		"no username":       {"application/json", `{"password":"long-enough-pw-1"}`, 400, "INVALID_PARAMETER_VALUE"},
		"a number for name": {"application/json", `{"username":{"a":1},"password":"long-enough-pw-1"}`, 400, "INVALID_PARAMETER_VALUE"},
	} {
		status, out := post("/api/2.0/mlflow/users/create", c.contentType, c.body)
		assert.Equal(t, c.status, status, name)
		assert.Equal(t, c.code, mustAt(t, out, "error_code"), name)
	}
	_, err := e.g.Store().GetUser(context.Background(), "x")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")

	// The last active administrator stays one.
	status, out := e.do("root", "PATCH", "/api/2.0/mlflow/users/update-admin", nil, map[string]any{"username": "root", "is_admin": false})
	assert.Equal(t, 400, status)
	assert.Contains(t, mustAt(t, out, "message"), "last active administrator")
	status, _ = e.do("root", "DELETE", "/api/2.0/mlflow/users/delete", map[string]string{"username": "root"}, nil)
	assert.Equal(t, 400, status, "DELETE with its fields in the query, refused all the same")
	status, _ = e.do("root", "GET", "/api/2.0/mlflow/users/create", nil, nil)
	assert.Equal(t, 405, status)

	// Changing one's own password needs the current one.
	hash, err := basic.HashPassword("alice-password-0001")
	require.NoError(t, err)
	_, err = e.g.Store().UpdateUser(context.Background(), "alice", store.UserChange{PasswordHash: &hash})
	require.NoError(t, err)
	status, out = e.do("alice:alice-password-0001", "PATCH", "/api/2.0/mlflow/users/update-password", nil, map[string]any{"username": "alice", "password": "alice-password-0002"})
	assert.Equal(t, 400, status)
	assert.Equal(t, "Current password is required when changing your own password.", mustAt(t, out, "message"))
	status, out = e.do("alice:alice-password-0001", "PATCH", "/api/2.0/mlflow/users/update-password", nil, map[string]any{"username": "alice", "password": "alice-password-0002", "current_password": "wrong"})
	assert.Equal(t, 400, status)
	assert.Equal(t, "Current password does not match.", mustAt(t, out, "message"))
	status, _ = e.do("alice:alice-password-0001", "PATCH", "/api/2.0/mlflow/users/update-password", nil, map[string]any{"username": "alice", "password": "alice-password-0002", "current_password": "alice-password-0001"})
	assert.Equal(t, 200, status)
	status, _ = e.do("alice:alice-password-0002", "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, 200, status, "the new password works at once")
	status, _ = e.do("alice:alice-password-0001", "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, 401, status, "and the old one no longer")
}

// Tokens: mlflow-oidc-auth's access-token, and named tokens.
func TestTokens(t *testing.T) {
	e := newEnv(t)
	status, out := e.do("alice", "PATCH", "/api/2.0/mlflow/users/access-token", nil, map[string]any{})
	require.Equal(t, 200, status, "%v", out)
	first := mustAt(t, out, "token").(string)
	assert.Equal(t, "Token for alice has been created", mustAt(t, out, "message"))
	status, _ = e.do("alice:"+first, "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, 200, status, "the token signs alice in")
	status, out = e.do("alice:"+first, "PATCH", "/api/2.0/mlflow/users/access-token", nil, map[string]any{"expiration": "2099-01-01"})
	assert.Equal(t, 400, status, "more than ACCESS_TOKEN_MAX_DAYS ahead: %v", out)
	status, out = e.do("alice:"+first, "PATCH", "/api/2.0/mlflow/users/access-token", nil, nil)
	require.Equal(t, 200, status, "no body at all: %v", out)
	second := mustAt(t, out, "token").(string)
	status, _ = e.do("alice:"+first, "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, 401, status, "a new access token replaces the one before")
	status, _ = e.do("alice:"+second, "GET", "/api/2.0/mlflow/users/current", nil, nil)
	assert.Equal(t, 200, status)
	status, _ = e.do("alice", "PATCH", "/api/2.0/mlflow/users/access-token", nil, map[string]any{"username": "bob"})
	assert.Equal(t, 403, status, "another user's token needs an admin")
	status, _ = e.do("root", "PATCH", "/api/2.0/mlflow/users/access-token", nil, map[string]any{"username": "nobody"})
	assert.Equal(t, 404, status)

	// Named tokens: made, listed without secrets, revoked.
	status, out = e.do("alice", "POST", "/api/2.0/mlflowauth/tokens", nil, map[string]any{"name": "laptop", "expires_in_days": 30})
	require.Equal(t, 200, status, "%v", out)
	secret := mustAt(t, out, "secret").(string)
	id := mustAt(t, out, "token.id").(float64)
	status, _ = e.do("alice", "POST", "/api/2.0/mlflowauth/tokens", nil, map[string]any{"name": "laptop"})
	assert.Equal(t, 400, status, "one live token of a name")
	status, out = e.do("alice", "GET", "/api/2.0/mlflowauth/tokens", nil, nil)
	require.Equal(t, 200, status)
	b, _ := json.Marshal(out)
	assert.NotContains(t, string(b), secret, "no secret in the listing")
	assert.Contains(t, string(b), `"name":"laptop"`)
	status, _ = e.do("alice:"+secret, "GET", "/api/2.0/mlflow/experiments/get", map[string]string{"experiment_id": "1"}, nil)
	assert.Equal(t, 200, status, "the named token reaches MLflow")
	status, _ = e.do("bob", "DELETE", "/api/2.0/mlflowauth/tokens", nil, map[string]any{"id": id})
	assert.Equal(t, 404, status, "bob has no such token; alice's is not his to revoke")
	status, _ = e.do("alice", "DELETE", "/api/2.0/mlflowauth/tokens", nil, map[string]any{"id": id})
	assert.Equal(t, 200, status)
	status, _ = e.do("alice:"+secret, "GET", "/api/2.0/mlflow/experiments/get", map[string]string{"experiment_id": "1"}, nil)
	assert.Equal(t, 401, status, "revoked at once")
	status, out = e.do("alice", "POST", "/api/2.0/mlflowauth/sessions/revoke-all", nil, map[string]any{})
	assert.Equal(t, 200, status)
	assert.Equal(t, float64(0), mustAt(t, out, "revoked"))

	// The audit trail has it all, and no secret.
	_, out = e.do("root", "GET", "/api/2.0/mlflowauth/audit", nil, nil)
	b, _ = json.Marshal(out)
	for _, action := range []string{"token.create", "token.revoke", "sessions.revoke"} {
		assert.Contains(t, string(b), action)
	}
	for _, s := range []string{first, second, secret} {
		assert.NotContains(t, string(b), s)
	}
}

// mlflow-oidc-auth's permission routers: per-user and per-group grants,
// who holds a resource, groups, and regex rules.
func TestOIDCAuthPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.d.AddExperiment("2", "team-a/forecast")
	const p = "/api/2.0/mlflow/permissions/"
	perm := func(l string) map[string]any { return map[string]any{"permission": l} }

	status, out := e.do("root", "POST", p+"users/alice/experiments/7", nil, perm("READ"))
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, map[string]any{"name": "7", "id": "7", "permission": "READ", "kind": "user"}, out)
	status, _ = e.do("root", "POST", p+"users/alice/experiments/7", nil, perm("READ"))
	assert.Equal(t, 400, status, "already there")
	status, _ = e.do("bob", "PATCH", p+"users/alice/experiments/7", nil, perm("EDIT"))
	assert.Equal(t, 200, status, "bob manages experiment 7")
	status, _ = e.do("alice", "PATCH", p+"users/alice/experiments/7", nil, perm("MANAGE"))
	assert.Equal(t, 403, status)
	status, _ = e.do("bob", "POST", p+"users/nobody/experiments/7", nil, perm("READ"))
	assert.Equal(t, 404, status)
	status, _ = e.do("alice", "POST", p+"users/nobody/experiments/7", nil, perm("READ"))
	assert.Equal(t, 403, status, "permission before existence")
	_, out = e.do("bob", "GET", "/ajax-api/2.0/mlflow/permissions/users/alice/experiments/7", nil, nil)
	assert.Equal(t, "EDIT", mustAt(t, out, "permission"))

	_, out = e.do("bob", "GET", p+"experiments/7/users", nil, nil)
	assert.ElementsMatch(t, []any{
		map[string]any{"name": "alice", "permission": "EDIT", "kind": "user"},
		map[string]any{"name": "bob", "permission": "MANAGE", "kind": "user"},
	}, out)
	status, _ = e.do("alice", "GET", p+"experiments/7/users", nil, nil)
	assert.Equal(t, 403, status, "for the resource's managers")
	_, out = e.do("bob", "GET", p+"users/alice/experiments", nil, nil)
	assert.Equal(t, []any{map[string]any{"name": "7", "id": "7", "permission": "EDIT", "kind": "user"}}, out, "only what bob manages")
	_, out = e.do("alice", "GET", p+"users/alice/experiments", nil, nil)
	assert.Len(t, out, 2, "alice sees all of hers: %v", out)

	// Groups: a grant to team-a reaches alice through her stored membership.
	require.NoError(t, e.g.Store().SetUserGroups(ctx, "alice", []string{"team-a"}))
	assert.Equal(t, 403, e.statusOf("alice", "/api/2.0/mlflow/experiments/get?experiment_id=2"))
	status, _ = e.do("root", "POST", p+"groups/team-a/experiments/2", nil, perm("READ"))
	assert.Equal(t, 201, status)
	assert.Equal(t, 200, e.statusOf("alice", "/api/2.0/mlflow/experiments/get?experiment_id=2"), "the group's grant applies at once")
	_, out = e.do("root", "GET", "/api/2.0/mlflowauth/explain", map[string]string{"username": "alice", "resource_type": "experiment", "resource_id": "2"}, nil)
	assert.Equal(t, "group", mustAt(t, out, "source"))
	assert.Equal(t, "team-a", mustAt(t, out, "group"), "which group's grant decided")
	_, out = e.do("root", "GET", p+"experiments/2/groups", nil, nil)
	assert.Equal(t, []any{map[string]any{"name": "team-a", "permission": "READ"}}, out)
	_, out = e.do("alice", "GET", p+"groups", nil, nil)
	assert.Contains(t, out, "team-a")
	_, out = e.do("root", "GET", p+"groups/team-a/users", nil, nil)
	assert.Equal(t, []any{"alice"}, out)
	status, _ = e.do("alice", "GET", p+"groups/team-a/users", nil, nil)
	assert.Equal(t, 403, status)
	_, out = e.do("alice", "GET", p+"groups/team-a/experiments", nil, nil)
	assert.Len(t, out, 1, "a member sees the group's grants")
	status, _ = e.do("root", "DELETE", p+"groups/team-a/experiments/2", nil, nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, 403, e.statusOf("alice", "/api/2.0/mlflow/experiments/get?experiment_id=2"))

	// Regex rules: admins only, checked before they are saved.
	rule := map[string]any{"regex": "^team-a/", "priority": 1, "permission": "READ"}
	status, _ = e.do("bob", "POST", p+"groups/team-a/experiment-patterns", nil, rule)
	assert.Equal(t, 403, status)
	status, out = e.do("root", "POST", p+"groups/team-a/experiment-patterns", nil, rule)
	require.Equal(t, 201, status, "%v", out)
	id := fmt.Sprint(mustAt(t, out, "id"))
	assert.Equal(t, 200, e.statusOf("alice", "/api/2.0/mlflow/experiments/get?experiment_id=2"), "team-a/forecast matches ^team-a/")
	_, out = e.do("alice", "GET", "/api/2.0/mlflowauth/explain", map[string]string{"resource_type": "experiment", "resource_id": "2", "resource_name": "team-a/forecast"}, nil)
	assert.Equal(t, "^team-a/", mustAt(t, out, "rule.pattern"), "the rule that decided: %v", out)
	status, out = e.do("root", "POST", p+"groups/team-a/experiment-patterns", nil, map[string]any{"regex": "(?<=x)y", "priority": 2, "permission": "READ"})
	assert.Equal(t, 400, status, "lookbehind cannot be compiled: %v", out)
	_, out = e.do("root", "GET", p+"groups/team-a/experiment-patterns", nil, nil)
	assert.Len(t, out, 1)
	status, out = e.do("root", "PATCH", p+"groups/team-a/experiment-patterns/"+id, nil, map[string]any{"priority": 5})
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, float64(5), mustAt(t, out, "priority"))
	assert.Equal(t, "^team-a/", mustAt(t, out, "regex"), "what was not sent stays")
	status, _ = e.do("root", "DELETE", p+"groups/team-a/experiment-patterns/"+id, nil, nil)
	assert.Equal(t, 200, status)
	status, _ = e.do("root", "GET", p+"groups/team-a/experiment-patterns/"+id, nil, nil)
	assert.Equal(t, 404, status)
	assert.Equal(t, 403, e.statusOf("alice", "/api/2.0/mlflow/experiments/get?experiment_id=2"))

	status, out = e.do("root", "GET", p+"gateways/endpoints", nil, nil)
	assert.Equal(t, 200, status)
	assert.Equal(t, []any{}, out, "root holds no endpoint grant of their own")
	status, _ = e.do("root", "GET", p+"nonsense/x", nil, nil)
	assert.Equal(t, 404, status)
}

func (e *env) statusOf(caller, path string) int {
	e.t.Helper()
	u, err := url.Parse(path)
	require.NoError(e.t, err)
	q := map[string]string{}
	for k, v := range u.Query() {
		q[k] = v[0]
	}
	status, _ := e.do(caller, "GET", u.Path, q, nil)
	return status
}

// Gateway objects by name, resolved to the ids grants are kept by (the
// double knows endpoint chat = ep-1, secret openai-key = sec-1, model
// definition gpt = md-1).
func TestGatewayObjectsByName(t *testing.T) {
	e := newEnv(t)
	const p = "/api/2.0/mlflow/permissions/"
	status, out := e.do("root", "POST", p+"users/alice/gateways/endpoints/chat", nil, map[string]any{"permission": "USE"})
	require.Equal(t, 201, status, "%v", out)
	assert.Equal(t, map[string]any{"name": "chat", "id": "ep-1", "permission": "USE", "kind": "user"}, out)
	g, err := e.g.Store().GetGrant(context.Background(), permission.Resource{Kind: permission.GatewayEndpoint, ID: "ep-1"}, permission.ForUser("alice"))
	require.NoError(t, err, "kept by id")
	assert.Equal(t, permission.Use, g.Level)
	status, _ = e.do("root", "POST", p+"groups/team-a/gateways/secrets/openai-key", nil, map[string]any{"permission": "READ"})
	assert.Equal(t, 201, status)
	_, out = e.do("root", "GET", p+"gateways/secrets/openai-key/groups", nil, nil)
	assert.Equal(t, []any{map[string]any{"name": "team-a", "permission": "READ"}}, out)
	status, _ = e.do("root", "POST", p+"users/alice/gateways/model-definitions/gpt", nil, map[string]any{"permission": "EDIT"})
	assert.Equal(t, 201, status)
	status, _ = e.do("root", "GET", p+"users/alice/gateways/endpoints/no-such", nil, nil)
	assert.Equal(t, 404, status, "an admin learns it does not exist")
	status, _ = e.do("bob", "GET", p+"users/alice/gateways/endpoints/no-such", nil, nil)
	assert.Equal(t, 403, status, "anyone else is refused, existing or not")
	status, _ = e.do("bob", "GET", p+"users/alice/gateways/endpoints/chat", nil, nil)
	assert.Equal(t, 403, status)
	status, out = e.do("root", "POST", p+"users/alice/gateways/endpoints-patterns", nil, map[string]any{"regex": "^team-a-", "priority": 1, "permission": "USE"})
	assert.Equal(t, 201, status, "%v", out)
	e.d.Down.Store(true)
	status, _ = e.do("root", "GET", p+"users/alice/gateways/secrets/team-b-key", nil, nil)
	assert.Equal(t, 503, status, "MLflow down: try again, not \"no such object\"")
}

// Each kind of MLflow's per-resource permission routes, the whole cycle:
// create, get, update, get, delete, and the 404s after.
func TestPermissionRoutesEachKind(t *testing.T) {
	e := newEnv(t)
	for _, k := range []struct {
		route, key string
		ids        map[string]string
	}{
		{"/api/2.0/mlflow/experiments/permissions/", "experiment_permission", map[string]string{"experiment_id": "42"}},
		{"/api/2.0/mlflow/registered-models/permissions/", "registered_model_permission", map[string]string{"name": "churn-model"}},
		{"/api/3.0/mlflow/scorers/permissions/", "scorer_permission", map[string]string{"experiment_id": "42", "scorer_name": "relevance"}},
		{"/api/3.0/mlflow/gateway/secrets/permissions/", "gateway_secret_permission", map[string]string{"secret_id": "sec-1"}},
		{"/api/3.0/mlflow/gateway/endpoints/permissions/", "gateway_endpoint_permission", map[string]string{"endpoint_id": "ep-1"}},
		{"/api/3.0/mlflow/gateway/model-definitions/permissions/", "gateway_model_definition_permission", map[string]string{"model_definition_id": "md-1"}},
	} {
		body := func(extra map[string]any) map[string]any {
			m := map[string]any{"username": "alice"}
			for f, v := range k.ids {
				m[f] = v
			}
			for f, v := range extra {
				m[f] = v
			}
			return m
		}
		query := map[string]string{"username": "alice"}
		for f, v := range k.ids {
			query[f] = v
		}
		status, out := e.do("root", "POST", k.route+"create", nil, body(map[string]any{"permission": "READ"}))
		require.Equal(t, 200, status, "%s: %v", k.route, out)
		for f, v := range k.ids {
			assert.Equal(t, v, mustAt(t, out, k.key+"."+f), k.route)
		}
		assert.Equal(t, float64(mustID(t, e, "alice")), mustAt(t, out, k.key+".user_id"), k.route)
		status, _ = e.do("root", "PATCH", k.route+"update", nil, body(map[string]any{"permission": "MANAGE"}))
		assert.Equal(t, 200, status, k.route)
		_, out = e.do("root", "GET", k.route+"get", query, nil)
		assert.Equal(t, "MANAGE", mustAt(t, out, k.key+".permission"), k.route)
		status, _ = e.do("alice", "GET", k.route+"get", query, nil)
		assert.Equal(t, 200, status, "%s: alice manages it now, so she may look", k.route)
		status, _ = e.do("root", "DELETE", k.route+"delete", nil, body(nil))
		assert.Equal(t, 200, status, k.route)
		status, out = e.do("root", "GET", k.route+"get", query, nil)
		assert.Equal(t, 404, status, k.route)
		assert.Equal(t, "RESOURCE_DOES_NOT_EXIST", mustAt(t, out, "error_code"), k.route)
		status, _ = e.do("root", "PATCH", k.route+"update", nil, body(map[string]any{"permission": "READ"}))
		assert.Equal(t, 404, status, "%s: nothing to update", k.route)
		status, _ = e.do("root", "DELETE", k.route+"delete", query, nil)
		assert.Equal(t, 404, status, "%s: nothing to delete (fields in the query)", k.route)
		status, _ = e.do("alice", "GET", k.route+"get", query, nil)
		assert.Equal(t, 403, status, "%s: no longer hers to look at", k.route)
	}
	// The users list and mlflow-oidc-auth's DELETE /users.
	_, out := e.do("root", "GET", "/api/2.0/mlflow/users/list", nil, nil)
	assert.Len(t, mustAt(t, out, "users"), 3)
	status, _ := e.do("root", "DELETE", "/api/2.0/mlflow/users", nil, map[string]any{"username": "bob"})
	assert.Equal(t, 200, status)
	_, out = e.do("root", "GET", "/api/2.0/mlflow/users/list", nil, nil)
	assert.Len(t, mustAt(t, out, "users"), 2)
}
