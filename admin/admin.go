package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// Decider is the permission engine: who may manage what is decided on its
// snapshot, as every other request is.
type Decider interface {
	Snapshot() *permission.Snapshot
}

// Names finds an experiment's name, so regex rules (which match names)
// count when deciding whether a caller manages an experiment. The
// gateway's *mlflow.Upstream satisfies it.
type Names interface {
	ExperimentName(ctx context.Context, id string) (string, error)
}

// GatewayNames finds the id of a gateway endpoint, secret or model
// definition by its name: mlflow-oidc-auth's routes name them, grants are
// kept by id. It returns an error wrapping ErrNoSuchObject when none has
// the name. The gateway adapts its *mlflow.Upstream to it.
type GatewayNames interface {
	GatewayID(ctx context.Context, kind permission.Kind, name string) (string, error)
}

// ErrNoSuchObject is what a GatewayNames lookup wraps for a name nothing
// has.
var ErrNoSuchObject = errors.New("admin: no such object")

// Config configures the API. Store and Engine are required.
type Config struct {
	Store  *store.Store
	Engine Decider
	// Names, when set, resolves experiment names for regex rules; without
	// it only explicit grants make a non-admin an experiment's manager.
	Names Names
	// Gateways, when set, serves mlflow-oidc-auth's gateway routes, which
	// name the objects.
	Gateways GatewayNames
	// MaxTokenDays bounds a token's expiry (ACCESS_TOKEN_MAX_DAYS; 366).
	MaxTokenDays int
	// Secret keys the web UI's CSRF tokens (SECRET_KEY, so any replica
	// takes a form another served); random per process when empty.
	Secret []byte
	// Favicon is the icon the web UI's pages show (the gateway passes
	// MLflow's own); none when empty.
	Favicon string
	// SecureCookies marks the UI's cookie Secure behind a TLS-terminating
	// load balancer (OIDC_REDIRECT_URI is https).
	SecureCookies bool
	// SSORevalidateDays is SSO_REVALIDATE_DAYS: the tokens page says when
	// the user's tokens stop unless they sign in through SSO again.
	SSORevalidateDays int
	Logger            *slog.Logger
	Now               func() time.Time
}

// API is the management API: MLflow's own admin routes (up to 3.12, and
// 3.13's users/permissions), mlflow-oidc-auth's, and mlflowauth's (named
// tokens, sign out everywhere, the audit trail, explanations).
type API struct {
	cfg    Config
	routes map[string]http.Handler
}

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, errors.New("admin: Config.Store and Engine are required")
	}
	if cfg.MaxTokenDays <= 0 {
		cfg.MaxTokenDays = basic.DefaultMaxTokenDays
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, err
		}
	}
	a := &API{cfg: cfg, routes: map[string]http.Handler{}}
	a.register()
	if err := a.registerUI(); err != nil {
		return nil, fmt.Errorf("admin: the web UI's templates: %w", err)
	}
	return a, nil
}

// Routes are the API's paths (exact, or a prefix when ending in "/"), for
// the gateway to serve behind authentication instead of proxying them.
// Each handler needs the caller's auth.Identity in the request context.
func (a *API) Routes() map[string]http.Handler { return a.routes }

// op is one operation of a route.
type op func(c *call) error

// route registers path (and its /ajax-api twin when twin is set) with an
// operation per method.
func (a *API) route(path string, twin bool, methods map[string]op) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := methods[r.Method]
		if !ok {
			writeError(w, &auth.Error{Status: http.StatusMethodNotAllowed, Code: auth.CodeEndpointNotFound,
				Message: fmt.Sprintf("%s is not served for %s", r.Method, r.URL.Path)})
			return
		}
		a.serve(w, r, f)
	})
	a.routes[path] = h
	if twin {
		a.routes[strings.Replace(path, "/api/", "/ajax-api/", 1)] = h
	}
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, f op) {
	id, ok := auth.FromRequest(r)
	if !ok {
		writeError(w, auth.Unauthenticated(""))
		return
	}
	snap := a.cfg.Engine.Snapshot()
	c := &call{a: a, w: w, r: r, id: id, snap: snap, subj: snap.Subject(id.Username, id.Groups)}
	w.Header().Set("Cache-Control", "no-store")
	if err := c.readBody(); err != nil {
		writeError(w, err)
		return
	}
	if err := f(c); err != nil {
		var ae *auth.Error
		if !errors.As(err, &ae) {
			ae = storeError(err)
		}
		if ae.Status >= 500 {
			a.cfg.Logger.ErrorContext(r.Context(), "admin: "+r.URL.Path, "error", err)
		}
		writeError(w, ae)
	}
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Cache-Control", "no-store")
	auth.WriteError(w, err)
}

// storeError maps the store's errors onto MLflow's.
func storeError(err error) *auth.Error {
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		return badParam("The last active administrator cannot be deleted, demoted or deactivated: make another administrator first")
	case errors.Is(err, store.ErrInvalid):
		return badParam(strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
	case errors.Is(err, store.ErrConflict):
		return &auth.Error{Status: http.StatusBadRequest, Code: "RESOURCE_ALREADY_EXISTS", Message: strings.TrimPrefix(err.Error(), store.ErrConflict.Error()+": "), Err: err}
	case errors.Is(err, store.ErrNotFound):
		return notFound(strings.TrimPrefix(err.Error(), store.ErrNotFound.Error()+": "))
	}
	return auth.Unavailable("The gateway's database did not answer; try again", err)
}

func badParam(msg string) *auth.Error {
	return &auth.Error{Status: http.StatusBadRequest, Code: auth.CodeInvalidParameterValue, Message: msg}
}

func notFound(msg string) *auth.Error {
	return &auth.Error{Status: http.StatusNotFound, Code: auth.CodeResourceDoesNotExist, Message: msg}
}

func alreadyExists(msg string) *auth.Error {
	return &auth.Error{Status: http.StatusBadRequest, Code: "RESOURCE_ALREADY_EXISTS", Message: msg}
}

// The admin API's refusals, each saying what would have been needed.
var (
	errNotAdmin = auth.PermissionDenied("Only administrators may do this.")
	errNotSelf  = auth.PermissionDenied("You may do this for your own account only; administrators for anyone.")
	errInactive = auth.PermissionDenied("This account is deactivated.")
)

// notManager refuses a caller who does not manage r.
func notManager(r permission.Resource) error {
	return auth.PermissionDenied(fmt.Sprintf("MANAGE on this %s is needed to see or change who may use it.", r.Kind))
}

// maxBody bounds an admin request's JSON.
const maxBody = 1 << 20

// call is one request to the API.
type call struct {
	a    *API
	w    http.ResponseWriter
	r    *http.Request
	id   *auth.Identity
	snap *permission.Snapshot
	subj permission.Subject
	body map[string]json.RawMessage // the JSON body's top-level fields, when it has one
}

func (c *call) ctx() context.Context { return c.r.Context() }

// readBody reads a JSON body: writes accept JSON only (no form can post
// one across origins), a DELETE may send its fields as a query instead,
// and a field given twice is refused rather than guessed at.
func (c *call) readBody() error {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		return nil
	}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if ct != "application/json" {
		if c.r.Method == http.MethodDelete || c.r.ContentLength == 0 && c.r.Method == http.MethodPatch && strings.HasSuffix(c.r.URL.Path, "/access-token") {
			return nil // fields in the query (DELETE), or none at all
		}
		return &auth.Error{Status: http.StatusBadRequest, Code: auth.CodeBadRequest, Message: "Invalid content type. Must be application/json"}
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		return &auth.Error{Status: http.StatusBadRequest, Code: auth.CodeBadRequest, Message: "The request body could not be read", Err: err}
	}
	if len(b) > maxBody {
		return &auth.Error{Status: http.StatusRequestEntityTooLarge, Code: auth.CodeBadRequest, Message: "The request body is larger than 1 MiB"}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		c.body = map[string]json.RawMessage{}
		return nil
	}
	fields, err := objectFields(b)
	if err != nil {
		return badParam("Malformed JSON body: " + err.Error())
	}
	c.body = fields
	return nil
}

// objectFields reads a JSON object's top-level fields, refusing a field
// given twice.
func objectFields(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%q given twice", key)
		}
		out[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return nil, errors.New("data after the object")
	}
	return out, nil
}

// has reports whether the request names field.
func (c *call) has(field string) bool {
	if c.body != nil {
		_, ok := c.body[field]
		return ok
	}
	return c.r.URL.Query().Has(field)
}

// str reads a string field from the body, or from the query when the
// request has no JSON body. Missing or empty is an error naming it.
func (c *call) str(field string) (string, error) {
	v, ok, err := c.optStr(field)
	if err != nil {
		return "", err
	}
	if !ok || v == "" {
		return "", badParam(fmt.Sprintf("Missing value for required parameter '%s'.", field))
	}
	return v, nil
}

func (c *call) optStr(field string) (string, bool, error) {
	if c.body != nil {
		raw, ok := c.body[field]
		if !ok || string(raw) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			// MLflow's clients send ids as strings, some scripts as numbers.
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return "", false, badParam(fmt.Sprintf("Invalid value for parameter '%s': expected a string", field))
			}
			s = n.String()
		}
		return s, true, nil
	}
	q := c.r.URL.Query()
	if vs, ok := q[field]; ok {
		if len(vs) > 1 {
			return "", false, badParam(fmt.Sprintf("Parameter '%s' given more than once", field))
		}
		return vs[0], true, nil
	}
	return "", false, nil
}

func (c *call) boolean(field string) (bool, error) {
	if c.body != nil {
		raw, ok := c.body[field]
		if !ok {
			return false, badParam(fmt.Sprintf("Missing value for required parameter '%s'.", field))
		}
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return false, badParam(fmt.Sprintf("Invalid value for parameter '%s': expected true or false", field))
		}
		return b, nil
	}
	s, err := c.str(field)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badParam(fmt.Sprintf("Invalid value for parameter '%s': expected true or false", field))
}

func (c *call) level(field string) (permission.Level, error) {
	s, err := c.str(field)
	if err != nil {
		return 0, err
	}
	l, err := permission.ParseLevel(s)
	if err != nil {
		return 0, badParam(err.Error())
	}
	return l, nil
}

func (c *call) isAdmin() bool { return c.subj.Admin && c.subj.Active }

func (c *call) requireAdmin() error {
	if !c.isAdmin() {
		return errNotAdmin
	}
	return nil
}

// requireSelf lets the caller act on username: themselves, or anyone
// when an administrator.
func (c *call) requireSelf(username string) error {
	if c.isAdmin() || (c.subj.Active && auth.NormalizeUsername(username) == c.subj.Username) {
		return nil
	}
	return errNotSelf
}

// named fills in an experiment's name, so regex rules (which match names)
// count in a decision; only when there are experiment rules to match, and
// only if MLflow can say (else explicit grants alone decide).
func (c *call) named(r permission.Resource) permission.Resource {
	if r.Kind == permission.Experiment && r.Name == "" && c.a.cfg.Names != nil && c.snap.HasRules(permission.Experiment) {
		if name, err := c.a.cfg.Names.ExperimentName(c.ctx(), r.ID); err == nil {
			r.Name = name
		}
	}
	return r
}

// userGrants are the grants made to username itself (not its groups).
func (c *call) userGrants(username string) ([]permission.Grant, error) {
	p := permission.ForUser(username)
	return c.a.cfg.Store.ListGrants(c.ctx(), store.GrantFilter{Principal: &p})
}

// validTokenName: at most 100 characters, none of them control characters.
func validTokenName(name string) bool {
	return name != "" && len(name) <= 100 && !strings.ContainsFunc(name, func(r rune) bool { return r < ' ' })
}

// manages reports whether the caller may grant on r: an administrator,
// or MANAGE on it as every other request is decided. It is asked before
// anything is looked up, so a refusal says nothing of what exists.
func (c *call) manages(r permission.Resource) bool {
	if c.isAdmin() {
		return true
	}
	r = c.named(r)
	if c.snap.Decide(c.subj, r).Allows(permission.CanManage) {
		return true
	}
	// A scorer belongs to its experiment: the experiment's manager
	// manages it too (mlflow-oidc-auth's check_experiment_manage_permission).
	return r.Kind == permission.Scorer && c.manages(permission.Resource{Kind: permission.Experiment, ID: r.ID})
}

func (c *call) json(status int, v any) error {
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	return json.NewEncoder(c.w).Encode(v)
}

func (c *call) ok(v any) error { return c.json(http.StatusOK, v) }

// audit records an administrative action in the store's audit trail
// (what the admin UI lists); the gateway's audit log reports the change
// itself from the feed.
func (c *call) audit(action, target, detail string) {
	if err := c.a.cfg.Store.Audit(c.ctx(), store.AuditEntry{At: c.a.cfg.Now(), Actor: c.subj.Username, Action: action, Target: target, Detail: detail}); err != nil {
		c.a.cfg.Logger.WarnContext(c.ctx(), "admin: writing the audit trail", "error", err, "action", action)
	}
}

// writeCtx names the caller as the actor of what the request writes.
func (c *call) writeCtx() context.Context { return store.WithActor(c.ctx(), c.subj.Username) }
