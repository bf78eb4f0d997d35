package gateway

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/permission"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.ListenAddr)
	assert.Equal(t, "http://127.0.0.1:5000", c.Upstream.String())
	assert.Equal(t, "sqlite:///auth.db", c.DatabaseURI)
	assert.Equal(t, permission.NoPermissions, c.Permissions.Default)
	assert.Equal(t, 366, c.AccessTokenMaxDays)
	assert.Empty(t, c.SCIMToken, "SCIM off unless a token exists")
	assert.False(t, c.SCIMDeleteRemoves, "a SCIM DELETE keeps grants by default")
	assert.Zero(t, c.SSORevalidateDays, "no revalidation unless asked")
	assert.False(t, c.OIDC.Enabled, "no SSO settings: basic and bearer only")
	assert.Equal(t, []string{"openid", "email", "profile"}, c.OIDC.Scopes)
	assert.True(t, c.OIDC.PKCE)
	assert.Equal(t, "session", c.Session.CookieName)
	assert.Equal(t, 14*24*time.Hour, c.Session.MaxAge)
	assert.Equal(t, http.SameSiteLaxMode, c.Session.SameSite)
	assert.False(t, c.Session.Secure)
	assert.Equal(t, "sql", c.Session.Type)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Empty(t, c.Warnings)
}

func TestFromEnvSSO(t *testing.T) {
	c, err := FromEnv(envOf(map[string]string{
		"OIDC_DISCOVERY_URL": "https://idp.example/.well-known/openid-configuration", "OIDC_CLIENT_ID": "mlflow",
		"OIDC_REDIRECT_URI": "https://mlflow.example/callback", "OIDC_SCOPE": "openid,email, groups",
		"OIDC_GROUP_NAME": "ml, ds", "OIDC_ADMIN_GROUP_NAME": "ml-admin", "SESSION_TYPE": "redis",
		"REDIS_HOST": "cache", "REDIS_PASSWORD": "pw", "REDIS_SSL": "true", "PERMANENT_SESSION_LIFETIME": "3600",
		"PERMISSION_SOURCE_ORDER": "group,user,regex,group-regex", "DEFAULT_MLFLOW_PERMISSION": "READ",
		"TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7", "CACHE_BACKEND": "redis", "OIDC_CODE_CHALLENGE": "none",
	}))
	require.NoError(t, err)
	assert.True(t, c.OIDC.Enabled)
	assert.Equal(t, []string{"openid", "email", "groups"}, c.OIDC.Scopes)
	assert.Equal(t, []string{"ml", "ds"}, c.OIDC.Gate.Allowed)
	assert.True(t, c.Session.Secure, "from OIDC_REDIRECT_URI's scheme")
	assert.Equal(t, time.Hour, c.Session.MaxAge, "the older name")
	assert.Equal(t, "rediss://:pw@cache:6379/0", c.RedisURL)
	assert.Equal(t, permission.Read, c.Permissions.Default)
	assert.Equal(t, permission.SourceGroup, c.Permissions.Order[0])
	assert.Len(t, c.TrustedProxies, 2)
	assert.Equal(t, "192.168.1.7/32", c.TrustedProxies[1].String())
	assert.False(t, c.OIDC.PKCE)
	assert.ElementsMatch(t, []string{"CACHE_BACKEND has no effect here", "OIDC_CODE_CHALLENGE=none: PKCE is off"}, c.Warnings)
}

func TestFromEnvSecretsFromFiles(t *testing.T) {
	f := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(f, []byte("s3cr3t-from-a-file\n"), 0o600))
	c, err := FromEnv(envOf(map[string]string{"SECRET_KEY_FILE": f}))
	require.NoError(t, err)
	assert.Equal(t, "s3cr3t-from-a-file", c.SecretKey, "the trailing newline is not part of it")
	_, err = FromEnv(envOf(map[string]string{"SECRET_KEY_FILE": f, "SECRET_KEY": "x"}))
	assert.ErrorContains(t, err, "SECRET_KEY")
	_, err = FromEnv(envOf(map[string]string{"SECRET_KEY_FILE": f + ".missing"}))
	assert.ErrorContains(t, err, "SECRET_KEY_FILE")
}

// Every bad value is a startup error naming its variable.
func TestFromEnvErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"MLFLOW_UPSTREAM_URL":        {"MLFLOW_UPSTREAM_URL": "localhost:5000"},
		"MLFLOW_UPSTREAM_PASSWORD":   {"MLFLOW_UPSTREAM_USERNAME": "gw"},
		"MLFLOW_AUTH_ADMIN_PASSWORD": {"MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": "password1234"},
		"DEFAULT_MLFLOW_PERMISSION":  {"DEFAULT_MLFLOW_PERMISSION": "ALL"},
		"PERMISSION_SOURCE_ORDER":    {"PERMISSION_SOURCE_ORDER": "user,everyone"},
		"RESTRICT_RESOURCE_CREATION": {"RESTRICT_RESOURCE_CREATION": "maybe"},
		"ACCESS_TOKEN_MAX_DAYS":      {"ACCESS_TOKEN_MAX_DAYS": "0"},
		"SCIM_TOKEN":                 {"SCIM_TOKEN": "short"},
		"SCIM_DELETE":                {"SCIM_DELETE": "purge"},
		"SSO_REVALIDATE_DAYS":        {"SSO_REVALIDATE_DAYS": "-1"},
		"MLFLOW_STATIC_PREFIX":       {"MLFLOW_STATIC_PREFIX": "mlflow/"},
		"TRUSTED_PROXIES":            {"TRUSTED_PROXIES": "10.0.0.0/33"},
		"LOG_LEVEL":                  {"LOG_LEVEL": "LOUD"},
		"OIDC_CLIENT_ID":             {"OIDC_DISCOVERY_URL": "https://idp.example", "OIDC_REDIRECT_URI": "https://m/callback"},
		"OIDC_REDIRECT_URI":          {"OIDC_DISCOVERY_URL": "https://idp.example", "OIDC_CLIENT_ID": "c"},
		"OIDC_CODE_CHALLENGE":        {"OIDC_CODE_CHALLENGE": "plain"},
		"OIDC_ISSUER": {"OIDC_AUTHORIZATION_URL": "https://idp/authorize", "OIDC_TOKEN_URL": "https://idp/token",
			"OIDC_USER_URL": "https://idp/userinfo", "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "https://m/callback"},
		"OIDC_JWKS_URL": {"OIDC_AUTHORIZATION_URL": "https://idp/authorize", "OIDC_TOKEN_URL": "https://idp/token",
			"OIDC_USER_URL": "https://idp/userinfo", "OIDC_ISSUER": "https://idp", "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "https://m/callback"},
		"MLFLOW_AUTH_CONFIG_PATH":        {"MLFLOW_AUTH_CONFIG_PATH": "/no/such/basic_auth.ini"},
		"OIDC_END_SESSION_URL":           {"OIDC_END_SESSION_URL": "mlflow.auth.eu-west-1.amazoncognito.com/logout"},
		"SESSION_COOKIE_SAMESITE":        {"SESSION_COOKIE_SAMESITE": "none"},
		"SESSION_TYPE":                   {"SESSION_TYPE": "mongodb"},
		"REDIS_URL":                      {"SESSION_TYPE": "redis"},
		"SESSION_COOKIE_MAX_AGE_SECONDS": {"SESSION_COOKIE_MAX_AGE_SECONDS": "-1"},
		"MLFLOW_ENABLE_WORKSPACES":       {"MLFLOW_ENABLE_WORKSPACES": "true"},
		"OIDC_USE_REFRESH_TOKEN":         {"OIDC_USE_REFRESH_TOKEN": "true"},
		"AUTH_PROVIDERS":                 {"AUTH_PROVIDERS": "okta,google"},
		"CONFIG_VAULT_ENABLED":           {"CONFIG_VAULT_ENABLED": "true"},
		"PROXY_ASSERTION_JWKS_URL":       {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion"},
		"PROXY_ASSERTION_ISSUER": {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion", "TRUSTED_PROXIES": "10.0.0.0/8",
			"PROXY_ASSERTION_JWKS_URL": "https://www.gstatic.com/iap/verify/public_key-jwk"},
		"PROXY_ASSERTION_AUDIENCE": {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion", "TRUSTED_PROXIES": "10.0.0.0/8",
			"PROXY_ASSERTION_JWKS_URL": "https://www.gstatic.com/iap/verify/public_key-jwk", "PROXY_ASSERTION_ISSUER": "https://cloud.google.com/iap"},
		"TRUSTED_PROXIES (with an assertion header)": {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion",
			"PROXY_ASSERTION_JWKS_URL": "https://www.gstatic.com/iap/verify/public_key-jwk", "PROXY_ASSERTION_ISSUER": "https://cloud.google.com/iap",
			"PROXY_ASSERTION_AUDIENCE": "/projects/1/global/backendServices/2"},
	} {
		_, err := FromEnv(envOf(env))
		require.ErrorIs(t, err, ErrConfig, name)
		assert.ErrorContains(t, err, strings.Fields(name)[0], "the error names the variable")
	}
}

// FuzzFromEnv: any values give a configuration or an error naming a
// variable, never a panic.
func FuzzFromEnv(f *testing.F) {
	f.Add("http://127.0.0.1:5000", "READ", "lax", "10.0.0.0/8", "sql", "openid email")
	f.Fuzz(func(t *testing.T, upstream, level, samesite, proxies, session, scope string) {
		c, err := FromEnv(envOf(map[string]string{"MLFLOW_UPSTREAM_URL": upstream, "DEFAULT_MLFLOW_PERMISSION": level,
			"SESSION_COOKIE_SAMESITE": samesite, "TRUSTED_PROXIES": proxies, "SESSION_TYPE": session, "OIDC_SCOPE": scope}))
		if err != nil {
			require.ErrorIs(t, err, ErrConfig)
			return
		}
		if c.Upstream == nil || c.Upstream.Host == "" {
			t.Fatalf("accepted upstream %q", upstream)
		}
	})
}

func writeINI(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "basic_auth.ini")
	require.NoError(t, os.WriteFile(f, []byte(text), 0o600))
	return f
}

// An MLflow basic_auth.ini applies where the environment is silent, and
// says so.
func TestFromEnvAuthINI(t *testing.T) {
	ini := writeINI(t, `# MLflow's basic auth
[mlflow]
default_permission = READ
database_uri = sqlite:///basic_auth.db
admin_username = root
admin_password: a-long-enough-secret
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
`)
	c, err := FromEnv(envOf(map[string]string{"MLFLOW_AUTH_CONFIG_PATH": ini}))
	require.NoError(t, err)
	assert.Equal(t, permission.Read, c.Permissions.Default)
	assert.Equal(t, "sqlite:///basic_auth.db", c.ImportDBURI)
	assert.Equal(t, "root", c.AdminUsername)
	assert.Equal(t, "a-long-enough-secret", c.AdminPassword)
	assert.Len(t, c.Notes, 3, "each value taken from the file is noted: %v", c.Notes)

	// The environment wins.
	c, err = FromEnv(envOf(map[string]string{"MLFLOW_AUTH_CONFIG_PATH": ini, "DEFAULT_MLFLOW_PERMISSION": "EDIT",
		"IMPORT_DB_URI": "sqlite:///other.db", "MLFLOW_AUTH_ADMIN_USERNAME": "ops", "MLFLOW_AUTH_ADMIN_PASSWORD": "another-long-secret"}))
	require.NoError(t, err)
	assert.Equal(t, permission.Edit, c.Permissions.Default)
	assert.Equal(t, "sqlite:///other.db", c.ImportDBURI)
	assert.Equal(t, "ops", c.AdminUsername)
	assert.Empty(t, c.Notes)

	// MLflow's shipped default password makes no admin, with a warning.
	c, err = FromEnv(envOf(map[string]string{"MLFLOW_AUTH_CONFIG_PATH": writeINI(t, "[mlflow]\nadmin_username = admin\nadmin_password = password1234\n")}))
	require.NoError(t, err)
	assert.Empty(t, c.AdminUsername)
	require.Len(t, c.Warnings, 1)
	assert.Contains(t, c.Warnings[0], "MLFLOW_AUTH_CONFIG_PATH")

	for name, text := range map[string]string{
		"a custom authorization function": "[mlflow]\nauthorization_function = mycompany.auth:check\n",
		"a bad permission":                "[mlflow]\ndefault_permission = ALL\n",
		"a key twice":                     "[mlflow]\ndefault_permission = READ\ndefault_permission = EDIT\n",
		"a continuation line":             "[mlflow]\ndatabase_uri = sqlite:///a.db\n  b.db\n",
		"no section":                      "# nothing here\n",
		"not key = value":                 "[mlflow]\njust words\n",
	} {
		_, err := FromEnv(envOf(map[string]string{"MLFLOW_AUTH_CONFIG_PATH": writeINI(t, text)}))
		require.ErrorIs(t, err, ErrConfig, name)
		assert.ErrorContains(t, err, "MLFLOW_AUTH_CONFIG_PATH", name)
	}
}

// FuzzParseINI: any file gives values or an error, never a panic, and a
// value never carries the line break or the separator's padding.
func FuzzParseINI(f *testing.F) {
	f.Add("[mlflow]\ndefault_permission = READ\nadmin_username: admin\n; comment\n")
	f.Add("[other]\nx=1\n[mlflow]\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := parseINI(strings.NewReader(text))
		if err != nil {
			return
		}
		for k, v := range m {
			if k != strings.ToLower(k) || strings.ContainsAny(v, "\n") || v != strings.TrimSpace(v) {
				t.Fatalf("%q = %q", k, v)
			}
		}
	})
}
