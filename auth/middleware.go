package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Authenticator establishes who a request comes from.
//
// It returns ErrNoCredentials when the request carries no credentials of its
// kind, and the chain asks the next authenticator. Any other error means the
// credentials were its kind and are not valid: the request is answered at once
// (401, or the status of an *Error) and no later authenticator is asked.
//
// Authenticate must not modify the request, and must not put a secret in an
// error's text: errors are logged.
type Authenticator interface {
	Authenticate(r *http.Request) (*Identity, error)
}

// AuthenticatorFunc adapts a function to an Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Identity, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Identity, error) { return f(r) }

// Config configures Middleware. The zero value protects every path but
// MLflow's static assets, answers API requests and browsers alike with a 401
// and the Basic challenge, and logs to slog.Default().
type Config struct {
	// Public paths are served without credentials. They are matched
	// exactly against the canonical path: "/health" does not make
	// "/health/" or "/Health" public.
	Public []string
	// StaticPrefix is MLflow's --static-prefix (MLFLOW_STATIC_PREFIX), such
	// as "/mlflow". MLflow's static assets under StaticPrefix+"/static-files/"
	// are public, as MLflow itself serves them.
	StaticPrefix string
	// PublicRequest, when set, decides which requests (beyond Public and
	// LoginPath) are served without credentials, in place of the static
	// prefix rule: the gateway passes the unprotected rows of MLflow's
	// endpoint table (mlflow.Authorizer.Public), so the middleware and the
	// authorizer behind it agree on one definition of public.
	PublicRequest func(method, path string) bool
	// LoginPath is where a browser navigation without credentials is sent
	// (with ?next=), when single sign-on is on. It is public. Empty means
	// browsers get the Basic challenge, as MLflow's basic-auth does.
	LoginPath string
	// SessionCookie is the name of the session cookie. A 401 to a request
	// that carries it has no Basic challenge, so an expired session does not
	// make the browser pop up its password dialog over the MLflow UI.
	SessionCookie string
	// Schemes are Authorization schemes besides Basic and Bearer that an
	// authenticator of yours handles; the middleware refuses any other.
	Schemes []string
	// Realm is the Basic challenge's realm; "mlflow" when empty.
	Realm string
	// Logger receives authentication failures at debug level and
	// authenticator faults at error level; slog.Default() when nil.
	Logger *slog.Logger
}

type middleware struct {
	cfg            Config
	public         map[string]struct{}
	staticPrefix   string
	challenge      string
	authenticators []Authenticator
	next           http.Handler
}

// Middleware returns middleware that authenticates every request that is not
// public with the first authenticator that recognises its credentials, and
// stores the Identity in the request context (see FromContext).
//
// Before anything else the path must be canonical (CanonicalPath), else the
// request is answered 400: public paths and, later, MLflow endpoints are
// matched on that one canonical path. A malformed Authorization header is a
// 401 saying what is wrong with it.
//
// A request without credentials gets 401 UNAUTHENTICATED as MLflow's JSON,
// with "WWW-Authenticate: Basic" unless it carries the session cookie or
// comes from a page's script (Sec-Fetch-Mode other than "navigate"). A
// browser navigation goes to LoginPath instead, when it is set.
func Middleware(cfg Config, authenticators ...Authenticator) func(http.Handler) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	realm := cfg.Realm
	if realm == "" {
		realm = "mlflow"
	}
	public := make(map[string]struct{}, len(cfg.Public)+1)
	for _, p := range cfg.Public {
		public[p] = struct{}{}
	}
	if cfg.LoginPath != "" {
		public[cfg.LoginPath] = struct{}{}
	}
	authns := append([]Authenticator(nil), authenticators...)
	return func(next http.Handler) http.Handler {
		return &middleware{
			cfg:            cfg,
			public:         public,
			staticPrefix:   strings.TrimSuffix(cfg.StaticPrefix, "/") + "/static-files/",
			challenge:      `Basic realm="` + strings.ReplaceAll(realm, `"`, "") + `"`,
			authenticators: authns,
			next:           next,
		}
	}
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, err := CanonicalPath(r.URL.EscapedPath())
	if err != nil {
		WriteError(w, BadRequest(CodeBadRequest, "Invalid request path: "+err.(*PathError).Reason))
		return
	}
	if m.isPublic(r.Method, path) {
		m.next.ServeHTTP(w, r)
		return
	}
	if err := checkAuthorization(r.Header, m.cfg.Schemes); err != nil {
		m.fail(w, r, Unauthenticated(err.Error()))
		return
	}
	for _, a := range m.authenticators {
		id, err := a.Authenticate(r)
		if err != nil {
			if errors.Is(err, ErrNoCredentials) {
				continue
			}
			m.fail(w, r, err)
			return
		}
		if id == nil || id.Username == "" {
			// An authenticator that accepts without saying who is a bug;
			// letting the request through would be worse.
			m.cfg.Logger.ErrorContext(r.Context(), "authenticator accepted a request without a username",
				"authenticator", fmt.Sprintf("%T", a))
			m.fail(w, r, Unauthenticated(""))
			return
		}
		if u := NormalizeUsername(id.Username); u != id.Username {
			cp := *id
			cp.Username = u
			id = &cp
		}
		m.next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
		return
	}
	if scheme, _, ok, _ := splitAuthorization(r.Header); ok {
		m.fail(w, r, Unauthenticated("The "+scheme+" authorization scheme is not accepted by this server"))
		return
	}
	if m.cfg.LoginPath != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && isNavigation(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, m.cfg.LoginPath+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	m.fail(w, r, Unauthenticated(""))
}

func (m *middleware) isPublic(method, path string) bool {
	if _, ok := m.public[path]; ok {
		return true
	}
	if m.cfg.PublicRequest != nil {
		return m.cfg.PublicRequest(method, path)
	}
	return strings.HasPrefix(path, m.staticPrefix)
}

// fail answers an authentication failure. Errors that are not an *Error are
// 401s with MLflow's standard message; their text goes only to the log.
func (m *middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var he *headerError
	if errors.As(err, &he) {
		// A credential an authenticator found malformed: say exactly how.
		e = Unauthenticated(he.Error())
	} else if !errors.As(err, &e) {
		m.cfg.Logger.DebugContext(r.Context(), "authentication failed", "error", err)
		e = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: MessageUnauthenticated, Err: err}
	} else if e.Status >= 500 {
		m.cfg.Logger.ErrorContext(r.Context(), "authentication unavailable", "error", err)
	} else {
		m.cfg.Logger.DebugContext(r.Context(), "authentication failed", "error", err)
	}
	if e.Status == http.StatusUnauthorized && m.wantsChallenge(r) {
		w.Header().Set("WWW-Authenticate", m.challenge)
	}
	WriteError(w, e)
}

// wantsChallenge reports whether a 401 should carry the Basic challenge: not
// for a request with a session cookie, nor for a page's script, so that a
// browser never shows its password dialog over the MLflow UI.
func (m *middleware) wantsChallenge(r *http.Request) bool {
	if m.cfg.SessionCookie != "" {
		if _, err := r.Cookie(m.cfg.SessionCookie); err == nil {
			return false
		}
	}
	mode := r.Header.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

// isNavigation reports whether r is a browser loading a page. Browsers send
// Sec-Fetch-Mode; for the few that do not, an Accept that asks for HTML is
// taken as a navigation (MLflow's clients send "*/*").
func isNavigation(r *http.Request) bool {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
