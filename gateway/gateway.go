package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/redis/go-redis/v9"

	"github.com/mlflowauth/mlflowauth/admin"
	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/jwtauth"
	"github.com/mlflowauth/mlflowauth/mlflow"
	"github.com/mlflowauth/mlflowauth/oidc"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/scim"
	"github.com/mlflowauth/mlflowauth/store"
)

// Options are what the environment cannot say: Go values of the
// integrator's. The zero value is the gateway of examples/gateway.
type Options struct {
	// Logger receives everything the gateway logs; a text logger on
	// standard error at Config.LogLevel when nil.
	Logger *slog.Logger
	// Groups holds the group providers OIDC_GROUP_DETECTION_PLUGIN may
	// name; groupdetect.NewRegistry() when nil.
	Groups *groupdetect.Registry
	// Authenticators are tried after the gateway's own (Basic, Bearer, a
	// trusted proxy's assertion, the session cookie): an internal API-key
	// header, say.
	Authenticators []auth.Authenticator
	// Routes are handlers of yours, answered instead of MLflow, beside the
	// admin API (package admin, always served): by exact path, or by
	// prefix when the pattern ends in "/". They see the caller's auth.Identity and decide
	// for themselves who may do what; the authorizer is not asked.
	Routes map[string]http.Handler
	// Transport reaches MLflow; a tuned http.Transport when nil.
	Transport http.RoundTripper
	// Audit receives the audit log: every change this replica makes to
	// users, grants, rules, tokens and sessions, and the authorizer's
	// refusals. JSON lines on standard output when nil.
	Audit *slog.Logger
	// DenialWindow is how long repeated refusals of one user on one path
	// are counted as one line (one minute when zero).
	DenialWindow time.Duration
}

// Gateway is an MLflow gateway assembled from a Config: the store and its
// change feed, the permission engine, the authenticators, the authorizer
// and the reverse proxy. It is an http.Handler.
type Gateway struct {
	cfg      *Config
	log      *slog.Logger
	db       *store.Store
	engine   *permission.Engine
	basic    *basic.Authenticator
	bearer   *jwtauth.Authenticator
	asserted *jwtauth.Proxy
	sessions *oidc.Sessions
	upstream *mlflow.Upstream
	redis    *redis.Client
	handler  http.Handler
	authn    func(http.Handler) http.Handler
	metrics  *metrics
	audit    *slog.Logger
	denials  *denials

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// SecretKeyName is the name the generated SECRET_KEY is kept under in
// the store.
const SecretKeyName = "secret_key"

// New opens the gateway's database (migrating it), imports what
// IMPORT_DB_URI or the basic_auth.ini names (once), creates the bootstrap
// administrator if missing, loads the permission engine and follows the
// change feed, reads the identity provider's discovery document when SSO
// is on, and returns the gateway ready to serve. Close releases it.
func New(ctx context.Context, cfg *Config, opts Options) (_ *Gateway, err error) {
	if cfg == nil || cfg.Upstream == nil {
		return nil, fmt.Errorf("%w: no configuration (use FromEnv)", ErrConfig)
	}
	g := &Gateway{cfg: cfg, log: opts.Logger, audit: opts.Audit}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	if g.audit == nil {
		g.audit = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	if opts.DenialWindow <= 0 {
		opts.DenialWindow = time.Minute
	}
	g.denials = &denials{log: g.audit, window: opts.DenialWindow, now: time.Now, m: map[denialKey]*denialCount{}}
	for _, w := range cfg.Warnings {
		g.log.Warn("gateway: " + w)
	}
	for _, n := range cfg.Notes {
		g.log.Info("gateway: " + n)
	}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()

	g.db, err = store.OpenWith(ctx, cfg.DatabaseURI, store.Options{Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("gateway: OIDC_USERS_DB_URI: %w", err)
	}
	if err := g.importOnce(ctx); err != nil {
		return nil, err
	}
	if err := g.bootstrapAdmin(ctx); err != nil {
		return nil, err
	}
	g.hintFirstAdmin(ctx)
	secret := []byte(cfg.SecretKey)
	if len(secret) == 0 {
		if secret, err = g.db.SecretKey(ctx, SecretKeyName, randomKey); err != nil {
			return nil, fmt.Errorf("gateway: SECRET_KEY: generating and storing one: %w", err)
		}
	}

	g.engine, err = permission.NewEngine(ctx, g.db, cfg.Permissions)
	if err != nil {
		return nil, fmt.Errorf("gateway: loading permissions: %w", err)
	}
	g.basic, err = basic.New(basic.Config{Credentials: credentials{g.db, cfg.SSORevalidateDays}, Secret: secret,
		TrustedProxies: cfg.TrustedProxies, Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	authenticators := []auth.Authenticator{g.basic}

	idp := g.idpClient()
	if cfg.ProxyAssertionHeader != "" {
		g.asserted, err = jwtauth.NewProxy(ctx, jwtauth.ProxyConfig{Header: cfg.ProxyAssertionHeader,
			Issuer: jwtauth.Issuer{JWKSURL: cfg.ProxyAssertionJWKS, Issuer: cfg.ProxyAssertionIssuer,
				Audience: groupdetect.ParseList(cfg.ProxyAssertionAudience)},
			TrustedProxies: cfg.TrustedProxies}, g.jwtConfig(jwtauth.Issuer{}, idp))
		if err != nil {
			return nil, fmt.Errorf("gateway: PROXY_ASSERTION_JWKS_URL: %w", err)
		}
		authenticators = append(authenticators, g.asserted)
	}

	mux := map[string]http.Handler{
		"/health":       Health(),
		"/health/ready": Ready(g.db),
	}
	loginPath := ""
	if cfg.OIDC.Enabled {
		sso, err := g.signIn(ctx, opts.Groups, idp)
		if err != nil {
			return nil, err
		}
		mux["/login"] = http.HandlerFunc(sso.Login)
		mux["/callback"] = http.HandlerFunc(sso.Callback)
		mux["/logout"] = sso.Logout(g.sessions)
		loginPath = "/login"
	} else {
		g.log.Info("gateway: single sign-on is off (no OIDC_DISCOVERY_URL, nor OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL and OIDC_USER_URL): clients and browsers authenticate with Basic credentials (and bearer tokens, when OIDC_ISSUER is set)")
	}
	if bearer, ok := cfg.bearerIssuer(); ok {
		g.bearer, err = jwtauth.New(ctx, g.jwtConfig(bearer, idp))
		if err != nil {
			return nil, fmt.Errorf("gateway: bearer tokens (OIDC_DISCOVERY_URL / OIDC_ISSUER / OIDC_JWKS_URL): %w", err)
		}
		authenticators = append(authenticators, g.bearer)
	}
	if g.sessions != nil {
		authenticators = append(authenticators, g.sessions)
	}
	authenticators = append(authenticators, opts.Authenticators...)

	if g.metrics, err = newMetrics(g); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	lookups := http.DefaultTransport.(*http.Transport).Clone()
	lookups.Proxy = nil // MLflow is reached directly, as the proxy does
	g.upstream, err = mlflow.NewUpstream(mlflow.UpstreamConfig{URL: cfg.Upstream.String(),
		Username: cfg.UpstreamUsername, Password: cfg.UpstreamPassword,
		Client: &http.Client{Transport: timedTransport{next: lookups, hist: g.metrics.lookup}}})
	if err != nil {
		return nil, fmt.Errorf("gateway: MLFLOW_UPSTREAM_URL: %w", err)
	}
	authz, err := mlflow.NewAuthorizer(mlflow.Config{Engine: g.engine, Lookups: g.upstream, StaticPrefix: cfg.StaticPrefix,
		Grants: g.db, Sync: g.db.Sync, SecretKey: secret, Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	// GraphQL is decided against the schema of the MLflow behind the
	// gateway; until it can be read (MLflow still starting), against the
	// embedded copy, and it is read again when a query does not fit.
	if err := authz.LoadGraphQLSchema(ctx); err != nil {
		g.log.WarnContext(ctx, "gateway: MLflow's GraphQL schema could not be read; using the embedded copy until it can", "error", err)
	}
	proxy, err := NewProxy(ProxyConfig{Upstream: cfg.Upstream, Username: cfg.UpstreamUsername, Password: cfg.UpstreamPassword,
		SessionCookie: cfg.Session.CookieName, Transport: opts.Transport, Logger: g.log,
		MenuScript: admin.MenuScript, UIPath: cfg.StaticPrefix + "/", MenuLogin: loginPath})
	if err != nil {
		return nil, fmt.Errorf("gateway: MLFLOW_UPSTREAM_URL: %w", err)
	}
	authn := auth.Middleware(auth.Config{StaticPrefix: cfg.StaticPrefix, LoginPath: loginPath, PublicRequest: authz.Public,
		SessionCookie: cfg.Session.CookieName, Logger: g.log}, authenticators...)
	g.authn = authn
	api, err := admin.New(admin.Config{Store: g.db, Engine: g.engine, Names: g.upstream, Gateways: gatewayNames{g.upstream}, Favicon: mlflowFavicon(cfg.StaticPrefix),
		MaxTokenDays: cfg.AccessTokenMaxDays, Secret: secret, SecureCookies: cfg.Session.Secure, SSORevalidateDays: cfg.SSORevalidateDays, Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	own := map[string]http.Handler{}
	// SCIM authenticates its own tokens, and only them: it is never behind
	// the authenticators MLflow's requests pass, which never accept a
	// SCIM token.
	var scimTokens []scim.Token
	if cfg.SCIMToken != "" {
		scimTokens = append(scimTokens, scim.StaticToken("SCIM_TOKEN", cfg.SCIMToken))
	}
	provisioning, err := scim.New(scim.Config{Store: g.db, Tokens: scimTokens, RemoveOnDelete: cfg.SCIMDeleteRemoves, Logger: g.log})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	mux[scim.Prefix] = provisioning
	mux[scim.Prefix+"/"] = provisioning
	for p, h := range api.Routes() { // answered here, never proxied
		own[p] = authn(h)
	}
	for p, h := range opts.Routes {
		own[p] = authn(h)
	}
	guarded, err := BrowserGuard(route(newOwnRoutes(mux, own), authn(g.deciding(authz.Wrap(g.forwarding(proxy))))))
	if err != nil {
		return nil, err
	}
	g.handler = g.observe(guarded)

	if err := g.follow(); err != nil {
		return nil, err
	}
	return g, nil
}

// ownRoutes are the gateway's own handlers: by exact path, or by prefix
// for patterns ending in "/" (longest first), kept apart so the prefix
// scan is over a handful, not every route.
type ownRoutes struct {
	exact    map[string]http.Handler
	prefixes []string
}

func newOwnRoutes(maps ...map[string]http.Handler) *ownRoutes {
	o := &ownRoutes{exact: map[string]http.Handler{}}
	for _, m := range maps {
		for p, h := range m {
			o.exact[p] = h
		}
	}
	for p := range o.exact {
		if strings.HasSuffix(p, "/") {
			o.prefixes = append(o.prefixes, p)
		}
	}
	sort.Slice(o.prefixes, func(i, j int) bool { return len(o.prefixes[i]) > len(o.prefixes[j]) })
	return o
}

// lookup is r's handler, if it is one of the gateway's. Only a path with
// no escapes can be: an escaped one goes on to the middleware, which
// refuses what is not canonical.
func (o *ownRoutes) lookup(r *http.Request) (http.Handler, bool) {
	if r.URL.RawPath != "" {
		return nil, false
	}
	p := r.URL.Path
	if h, ok := o.exact[p]; ok {
		return h, true
	}
	for _, prefix := range o.prefixes {
		if strings.HasPrefix(p, prefix) {
			return o.exact[prefix], true
		}
	}
	return nil, false
}

// route serves the gateway's own routes, and everything else with rest;
// it tells the outer layer (for metrics) which it was.
func route(own *ownRoutes, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := own.lookup(r); ok {
			if st := stateOf(r.Context()); st != nil {
				st.own = true
			}
			h.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// ServeHTTP serves a request: the gateway's own routes, else
// authentication, authorization and the proxy to MLflow.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// Authenticate is the gateway's authentication as middleware, for routes
// of your own in a router of your choice (chi, echo): the same
// credentials as MLflow's requests (Basic, bearer, the session cookie),
// the auth.Identity in the request context, 401 in MLflow's shape
// without. It decides nothing: what the identity may do there is yours to
// say. (Cookie-authenticated writes to your routes want a cross-origin
// check too: see BrowserGuard.)
func (g *Gateway) Authenticate(next http.Handler) http.Handler { return g.authn(next) }

// Store is the gateway's database, for the admin API and operator
// commands.
func (g *Gateway) Store() *store.Store { return g.db }

// Engine is the permission engine the gateway decides with.
func (g *Gateway) Engine() *permission.Engine { return g.engine }

// Server returns an http.Server for the gateway on LISTEN_ADDR, with the
// timeouts a public server needs and none that would cut a long artifact
// transfer or an LLM stream (no ReadTimeout or WriteTimeout).
func (g *Gateway) Server() *http.Server {
	return &http.Server{
		Addr:              g.cfg.ListenAddr,
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
}

// Close stops following the feed, writes the tokens' last-use times and
// closes the database.
func (g *Gateway) Close() error {
	if g.stop != nil {
		g.stop()
	}
	g.wg.Wait()
	var errs []error
	if g.redis != nil {
		errs = append(errs, g.redis.Close())
	}
	if g.db != nil {
		errs = append(errs, g.db.Close())
	}
	return errors.Join(errs...)
}

// follow keeps the engine and every cache current with the change feed,
// in the background until Close; it returns once the follower is
// registered, so this process's writes reach the engine before they
// return.
func (g *Gateway) follow() error {
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	started := make(chan struct{})
	g.wg.Add(3)
	go func() {
		defer g.wg.Done()
		_ = g.db.Follow(ctx, g.engine, store.FollowOptions{OnChange: g.onChange, Started: func() { close(started) }})
	}()
	go func() {
		defer g.wg.Done()
		g.basic.Run(ctx, 30*time.Second)
	}()
	go func() {
		defer g.wg.Done()
		t := time.NewTicker(g.denials.window)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				g.denials.flush(true)
				return
			case <-t.C:
				g.denials.flush(false)
			}
		}
	}()
	select {
	case <-started:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("gateway: the change feed did not start within 30s")
	}
}

// onChange drops what the caches outside the engine remember of what
// changed: credentials, sessions, names.
func (g *Gateway) onChange(c store.Change) {
	g.auditChange(c)
	if c.Seq == 0 && len(c.Events) == 0 { // a resync: anything may have changed
		g.basic.ForgetAll()
		if g.bearer != nil {
			g.bearer.ForgetAll()
		}
		if g.sessions != nil {
			g.sessions.ForgetAll()
		}
		g.upstream.ForgetAll()
		return
	}
	for _, ev := range c.Events {
		user := ev.Username
		if ev.User != nil {
			user = ev.User.Name
		}
		switch ev.Op {
		case store.OpUserPut, store.OpUserDelete, store.OpTokenRevoke:
			g.basic.Forget(user)
			if g.bearer != nil {
				g.bearer.Forget(user)
			}
			if g.asserted != nil {
				g.asserted.Forget(user)
			}
			if ev.Op == store.OpUserDelete && g.sessions != nil {
				g.sessions.Forget(user)
			}
		case store.OpSessionRevoke:
			if g.sessions != nil {
				g.sessions.Forget(user)
			}
		case store.OpNameChange:
			if ev.Resource != nil {
				g.upstream.ForgetResource(*ev.Resource, ev.Name)
			}
		}
	}
}

// importOnce imports IMPORT_DB_URI (or basic_auth.ini's database_uri):
// once per source, so a restart never brings back what was deleted since.
func (g *Gateway) importOnce(ctx context.Context) error {
	if g.cfg.ImportDBURI == "" {
		return nil
	}
	report, err := g.db.Import(ctx, g.cfg.ImportDBURI, store.ImportOptions{IsDefaultPassword: isDefaultPassword})
	if err != nil {
		return fmt.Errorf("gateway: IMPORT_DB_URI: %w", err)
	}
	if report.AlreadyImported {
		g.log.Info("gateway: IMPORT_DB_URI was imported before; not again (admin import --force does)", "source", report.Source)
		return nil
	}
	g.log.Info("gateway: imported "+report.String(), "source", report.Source)
	return nil
}

// bootstrapAdmin creates MLFLOW_AUTH_ADMIN_USERNAME if missing. An
// existing account is left as it is: a restart must not reset a password
// an administrator changed.
func (g *Gateway) bootstrapAdmin(ctx context.Context) error {
	name, pw := g.cfg.AdminUsername, g.cfg.AdminPassword
	if name == "" {
		return nil
	}
	if len(pw) < 12 || basic.IsShippedDefault(pw) {
		return fmt.Errorf("%w: MLFLOW_AUTH_ADMIN_PASSWORD: at least 12 characters, and not MLflow's shipped default", ErrConfig)
	}
	if _, err := g.db.GetUser(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("gateway: MLFLOW_AUTH_ADMIN_USERNAME: %w", err)
	}
	hash, err := basic.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("gateway: MLFLOW_AUTH_ADMIN_PASSWORD: %w", err)
	}
	_, err = g.db.CreateUser(ctx, store.User{Username: name, Admin: true, PasswordHash: hash})
	switch {
	case errors.Is(err, store.ErrConflict): // another replica made it a moment ago
		return nil
	case errors.Is(err, store.ErrInvalid):
		return fmt.Errorf("%w: MLFLOW_AUTH_ADMIN_USERNAME: %v", ErrConfig, err)
	case err != nil:
		return fmt.Errorf("gateway: MLFLOW_AUTH_ADMIN_USERNAME: %w", err)
	}
	g.log.Info("gateway: created the administrator", "username", auth.NormalizeUsername(name))
	return nil
}

// hintFirstAdmin says, when no one can administer the gateway yet, how
// to make the first administrator.
func (g *Gateway) hintFirstAdmin(ctx context.Context) {
	users, err := g.db.ListUsers(ctx)
	if err != nil {
		return
	}
	for _, u := range users {
		if u.Admin && !u.Deactivated {
			return
		}
	}
	how := "set MLFLOW_AUTH_ADMIN_USERNAME and MLFLOW_AUTH_ADMIN_PASSWORD (12 characters or more) and restart"
	if g.cfg.OIDC.Enabled {
		how += ", or sign in as a member of OIDC_ADMIN_GROUP_NAME"
	}
	g.log.Warn("gateway: there is no administrator yet: " + how + "; `admin restore-admin USER` makes an existing user one")
}

// idpClient reaches the identity provider: TLS verified unless
// OIDC_VERIFY_SSL=false.
func (g *Gateway) idpClient() *http.Client {
	if g.cfg.OIDC.VerifySSL {
		return &http.Client{Timeout: 10 * time.Second}
	}
	g.log.Warn("gateway: OIDC_VERIFY_SSL=false: the identity provider's TLS certificate is not checked")
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator asked for it, and it is logged
	return &http.Client{Timeout: 10 * time.Second, Transport: t}
}

// bearerIssuer is the provider whose JWTs are accepted as bearer tokens:
// on when its keys can be found (discovery, OIDC_ISSUER's discovery, or
// OIDC_JWKS_URL) and an audience is known (OIDC_AUDIENCE, else
// OIDC_CLIENT_ID).
func (c *Config) bearerIssuer() (jwtauth.Issuer, bool) {
	o := c.OIDC
	is := jwtauth.Issuer{Issuer: o.Issuer, JWKSURL: o.JWKSURL, ClientID: o.ClientID,
		UsernameClaims: o.UsernameFields, DisplayNameClaim: o.DisplayNameField, Groups: groupdetect.Claims(o.GroupsAttribute)}
	switch {
	case o.Audience != "":
		is.Audience = groupdetect.ParseList(o.Audience)
	case o.ClientID != "":
		is.Audience = []string{o.ClientID}
	default:
		return jwtauth.Issuer{}, false
	}
	switch {
	case o.DiscoveryURL != "":
		is.DiscoveryURL = discoveryDocument(o.DiscoveryURL)
	case o.JWKSURL == "" && o.Issuer != "":
		is.DiscoveryURL = discoveryDocument(o.Issuer)
	case o.JWKSURL == "":
		return jwtauth.Issuer{}, false
	}
	if is.DiscoveryURL != "" {
		is.JWKSURL = ""
	}
	return is, true
}

// discoveryDocument is the OpenID configuration's URL, given it or the
// issuer (mlflow-oidc-auth's OIDC_DISCOVERY_URL is the former).
func discoveryDocument(u string) string {
	const wellKnown = "/.well-known/openid-configuration"
	if strings.HasSuffix(u, wellKnown) {
		return u
	}
	return strings.TrimSuffix(u, "/") + wellKnown
}

func (g *Gateway) jwtConfig(is jwtauth.Issuer, client *http.Client) jwtauth.Config {
	o := g.cfg.OIDC
	cfg := jwtauth.Config{Accounts: g.db, Provision: o.ProvisionOnBearer, TrustGroupClaims: o.TrustBearerGroups,
		Gate: o.Gate, Client: client, Logger: g.log}
	if is.JWKSURL != "" || is.DiscoveryURL != "" {
		cfg.Issuers = []jwtauth.Issuer{is}
	}
	return cfg
}

// signIn builds browser sign-in: sessions and pending sign-ins in the
// configured store (SESSION_TYPE), provisioning into the gateway's
// database, groups from the configured provider.
func (g *Gateway) signIn(ctx context.Context, registry *groupdetect.Registry, client *http.Client) (*oidc.Handler, error) {
	var st scs.Store
	var states oidc.StateStore
	switch g.cfg.Session.Type {
	case "memory":
		m := memstore.New()
		st, states = m, m
	case "redis":
		opt, err := redis.ParseURL(g.cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("%w: REDIS_URL: %v", ErrConfig, err)
		}
		g.redis = redis.NewClient(opt)
		if err := g.redis.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("gateway: REDIS_URL: Redis does not answer: %w", err)
		}
		r := NewRedisStore(g.redis, g.cfg.Session.KeyPrefix)
		st, states = r, r
	default:
		d := g.db.SessionData()
		st, states = d, d
	}
	var err error
	g.sessions, err = oidc.NewSessions(g.cfg.SessionsConfig(st, sessionIndex{g.db, g.cfg.SSORevalidateDays}))
	if err != nil {
		return nil, fmt.Errorf("gateway: sessions: %w", err)
	}
	groups, err := g.cfg.GroupProvider(registry)
	if err != nil {
		return nil, err
	}
	o := g.cfg.OIDC
	prov := &oidc.Provisioner{Accounts: g.db, Sessions: g.sessions, Groups: groups, Gate: o.Gate,
		UsernameClaims: o.UsernameFields, DisplayNameClaim: o.DisplayNameField, StoredGroups: true, Logger: g.log}
	sc := g.cfg.SignInConfig(states, prov, g.log)
	sc.HTTPClient = client
	h, err := oidc.New(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("gateway: single sign-on (OIDC_DISCOVERY_URL or the endpoint URLs): %w", err)
	}
	return h, nil
}

// gatewayNames is the admin API's name-to-id lookup, through MLflow.
type gatewayNames struct{ up *mlflow.Upstream }

func (n gatewayNames) GatewayID(ctx context.Context, kind permission.Kind, name string) (string, error) {
	id, err := n.up.GatewayID(ctx, kind, name)
	if errors.Is(err, mlflow.ErrNotFound) {
		return "", fmt.Errorf("%w: %v", admin.ErrNoSuchObject, err)
	}
	return id, err
}

func randomKey() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}
