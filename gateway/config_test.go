package gateway

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
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
		"MLFLOW_STATIC_PREFIX":       {"MLFLOW_STATIC_PREFIX": "mlflow/"},
		"TRUSTED_PROXIES":            {"TRUSTED_PROXIES": "10.0.0.0/33"},
		"LOG_LEVEL":                  {"LOG_LEVEL": "LOUD"},
		"OIDC_CLIENT_ID":             {"OIDC_DISCOVERY_URL": "https://idp.example", "OIDC_REDIRECT_URI": "https://m/callback"},
		"OIDC_REDIRECT_URI":          {"OIDC_DISCOVERY_URL": "https://idp.example", "OIDC_CLIENT_ID": "c"},
		"OIDC_CODE_CHALLENGE":        {"OIDC_CODE_CHALLENGE": "plain"},
		"OIDC_ISSUER": {"OIDC_AUTHORIZATION_URL": "https://idp/authorize", "OIDC_TOKEN_URL": "https://idp/token",
			"OIDC_USER_URL": "https://idp/userinfo", "OIDC_CLIENT_ID": "c", "OIDC_REDIRECT_URI": "https://m/callback"},
		"SESSION_COOKIE_SAMESITE":        {"SESSION_COOKIE_SAMESITE": "none"},
		"SESSION_TYPE":                   {"SESSION_TYPE": "mongodb"},
		"REDIS_URL":                      {"SESSION_TYPE": "redis"},
		"SESSION_COOKIE_MAX_AGE_SECONDS": {"SESSION_COOKIE_MAX_AGE_SECONDS": "-1"},
		"MLFLOW_ENABLE_WORKSPACES":       {"MLFLOW_ENABLE_WORKSPACES": "true"},
		"OIDC_USE_REFRESH_TOKEN":         {"OIDC_USE_REFRESH_TOKEN": "true"},
		"AUTH_PROVIDERS":                 {"AUTH_PROVIDERS": "okta,google"},
		"CONFIG_VAULT_ENABLED":           {"CONFIG_VAULT_ENABLED": "true"},
		"PROXY_ASSERTION_JWKS_URL":       {"PROXY_ASSERTION_HEADER": "X-Goog-IAP-JWT-Assertion"},
	} {
		_, err := FromEnv(envOf(env))
		require.ErrorIs(t, err, ErrConfig, name)
		assert.ErrorContains(t, err, name, "the error names the variable")
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
