package gateway

import (
	"context"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/oidc"
)

func TestSSOSettings(t *testing.T) {
	c, err := FromEnv(envOf(map[string]string{
		"OIDC_DISCOVERY_URL": "https://idp.example", "OIDC_CLIENT_ID": "mlflow", "OIDC_REDIRECT_URI": "https://m.example/callback",
		"SESSION_COOKIE_NAME": "mlsess", "SESSION_COOKIE_MAX_AGE_SECONDS": "7200", "SESSION_COOKIE_SAMESITE": "strict",
		"OIDC_PROVIDER_DISPLAY_NAME": "Sign in with Okta", "AUTOMATIC_LOGIN_REDIRECT": "true", "OIDC_GROUPS_ATTRIBUTE": "urn:mlflow:groups",
	}))
	require.NoError(t, err)
	sc := c.SessionsConfig(memstore.New(), nil)
	assert.Equal(t, "mlsess", sc.CookieName)
	assert.True(t, sc.Secure, "from the https redirect URI")
	assert.Equal(t, http.SameSiteStrictMode, sc.SameSite)
	assert.Equal(t, "2h0m0s", sc.Lifetime.String())

	p, err := c.GroupProvider(nil)
	require.NoError(t, err)
	groups, err := p.Groups(context.Background(), groupdetect.Input{Claims: map[string]any{"urn:mlflow:groups": []any{"mlflow"}}})
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow"}, groups, "OIDC_GROUPS_ATTRIBUTE is read")

	oc := c.SignInConfig(memstore.New(), oidc.SignInFunc(nil), nil)
	assert.Equal(t, "Sign in with Okta", oc.ProviderName)
	assert.True(t, oc.AutoRedirect)
	assert.False(t, oc.DisablePKCE)
	assert.Equal(t, []string{"openid", "email", "profile"}, oc.Scopes)

	c.OIDC.GroupDetectionPlugin = "no-such-plugin"
	_, err = c.GroupProvider(nil)
	assert.ErrorIs(t, err, ErrConfig)
	assert.ErrorContains(t, err, "OIDC_GROUP_DETECTION_PLUGIN")
	c.OIDC.GroupDetectionPlugin = groupdetect.EntraAlias
	_, err = c.GroupProvider(nil)
	assert.NoError(t, err, "mlflow-oidc-auth's plugin name")
}
