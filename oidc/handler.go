package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// StateStore keeps a login's state between /login and /callback. Any
// scs.Store satisfies it (memory, SQL, Redis), so replicas sharing the
// session store share pending logins too.
type StateStore interface {
	Find(token string) ([]byte, bool, error)
	Commit(token string, b []byte, expiry time.Time) error
	Delete(token string) error
}

// SignIn finishes a verified login: bind the account, check its groups,
// start the session, and answer the browser (usually a redirect to
// l.Next). An error is shown to the user as a refusal.
type SignIn interface {
	SignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error
}

// SignInFunc adapts a function to SignIn.
type SignInFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error

// SignIn calls f.
func (f SignInFunc) SignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, l *Login) error {
	return f(ctx, w, r, l)
}

// Login is what a verified callback established.
type Login struct {
	Issuer  string
	Subject string
	Claims  map[string]any // the ID token's claims
	IDToken string         // raw, for the provider's logout (id_token_hint)
	Token   *oauth2.Token  // the access token, for providers that read groups with it
	Next    string         // where the browser asked to go, made safe
}

// Config configures a Handler.
type Config struct {
	// DiscoveryURL is the provider's issuer; its
	// /.well-known/openid-configuration names the endpoints
	// (OIDC_DISCOVERY_URL). Without it, Issuer and the endpoint URLs are
	// used as given (OIDC_AUTHORIZATION_URL, OIDC_TOKEN_URL,
	// OIDC_USER_URL).
	DiscoveryURL                           string
	Issuer, AuthURL, TokenURL, UserInfoURL string
	JWKSURL                                string
	// EndSessionURL is where logout sends the browser, when discovery
	// names none (Cognito's https://<domain>.auth.<region>.amazoncognito.com/logout).
	EndSessionURL          string
	ClientID, ClientSecret string
	// RedirectURL is this gateway's /callback as registered with the
	// provider (OIDC_REDIRECT_URI). Its scheme decides whether cookies
	// are Secure, which holds behind a TLS-terminating load balancer.
	RedirectURL string
	// Scopes requested (OIDC_SCOPE); "openid" is added when missing.
	Scopes []string
	// DisablePKCE turns PKCE (S256) off, for providers that refuse it
	// (OIDC_CODE_CHALLENGE=false).
	DisablePKCE bool
	// States holds pending logins; StateTTL bounds them (10 minutes).
	States   StateStore
	StateTTL time.Duration
	SignIn   SignIn
	// LoginPath is where a failed callback sends the browser to start
	// again ("/login").
	LoginPath string
	// Favicon is the icon the sign-in and error pages show (the gateway
	// passes MLflow's own, so they look like part of MLflow); none when
	// empty.
	Favicon string
	// ProviderName names the provider on the sign-in page
	// (OIDC_PROVIDER_DISPLAY_NAME; "Login with SSO" when empty).
	ProviderName string
	// AutoRedirect skips the sign-in page and goes straight to the
	// provider (AUTOMATIC_LOGIN_REDIRECT).
	AutoRedirect bool
	HTTPClient   *http.Client
	Logger       *slog.Logger
	Now          func() time.Time
}

// Handler serves /login and /callback.
type Handler struct {
	cfg      Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	issuer   string
	secure   bool
	cookie   string
	endSess  string
	takeMu   sync.Mutex // Find+Delete as one, for stores that cannot take
}

// Errors a callback refuses with.
var (
	ErrNoLogin       = errors.New("oidc: no sign-in is pending in this browser")
	ErrStateMismatch = errors.New("oidc: state does not match")
	ErrIssuer        = errors.New("oidc: the callback names another issuer")
	ErrNonce         = errors.New("oidc: the ID token's nonce does not match")
	ErrProvider      = errors.New("oidc: the provider refused the sign-in")
	ErrExchange      = errors.New("oidc: the code exchange failed")
)

// New returns a Handler, reading the provider's discovery document when
// DiscoveryURL is set.
func New(ctx context.Context, cfg Config) (*Handler, error) {
	if cfg.ClientID == "" || cfg.RedirectURL == "" || cfg.States == nil || cfg.SignIn == nil {
		return nil, errors.New("oidc: Config.ClientID, RedirectURL, States and SignIn are required")
	}
	redirect, err := url.Parse(cfg.RedirectURL)
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		return nil, fmt.Errorf("oidc: RedirectURL %q is not an http(s) URL", cfg.RedirectURL)
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	var p *oidc.Provider
	if cfg.DiscoveryURL != "" {
		issuer := strings.TrimSuffix(strings.TrimSuffix(cfg.DiscoveryURL, "/.well-known/openid-configuration"), "/")
		if p, err = oidc.NewProvider(ctx, issuer); err != nil {
			return nil, fmt.Errorf("oidc: discovery at %s: %w", cfg.DiscoveryURL, err)
		}
	} else {
		if cfg.Issuer == "" || cfg.AuthURL == "" || cfg.TokenURL == "" || cfg.JWKSURL == "" {
			return nil, errors.New("oidc: without DiscoveryURL, Issuer, AuthURL, TokenURL and JWKSURL are required")
		}
		p = (&oidc.ProviderConfig{IssuerURL: cfg.Issuer, AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL,
			UserInfoURL: cfg.UserInfoURL, JWKSURL: cfg.JWKSURL}).NewProvider(ctx)
	}
	scopes := append([]string(nil), cfg.Scopes...)
	hasOpenID := false
	for _, s := range scopes {
		hasOpenID = hasOpenID || s == oidc.ScopeOpenID
	}
	if !hasOpenID {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	var meta struct {
		Issuer     string `json:"issuer"`
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	h := &Handler{
		cfg:      cfg,
		provider: p,
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now}),
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: cfg.RedirectURL, Scopes: scopes},
		issuer:  meta.Issuer,
		secure:  redirect.Scheme == "https",
		endSess: meta.EndSession,
	}
	if h.issuer == "" {
		h.issuer = cfg.Issuer
	}
	if cfg.EndSessionURL != "" {
		h.endSess = cfg.EndSessionURL
	}
	h.cookie = "mlflowauth_login"
	if h.secure {
		// __Host-: only this host, only over HTTPS, path "/": no sibling
		// domain can plant a pending login in this browser.
		h.cookie = "__Host-mlflowauth_login"
	}
	return h, nil
}

// EndSessionURL is the provider's end_session_endpoint, if it has one.
func (h *Handler) EndSessionURL() string { return h.endSess }

// Logout ends the browser's session and, where the provider has an end
// session endpoint, sends the browser there to end the provider's too
// (OpenID RP-initiated logout: id_token_hint, which Okta needs,
// post_logout_redirect_uri and client_id; Cognito's logout takes
// client_id and logout_uri). After that, or without one, the browser
// lands on this site's root.
func (h *Handler) Logout(s *Sessions) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hint, err := s.End(w, r)
		if err != nil {
			h.cfg.Logger.WarnContext(r.Context(), "oidc: ending the session", "error", err)
		}
		w.Header().Set("Cache-Control", "no-store")
		home := h.home()
		if h.endSess == "" {
			http.Redirect(w, r, home, http.StatusFound)
			return
		}
		u, err := url.Parse(h.endSess)
		if err != nil {
			http.Redirect(w, r, home, http.StatusFound)
			return
		}
		q := u.Query()
		q.Set("client_id", h.cfg.ClientID)
		if strings.HasSuffix(u.Hostname(), ".amazoncognito.com") {
			q.Set("logout_uri", home)
		} else {
			q.Set("post_logout_redirect_uri", home)
			if hint != "" {
				q.Set("id_token_hint", hint)
			}
		}
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
}

// home is this site's root, from the registered redirect URL.
func (h *Handler) home() string {
	u, _ := url.Parse(h.cfg.RedirectURL)
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/"}).String()
}

// pending is a login between /login and /callback.
type pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier,omitempty"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeKey is where a pending login is kept: a hash of the browser's
// cookie, so the store holds nothing a thief could send back.
func storeKey(cookie string) string {
	sum := sha256.Sum256([]byte("mlflowauth login\x00" + cookie))
	return "login:" + hex.EncodeToString(sum[:])
}

// Login shows the sign-in page, whose button (or, with AutoRedirect, the
// page itself) starts a sign-in: state, nonce and PKCE verifier are kept
// under a cookie bound to this browser, and the browser goes to the
// provider.
func (h *Handler) Login(w http.ResponseWriter, r *http.Request) {
	next := SafeNext(r.URL.Query().Get("next"))
	if !h.cfg.AutoRedirect && r.URL.Query().Get("start") == "" {
		name := h.cfg.ProviderName
		if name == "" {
			name = "Login with SSO"
		}
		start := h.cfg.LoginPath + "?" + url.Values{"start": {"1"}, "next": {next}}.Encode()
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = signInTmpl.Execute(w, map[string]string{"Name": name, "Start": start, "Favicon": h.cfg.Favicon})
		return
	}
	h.start(w, r, next)
}

// pageStyle is the sign-in and error pages' look: the web UI's colours
// and type, a card on MLflow's light background.
const pageStyle = `<style>
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933; background: #fafbfc; }
main { max-width: 26rem; margin: 12vh auto; padding: 2rem 2.25rem; background: #fff; border: 1px solid #e4e7eb; border-radius: 8px; text-align: center; box-shadow: 0 1px 3px rgba(0,0,0,.06); }
.brand { font-size: 1.6rem; font-weight: 600; letter-spacing: -.01em; margin: 0 0 .25rem; }
.brand span { color: #0b6bcb; }
p { color: #616e7c; margin: .5rem 0 1.25rem; }
a.button { display: inline-block; padding: .6rem 1.4rem; border-radius: 4px; background: #0b6bcb; color: #fff; text-decoration: none; font-weight: 500; }
a.button:hover { background: #0a5ca9; }
</style>`

var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to MLflow</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{{with .Favicon}}<link rel="icon" href="{{.}}">{{end}}` + pageStyle + `</head>
<body><main>
<h1 class="brand">ml<span>flow</span></h1>
<p>Sign in to use MLflow.</p>
<a id="sign-in" class="button" href="{{.Start}}">{{.Name}}</a>
</main></body></html>`))

func (h *Handler) start(w http.ResponseWriter, r *http.Request, next string) {
	p := pending{State: random(), Nonce: random(), Next: next, Expires: h.cfg.Now().Add(h.cfg.StateTTL)}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(p.Nonce)}
	if !h.cfg.DisablePKCE {
		p.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(p.Verifier))
	}
	b, _ := json.Marshal(p)
	cookie := random()
	if err := h.commit(r.Context(), storeKey(cookie), b, p.Expires); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "oidc: could not keep the login state", "error", err)
		h.page(w, http.StatusServiceUnavailable, "Sign-in is unavailable", "The gateway could not start a sign-in. Try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.cookie, Value: cookie, Path: "/", MaxAge: int(h.cfg.StateTTL.Seconds()),
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.oauth.AuthCodeURL(p.State, opts...), http.StatusFound)
}

// Callback finishes a sign-in: the pending login is taken (once), the
// state, issuer, code and nonce checked, and the verified login handed to
// SignIn.
func (h *Handler) Callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, h.cfg.HTTPClient)
	}
	l, err := h.verify(ctx, r)
	// The pending login is used up whatever happened.
	http.SetCookie(w, &http.Cookie{Name: h.cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		h.cfg.Logger.WarnContext(ctx, "oidc: sign-in refused", "error", err)
		status, msg := http.StatusBadRequest, "This sign-in could not be completed: it expired, was already used, or started in another browser."
		switch {
		case errors.Is(err, ErrProvider):
			msg = "The identity provider refused the sign-in: " + err.Error()
		case errors.Is(err, ErrExchange):
			status, msg = http.StatusBadGateway, "The identity provider did not confirm the sign-in."
		case errors.Is(err, ErrIssuer), errors.Is(err, ErrNonce):
			msg = "The sign-in response did not match the request."
		}
		h.page(w, status, "Sign-in failed", msg)
		return
	}
	if err := h.cfg.SignIn.SignIn(ctx, w, r, l); err != nil {
		h.cfg.Logger.WarnContext(ctx, "oidc: sign-in refused", "issuer", l.Issuer, "subject", l.Subject, "error", err)
		msg, ok := errorsAsRefusal(err)
		if !ok {
			msg = "Your sign-in could not be completed. Ask an administrator."
		}
		h.page(w, http.StatusForbidden, "Access denied", msg)
	}
}

func (h *Handler) verify(ctx context.Context, r *http.Request) (*Login, error) {
	q := r.URL.Query()
	c, err := r.Cookie(h.cookie)
	if err != nil || c.Value == "" {
		return nil, ErrNoLogin
	}
	b, found, err := h.take(ctx, storeKey(c.Value))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrNoLogin
	}
	var p pending
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: unreadable state", ErrNoLogin)
	}
	if !h.cfg.Now().Before(p.Expires) {
		return nil, fmt.Errorf("%w: expired", ErrNoLogin)
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(p.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if e := q.Get("error"); e != "" {
		desc := q.Get("error_description")
		if desc != "" {
			e += ": " + desc
		}
		return nil, fmt.Errorf("%w: %s", ErrProvider, e)
	}
	// RFC 9207: a provider that names itself must name the one asked.
	if iss := q.Get("iss"); iss != "" && iss != h.issuer {
		return nil, fmt.Errorf("%w: %q", ErrIssuer, iss)
	}
	code := q.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: no code", ErrExchange)
	}
	var opts []oauth2.AuthCodeOption
	if p.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(p.Verifier))
	}
	tok, err := h.oauth.Exchange(ctx, code, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrExchange, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: no id_token", ErrExchange)
	}
	idt, err := h.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: ID token: %v", ErrExchange, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return nil, ErrNonce
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrExchange, err)
	}
	return &Login{Issuer: idt.Issuer, Subject: idt.Subject, Claims: claims, IDToken: raw, Token: tok, Next: p.Next}, nil
}

// take reads a pending login and deletes it. A store that can do both at
// once (store.SessionData: DELETE ... RETURNING) makes it single use
// across replicas too; otherwise it is single use within this process.
func (h *Handler) take(ctx context.Context, key string) ([]byte, bool, error) {
	if t, ok := h.cfg.States.(interface {
		TakeCtx(context.Context, string) ([]byte, bool, error)
	}); ok {
		b, found, err := t.TakeCtx(ctx, key)
		if err != nil {
			return nil, false, fmt.Errorf("oidc: reading the login state: %w", err)
		}
		return b, found, nil
	}
	h.takeMu.Lock()
	defer h.takeMu.Unlock()
	b, found, err := h.find(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("oidc: reading the login state: %w", err)
	}
	if found {
		if err := h.delete(ctx, key); err != nil {
			return nil, false, fmt.Errorf("oidc: using up the login state: %w", err)
		}
	}
	return b, found, nil
}

// commit, find and delete use a store's context methods (scs.CtxStore)
// when it has them: some stores (scs's goredisstore) panic without a
// context.
func (h *Handler) commit(ctx context.Context, key string, b []byte, expiry time.Time) error {
	if c, ok := h.cfg.States.(interface {
		CommitCtx(context.Context, string, []byte, time.Time) error
	}); ok {
		return c.CommitCtx(ctx, key, b, expiry)
	}
	return h.cfg.States.Commit(key, b, expiry)
}

func (h *Handler) find(ctx context.Context, key string) ([]byte, bool, error) {
	if c, ok := h.cfg.States.(interface {
		FindCtx(context.Context, string) ([]byte, bool, error)
	}); ok {
		return c.FindCtx(ctx, key)
	}
	return h.cfg.States.Find(key)
}

func (h *Handler) delete(ctx context.Context, key string) error {
	if c, ok := h.cfg.States.(interface {
		DeleteCtx(context.Context, string) error
	}); ok {
		return c.DeleteCtx(ctx, key)
	}
	return h.cfg.States.Delete(key)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
{{with .Favicon}}<link rel="icon" href="{{.}}">{{end}}` + pageStyle + `</head>
<body><main>
<h1 class="brand">{{.Title}}</h1><p>{{.Message}}</p><a class="button" href="{{.Login}}">Sign in again</a>
</main></body></html>`))

// page answers a browser with a short HTML page.
func (h *Handler) page(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, map[string]string{"Title": title, "Message": msg, "Login": h.cfg.LoginPath, "Favicon": h.cfg.Favicon})
}
