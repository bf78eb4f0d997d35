package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/oidc"
	"github.com/mlflowauth/mlflowauth/permission"
)

// Config is the gateway's configuration: the environment contract of
// ARCHITECTURE "The gateway contract", names as mlflow-oidc-auth's.
type Config struct {
	ListenAddr, MetricsAddr                  string
	Upstream                                 *url.URL
	UpstreamUsername, UpstreamPassword       string
	DatabaseURI                              string // OIDC_USERS_DB_URI
	AdminUsername, AdminPassword             string // created if missing
	AuthConfigPath, ImportDBURI              string
	Permissions                              permission.Config
	SecretKey                                string // "" means generated once and stored
	StaticPrefix                             string
	AccessTokenMaxDays                       int
	OIDC                                     OIDCConfig
	Session                                  SessionConfig
	RedisURL                                 string
	TrustedProxies                           []netip.Prefix
	ProxyAssertionHeader, ProxyAssertionJWKS string
	// ProxyAssertionIssuer and ProxyAssertionAudience are the iss and aud
	// the proxy signs (Google IAP: https://cloud.google.com/iap and the
	// backend service; Cloudflare Access: the team domain and the
	// application's AUD tag).
	ProxyAssertionIssuer, ProxyAssertionAudience string
	LogLevel                                     slog.Level
	// SCIMToken is a token SCIM clients may present (SCIM_TOKEN); SCIM is
	// also on when an administrator made one in the web UI.
	SCIMToken string
	// SCIMDeleteRemoves makes SCIM's DELETE remove an account and its
	// grants (SCIM_DELETE=remove) rather than keep it deactivated.
	SCIMDeleteRemoves bool
	// SSORevalidateDays (SSO_REVALIDATE_DAYS): the tokens and sessions of
	// an account bound to the identity provider stop working when it has
	// not signed in through it for this many days; 0 is off.
	SSORevalidateDays int
	// Warnings are settings that have no effect here (mlflow-oidc-auth's),
	// or are weaker than they look, to be logged once at startup.
	Warnings []string
	// Notes say where a setting came from other than its variable (the
	// basic_auth.ini of MLFLOW_AUTH_CONFIG_PATH), logged once at startup.
	Notes []string
}

// OIDCConfig is single sign-on; Enabled when a discovery URL or the three
// endpoint URLs are set.
type OIDCConfig struct {
	Enabled                              bool
	DiscoveryURL, ClientID, ClientSecret string
	RedirectURI                          string
	AuthURL, TokenURL, UserInfoURL       string
	// JWKSURL verifies ID and bearer tokens without discovery
	// (OIDC_JWKS_URL, needed with the three endpoint URLs).
	JWKSURL string
	// EndSessionURL is where logout sends the browser when discovery
	// names no end_session_endpoint (OIDC_END_SESSION_URL: Cognito's
	// https://<domain>.auth.<region>.amazoncognito.com/logout).
	EndSessionURL                         string
	Audience, Issuer                      string
	Scopes                                []string
	Gate                                  groupdetect.Gate
	GroupsAttribute, GroupDetectionPlugin string
	UsernameFields                        []string
	DisplayNameField, ProviderDisplayName string
	PKCE, VerifySSL                       bool
	ProvisionOnBearer, TrustBearerGroups  bool
	AutoRedirect                          bool
}

// SessionConfig is the browser session.
type SessionConfig struct {
	CookieName string
	MaxAge     time.Duration
	SameSite   http.SameSite
	Secure     bool
	Type       string // sql, memory, redis
	KeyPrefix  string // Redis keys
}

// ErrConfig wraps every configuration error; the message names the
// variable.
var ErrConfig = errors.New("gateway: configuration")

// warned are mlflow-oidc-auth settings accepted without effect.
var warned = []string{"CACHE_BACKEND", "CACHE_REDIS_URL", "CACHE_KEY_PREFIX", "PERMISSION_CACHE_TTL_SECONDS",
	"OIDC_JWKS_CACHE_TTL_SECONDS", "EXTEND_MLFLOW_MENU", "EXTEND_MLFLOW_REAUTH", "DEFAULT_LANDING_PAGE_IS_PERMISSIONS",
	"ENABLE_API_DOCS", "LOGGING_LOGGER_NAME", "SESSION_PERMANENT", "SESSION_FILE_DIR", "OIDC_HTTP_TIMEOUT_SECONDS",
	"OIDC_SESSION_EXPIRY_LEEWAY_SECONDS", "OIDC_GEN_AI_GATEWAY_ENABLED", "MANAGED_BY_ENFORCEMENT"}

// env reads variables, taking NAME_FILE (a file holding the value, for
// secrets) where NAME is unset, and records the first error.
type env struct {
	lookup func(string) (string, bool)
	err    error
}

func (e *env) fail(name, format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%w: %s: %s", ErrConfig, name, fmt.Sprintf(format, args...))
	}
}

func (e *env) str(name, def string) string {
	v, ok := e.lookup(name)
	f, fok := e.lookup(name + "_FILE")
	switch {
	case ok && fok:
		e.fail(name, "set both %s and %s_FILE", name, name)
	case fok:
		b, err := os.ReadFile(f)
		if err != nil {
			e.fail(name+"_FILE", "%v", err)
			return def
		}
		return strings.TrimRight(string(b), "\r\n")
	case ok:
		return strings.TrimSpace(v)
	}
	return def
}

func (e *env) boolean(name string, def bool) bool {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.fail(name, "%q is not true or false", v)
	return def
}

func (e *env) integer(name string, def, lo, hi int) int {
	v := e.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		e.fail(name, "%q is not a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

func (e *env) httpURL(name, def string) *url.URL {
	v := e.str(name, def)
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.fail(name, "%q is not an http(s) URL", v)
		return nil
	}
	return u
}

// FromEnv reads the configuration from the environment (os.LookupEnv when
// lookup is nil). Any bad value is an error naming its variable.
func FromEnv(lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	e := &env{lookup: lookup}
	c := &Config{
		ListenAddr:             e.str("LISTEN_ADDR", ":8080"),
		MetricsAddr:            e.str("METRICS_ADDR", ""),
		Upstream:               e.httpURL("MLFLOW_UPSTREAM_URL", "http://127.0.0.1:5000"),
		UpstreamUsername:       e.str("MLFLOW_UPSTREAM_USERNAME", ""),
		UpstreamPassword:       e.str("MLFLOW_UPSTREAM_PASSWORD", ""),
		DatabaseURI:            e.str("OIDC_USERS_DB_URI", "sqlite:///auth.db"),
		AdminUsername:          e.str("MLFLOW_AUTH_ADMIN_USERNAME", ""),
		AdminPassword:          e.str("MLFLOW_AUTH_ADMIN_PASSWORD", ""),
		AuthConfigPath:         e.str("MLFLOW_AUTH_CONFIG_PATH", ""),
		ImportDBURI:            e.str("IMPORT_DB_URI", ""),
		SecretKey:              e.str("SECRET_KEY", ""),
		StaticPrefix:           e.str("MLFLOW_STATIC_PREFIX", ""),
		AccessTokenMaxDays:     e.integer("ACCESS_TOKEN_MAX_DAYS", 366, 1, 3660),
		RedisURL:               e.str("REDIS_URL", ""),
		ProxyAssertionHeader:   e.str("PROXY_ASSERTION_HEADER", ""),
		ProxyAssertionJWKS:     e.str("PROXY_ASSERTION_JWKS_URL", ""),
		ProxyAssertionIssuer:   e.str("PROXY_ASSERTION_ISSUER", ""),
		ProxyAssertionAudience: e.str("PROXY_ASSERTION_AUDIENCE", ""),
	}
	c.SCIMToken = e.str("SCIM_TOKEN", "")
	if t := c.SCIMToken; t != "" && (len(t) < 24 || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r > '~' })) {
		e.fail("SCIM_TOKEN", "at least 24 printable ASCII characters without spaces (a random secret: openssl rand -base64 32)")
	}
	switch v := strings.ToLower(e.str("SCIM_DELETE", "deactivate")); v {
	case "deactivate":
	case "remove":
		c.SCIMDeleteRemoves = true
	default:
		e.fail("SCIM_DELETE", "%q is not deactivate (keep the account deactivated with its grants) or remove (remove it and its grants)", v)
	}
	c.SSORevalidateDays = e.integer("SSO_REVALIDATE_DAYS", 0, 0, 3660)
	if c.UpstreamUsername != "" && c.UpstreamPassword == "" {
		e.fail("MLFLOW_UPSTREAM_PASSWORD", "set with MLFLOW_UPSTREAM_USERNAME")
	}
	if (c.AdminUsername == "") != (c.AdminPassword == "") {
		e.fail("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_AUTH_ADMIN_USERNAME and MLFLOW_AUTH_ADMIN_PASSWORD go together")
	}
	if p := c.AdminPassword; p != "" && (len(p) < 12 || p == "password1234") {
		e.fail("MLFLOW_AUTH_ADMIN_PASSWORD", "at least 12 characters, and not MLflow's shipped default")
	}
	if c.StaticPrefix != "" && (!strings.HasPrefix(c.StaticPrefix, "/") || strings.HasSuffix(c.StaticPrefix, "/")) {
		e.fail("MLFLOW_STATIC_PREFIX", "%q must start with / and not end with one", c.StaticPrefix)
	}
	if c.ProxyAssertionHeader != "" {
		switch {
		case e.httpURL("PROXY_ASSERTION_JWKS_URL", "") == nil:
			e.fail("PROXY_ASSERTION_JWKS_URL", "needed with PROXY_ASSERTION_HEADER: the keys that verify the assertion")
		case c.ProxyAssertionIssuer == "":
			e.fail("PROXY_ASSERTION_ISSUER", "needed with PROXY_ASSERTION_HEADER: the iss the proxy signs")
		case c.ProxyAssertionAudience == "":
			e.fail("PROXY_ASSERTION_AUDIENCE", "needed with PROXY_ASSERTION_HEADER: the aud the proxy signs for this gateway")
		}
	}

	if v := e.str("DEFAULT_MLFLOW_PERMISSION", "NO_PERMISSIONS"); v != "" {
		l, err := permission.ParseLevel(v)
		if err != nil {
			e.fail("DEFAULT_MLFLOW_PERMISSION", "%v", err)
		}
		c.Permissions.Default = l
	}
	if v := e.str("PERMISSION_SOURCE_ORDER", ""); v != "" {
		o, err := permission.ParseOrder(v)
		if err != nil {
			e.fail("PERMISSION_SOURCE_ORDER", "%v", err)
		}
		c.Permissions.Order = o
	}
	c.Permissions.RestrictCreation = e.boolean("RESTRICT_RESOURCE_CREATION", false)

	for _, f := range strings.Split(e.str("TRUSTED_PROXIES", ""), ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				e.fail("TRUSTED_PROXIES", "%q is not a CIDR or an address", f)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}

	if c.ProxyAssertionHeader != "" && len(c.TrustedProxies) == 0 {
		e.fail("TRUSTED_PROXIES", "needed with PROXY_ASSERTION_HEADER: an assertion is read only from a trusted proxy")
	}

	switch v := strings.ToUpper(e.str("LOG_LEVEL", "INFO")); v {
	case "DEBUG":
		c.LogLevel = slog.LevelDebug
	case "INFO":
		c.LogLevel = slog.LevelInfo
	case "WARN", "WARNING":
		c.LogLevel = slog.LevelWarn
	case "ERROR", "CRITICAL":
		c.LogLevel = slog.LevelError
	default:
		e.fail("LOG_LEVEL", "%q is not DEBUG, INFO, WARNING or ERROR", v)
	}

	o := &c.OIDC
	o.DiscoveryURL = e.str("OIDC_DISCOVERY_URL", "")
	o.ClientID = e.str("OIDC_CLIENT_ID", "")
	o.ClientSecret = e.str("OIDC_CLIENT_SECRET", "")
	o.RedirectURI = e.str("OIDC_REDIRECT_URI", "")
	o.AuthURL = e.str("OIDC_AUTHORIZATION_URL", "")
	o.TokenURL = e.str("OIDC_TOKEN_URL", "")
	o.UserInfoURL = e.str("OIDC_USER_URL", "")
	o.JWKSURL = e.str("OIDC_JWKS_URL", "")
	if u := e.httpURL("OIDC_END_SESSION_URL", ""); u != nil {
		o.EndSessionURL = u.String()
	}
	o.Audience = e.str("OIDC_AUDIENCE", "")
	o.Issuer = e.str("OIDC_ISSUER", "")
	o.Scopes = oidc.ParseScopes(e.str("OIDC_SCOPE", "openid email profile"))
	o.Gate = groupdetect.Gate{Allowed: groupdetect.ParseList(e.str("OIDC_GROUP_NAME", "mlflow")),
		Admin: groupdetect.ParseList(e.str("OIDC_ADMIN_GROUP_NAME", "mlflow-admin"))}
	o.GroupsAttribute = e.str("OIDC_GROUPS_ATTRIBUTE", "groups")
	o.GroupDetectionPlugin = e.str("OIDC_GROUP_DETECTION_PLUGIN", "")
	o.UsernameFields = groupdetect.ParseList(e.str("OIDC_USERNAME_FIELD", "email,preferred_username"))
	o.DisplayNameField = e.str("OIDC_DISPLAY_NAME_FIELD", "name")
	o.ProviderDisplayName = e.str("OIDC_PROVIDER_DISPLAY_NAME", "Login with OIDC")
	switch v := strings.ToUpper(e.str("OIDC_CODE_CHALLENGE", "S256")); v {
	case "S256":
		o.PKCE = true
	case "NONE", "FALSE", "OFF":
		c.Warnings = append(c.Warnings, "OIDC_CODE_CHALLENGE=none: PKCE is off")
	default:
		e.fail("OIDC_CODE_CHALLENGE", "%q is not S256 or none", v)
	}
	o.VerifySSL = e.boolean("OIDC_VERIFY_SSL", true)
	o.ProvisionOnBearer = e.boolean("OIDC_PROVISION_ON_BEARER_AUTH", false)
	o.TrustBearerGroups = e.boolean("OIDC_TRUST_BEARER_GROUP_CLAIMS", false)
	o.AutoRedirect = e.boolean("AUTOMATIC_LOGIN_REDIRECT", false)
	endpoints := o.AuthURL != "" && o.TokenURL != "" && o.UserInfoURL != ""
	o.Enabled = o.DiscoveryURL != "" || endpoints
	if o.Enabled {
		if o.DiscoveryURL == "" && o.Issuer == "" {
			e.fail("OIDC_ISSUER", "needed with OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL and OIDC_USER_URL (no discovery names it)")
		}
		if o.DiscoveryURL == "" && e.httpURL("OIDC_JWKS_URL", "") == nil && e.err == nil {
			e.fail("OIDC_JWKS_URL", "needed with OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL and OIDC_USER_URL: the keys that sign the provider's ID tokens (no discovery names them)")
		}
		if o.ClientID == "" {
			e.fail("OIDC_CLIENT_ID", "needed for single sign-on")
		}
		if e.httpURL("OIDC_REDIRECT_URI", "") == nil && e.err == nil {
			e.fail("OIDC_REDIRECT_URI", "needed for single sign-on: this gateway's /callback URL")
		}
	}

	s := &c.Session
	s.CookieName = e.str("SESSION_COOKIE_NAME", "session")
	maxAge := e.integer("SESSION_COOKIE_MAX_AGE_SECONDS", 0, 60, 366*24*3600)
	if maxAge == 0 {
		maxAge = e.integer("PERMANENT_SESSION_LIFETIME", 1209600, 60, 366*24*3600) // the older name
	}
	s.MaxAge = time.Duration(maxAge) * time.Second
	switch v := strings.ToLower(e.str("SESSION_COOKIE_SAMESITE", "lax")); v {
	case "lax":
		s.SameSite = http.SameSiteLaxMode
	case "strict":
		s.SameSite = http.SameSiteStrictMode
	case "none":
		s.SameSite = http.SameSiteNoneMode
	default:
		e.fail("SESSION_COOKIE_SAMESITE", "%q is not lax, strict or none", v)
	}
	s.Secure = e.boolean("SESSION_COOKIE_SECURE", strings.HasPrefix(o.RedirectURI, "https://"))
	if s.SameSite == http.SameSiteNoneMode && !s.Secure {
		e.fail("SESSION_COOKIE_SAMESITE", "none needs SESSION_COOKIE_SECURE (browsers drop it otherwise)")
	}
	switch v := strings.ToLower(e.str("SESSION_TYPE", "sql")); v {
	case "sql", "sqlalchemy", "filesystem": // filesystem was mlflow-oidc-auth's default
		s.Type = "sql"
	case "memory", "redis":
		s.Type = v
	default:
		e.fail("SESSION_TYPE", "%q is not sql, memory or redis", v)
	}
	s.KeyPrefix = e.str("SESSION_KEY_PREFIX", "mlflow_oidc:")
	if s.Type == "redis" && c.RedisURL == "" {
		host := e.str("REDIS_HOST", "")
		if host == "" {
			e.fail("REDIS_URL", "SESSION_TYPE=redis needs REDIS_URL or REDIS_HOST")
		} else {
			u := url.URL{Scheme: "redis", Host: host + ":" + strconv.Itoa(e.integer("REDIS_PORT", 6379, 1, 65535)),
				Path: "/" + strconv.Itoa(e.integer("REDIS_DB", 0, 0, 1024))}
			if e.boolean("REDIS_SSL", false) {
				u.Scheme = "rediss"
			}
			if user, pw := e.str("REDIS_USERNAME", ""), e.str("REDIS_PASSWORD", ""); user != "" || pw != "" {
				u.User = url.UserPassword(user, pw)
			}
			c.RedisURL = u.String()
		}
	}

	// Settings we cannot honour yet are refused rather than ignored.
	if e.boolean("MLFLOW_ENABLE_WORKSPACES", false) {
		e.fail("MLFLOW_ENABLE_WORKSPACES", "MLflow workspaces are not supported yet")
	}
	if e.boolean("OIDC_USE_REFRESH_TOKEN", false) {
		e.fail("OIDC_USE_REFRESH_TOKEN", "refresh tokens are not supported")
	}
	for _, name := range []string{"AUTH_PROVIDERS", "AUTH_PROVIDERS_FILE"} {
		if _, ok := lookup(name); ok {
			e.fail(name, "several identity providers are not supported yet")
		}
	}
	for _, name := range []string{"CONFIG_AWS_SECRETS_ENABLED", "CONFIG_AZURE_KEYVAULT_ENABLED", "CONFIG_VAULT_ENABLED", "CONFIG_GCP_SECRETS_ENABLED"} {
		if e.boolean(name, false) {
			e.fail(name, "secret managers are not read here: use NAME_FILE")
		}
	}
	if c.AuthConfigPath != "" && e.err == nil {
		f, err := os.Open(c.AuthConfigPath)
		if err != nil {
			e.fail("MLFLOW_AUTH_CONFIG_PATH", "%v", err)
		} else {
			e.applyAuthINI(c, f)
			f.Close()
		}
	}
	for _, name := range warned {
		if _, ok := lookup(name); ok {
			c.Warnings = append(c.Warnings, name+" has no effect here")
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return c, nil
}
