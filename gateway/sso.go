package gateway

import (
	"fmt"
	"log/slog"

	"github.com/alexedwards/scs/v2"

	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/oidc"
)

// SessionsConfig is the browser sessions' configuration from c: the
// SESSION_COOKIE_* settings on the given session store and index.
func (c *Config) SessionsConfig(store scs.Store, index oidc.SessionIndex) oidc.SessionsConfig {
	return oidc.SessionsConfig{Store: store, Index: index, Lifetime: c.Session.MaxAge,
		CookieName: c.Session.CookieName, Secure: c.Session.Secure, SameSite: c.Session.SameSite}
}

// GroupProvider is where sign-in reads groups: the plugin named by
// OIDC_GROUP_DETECTION_PLUGIN from registry (groupdetect.NewRegistry()
// when nil), else the ID token's OIDC_GROUPS_ATTRIBUTE claim.
func (c *Config) GroupProvider(registry *groupdetect.Registry) (groupdetect.Provider, error) {
	if c.OIDC.GroupDetectionPlugin == "" {
		return groupdetect.Claims(c.OIDC.GroupsAttribute), nil
	}
	if registry == nil {
		registry = groupdetect.NewRegistry()
	}
	p, err := registry.Lookup(c.OIDC.GroupDetectionPlugin)
	if err != nil {
		return nil, fmt.Errorf("%w: OIDC_GROUP_DETECTION_PLUGIN: %v", ErrConfig, err)
	}
	return p, nil
}

// mlflowFavicon is MLflow's own icon, which MLflow serves to anyone: the
// gateway's pages show it so they look like part of MLflow.
func mlflowFavicon(staticPrefix string) string { return staticPrefix + "/static-files/favicon.ico" }

// SignInConfig is the sign-in handler's configuration from c, for states
// (pending sign-ins) and a SignIn that starts sessions.
func (c *Config) SignInConfig(states oidc.StateStore, signIn oidc.SignIn, logger *slog.Logger) oidc.Config {
	o := c.OIDC
	cfg := oidc.Config{
		DiscoveryURL: o.DiscoveryURL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURI,
		Scopes: o.Scopes, DisablePKCE: !o.PKCE, States: states, SignIn: signIn,
		ProviderName: o.ProviderDisplayName, AutoRedirect: o.AutoRedirect, Logger: logger, EndSessionURL: o.EndSessionURL,
		Favicon: mlflowFavicon(c.StaticPrefix),
	}
	if o.DiscoveryURL == "" {
		cfg.Issuer, cfg.AuthURL, cfg.TokenURL, cfg.UserInfoURL, cfg.JWKSURL = o.Issuer, o.AuthURL, o.TokenURL, o.UserInfoURL, o.JWKSURL
	}
	return cfg
}
