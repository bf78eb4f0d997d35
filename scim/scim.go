package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	escim "github.com/elimity-com/scim"
	scimerr "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/mlflowauth/mlflowauth/store"
)

// Prefix is where the service is mounted: RFC 7644's base URL is this
// gateway's address followed by it.
const Prefix = "/scim/v2"

// MaxBody bounds a request body: a group's full member list in a PUT is
// the largest thing a client sends.
const MaxBody = 8 << 20

// pageSize is the most resources a list answers with (SCIM's MaxResults).
const pageSize = 200

// Token is a token from the configuration (SCIM_TOKEN): its SHA-256, and
// the name the audit log gives its client.
type Token struct {
	Name string
	Hash [sha256.Size]byte
}

// StaticToken returns the Token for secret, named name.
func StaticToken(name, secret string) Token {
	return Token{Name: name, Hash: sha256.Sum256([]byte(secret))}
}

// Config configures the service. Store is required.
type Config struct {
	Store *store.Store
	// Tokens are accepted beside the live SCIM tokens in the store.
	Tokens []Token
	// RemoveOnDelete makes DELETE /Users/{id} remove the account and its
	// grants (SCIM_DELETE=remove); by default the account is deactivated
	// and hidden from SCIM, its grants kept for a reactivation.
	RemoveOnDelete bool
	Logger         *slog.Logger
}

// Handler serves SCIM 2.0 at Prefix. It authenticates SCIM tokens itself:
// mount it outside the gateway's authentication, which must never accept
// a SCIM token, nor this handler any other credential.
type Handler struct {
	cfg    Config
	server escim.Server
}

// New returns the SCIM service.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("scim: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg}
	server, err := escim.NewServer(&escim.ServerArgs{
		ServiceProviderConfig: &escim.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/mlflowauth/mlflowauth#provisioning"),
			AuthenticationSchemes: []escim.AuthenticationScheme{{
				Type: escim.AuthenticationTypeOauthBearerToken, Name: "SCIM token", Primary: true,
				Description: "A SCIM token: SCIM_TOKEN, or one an administrator creates in the web UI.",
			}},
			MaxResults:       pageSize,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []escim.ResourceType{
			{
				ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
				Description: optional.NewString("A person with an account at the gateway"),
				Schema:      schema.CoreUserSchema(),
				SchemaExtensions: []escim.SchemaExtension{
					{Schema: schema.ExtensionEnterpriseUser()},
				},
				Handler: users{h},
			},
			{
				ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
				Description: optional.NewString("A group that permission rules and grants name"),
				Schema:      schema.CoreGroupSchema(),
				Handler:     groups{h},
			},
		},
	}, escim.WithLogger(slogAdapter{cfg.Logger}))
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	h.server = server
	return h, nil
}

// ServeHTTP authenticates the SCIM token, bounds and mends the body
// (see mend), and serves the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path != Prefix && !strings.HasPrefix(r.URL.Path, Prefix+"/") {
		writeError(w, scimerr.ScimError{Status: http.StatusNotFound, Detail: "Not a SCIM endpoint."})
		return
	}
	actor, err := h.authenticate(r)
	if err != nil {
		var se scimerr.ScimError
		if errors.As(err, &se) {
			if se.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="SCIM"`)
			}
			writeError(w, se)
			return
		}
		h.cfg.Logger.ErrorContext(r.Context(), "scim: reading SCIM tokens", "error", err)
		writeError(w, scimerr.ScimError{Status: http.StatusServiceUnavailable, Detail: "The gateway's database does not answer; try again."})
		return
	}
	r = r.WithContext(store.WithActor(r.Context(), actor))
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, scimerr.ScimError{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("The body is over %d bytes.", MaxBody)})
				return
			}
			writeError(w, scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidSyntax, Detail: "The body could not be read."})
			return
		}
		body, err = mend(body)
		if err != nil {
			writeError(w, scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidSyntax, Detail: err.Error()})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	http.StripPrefix("/scim", h.server).ServeHTTP(w, r)
}

// authenticate returns the actor the audit log names for the request's
// SCIM token ("scim:<token name>"), or a SCIM error.
func (h *Handler) authenticate(r *http.Request) (string, error) {
	raw, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		if on, err := h.on(r.Context()); err != nil || !on {
			return "", cmpErr(err, off)
		}
		return "", scimerr.ScimError{Status: http.StatusUnauthorized, Detail: "A SCIM token is needed: Authorization: Bearer <token>."}
	}
	sum := sha256.Sum256([]byte(raw))
	for _, t := range h.cfg.Tokens {
		if subtle.ConstantTimeCompare(sum[:], t.Hash[:]) == 1 {
			return "scim:" + t.Name, nil
		}
	}
	// The lookup is by the secret's hash: an index lookup compares
	// hashes, never secrets.
	t, err := h.cfg.Store.SCIMTokenByHash(r.Context(), sum[:])
	switch {
	case err == nil:
		return "scim:" + t.Name, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	if on, err := h.on(r.Context()); err != nil || !on {
		return "", cmpErr(err, off)
	}
	return "", scimerr.ScimError{Status: http.StatusUnauthorized, Detail: "The SCIM token is not valid: it may have been revoked."}
}

var off = scimerr.ScimError{Status: http.StatusNotFound,
	Detail: "SCIM provisioning is off: no SCIM token exists. Set SCIM_TOKEN, or create a SCIM token in the gateway's web UI (Admin › SCIM)."}

func cmpErr(err error, otherwise scimerr.ScimError) error {
	if err != nil {
		return err
	}
	return otherwise
}

// on reports whether SCIM is on: a token configured or stored.
func (h *Handler) on(ctx context.Context) (bool, error) {
	if len(h.cfg.Tokens) > 0 {
		return true, nil
	}
	return h.cfg.Store.HasSCIMTokens(ctx)
}

// bearer reads "Bearer <token>" (the scheme case-insensitively).
func bearer(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(header, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || len(tok) > 4096 {
		return "", false
	}
	return tok, true
}

// audit records what a SCIM client did in the store's audit trail.
func (h *Handler) audit(ctx context.Context, action, target, detail string) {
	if err := h.cfg.Store.Audit(ctx, store.AuditEntry{Actor: store.Actor(ctx), Action: action, Target: target, Detail: detail}); err != nil {
		h.cfg.Logger.WarnContext(ctx, "scim: writing the audit trail", "error", err, "action", action)
	}
}

// mend rewrites what identity providers send outside RFC 7644 into what
// it says, before the body is validated: Microsoft Entra ID's "active"
// as the strings "True" and "False" (in a PATCH's value, with or without
// a path, and in a POST or PUT body). Anything else is left as sent.
func mend(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return body, nil
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("the body is not JSON: %v", err)
	}
	if len(bytes.TrimSpace(body[d.InputOffset():])) > 0 {
		return nil, errors.New("the body holds more than one JSON value")
	}
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, errors.New("the body must be a JSON object")
	}
	changed := mendActive(m)
	if ops, ok := field(m, "Operations").([]any); ok {
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				continue
			}
			path, _ := field(op, "path").(string)
			switch v := field(op, "value").(type) {
			case string:
				if name, ok := attrName(path, userSchema); ok && name == "active" {
					if b, ok := parseBool(v); ok {
						setField(op, "value", b)
						changed = true
					}
				}
			case map[string]any:
				if path == "" && mendActive(v) {
					changed = true
				}
			}
		}
	}
	if !changed {
		return body, nil
	}
	return json.Marshal(m)
}

// mendActive turns a string "active" in m into a boolean.
func mendActive(m map[string]any) bool {
	changed := false
	for k, v := range m {
		if name, ok := attrName(k, userSchema); ok && name == "active" {
			if s, ok := v.(string); ok {
				if b, ok := parseBool(s); ok {
					m[k], changed = b, true
				}
			}
		}
	}
	return changed
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// field is m's value under name, compared case-insensitively as SCIM
// attribute names are.
func field(m map[string]any, name string) any {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func setField(m map[string]any, name string, v any) {
	for k := range m {
		if strings.EqualFold(k, name) {
			m[k] = v
			return
		}
	}
	m[name] = v
}

func writeError(w http.ResponseWriter, e scimerr.ScimError) {
	raw, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.Status)
	_, _ = w.Write(raw)
}

// storeErr turns the store's errors into SCIM's. Anything else is the
// store failing: logged, and a 500 that says only that (Okta and Entra
// retry a 5xx; a 4xx they take as final).
func (h *Handler) storeErr(r *http.Request, err error, what string) error {
	var se scimerr.ScimError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.Is(err, store.ErrNotFound):
		return scimerr.ScimErrorResourceNotFound(what)
	case errors.Is(err, store.ErrConflict):
		return scimerr.ScimError{Status: http.StatusConflict, ScimType: scimerr.ScimTypeUniqueness, Detail: what + " exists already."}
	case errors.Is(err, store.ErrLastAdmin):
		return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeMutability,
			Detail: "The gateway's last active administrator cannot be deactivated or removed."}
	case errors.Is(err, store.ErrInvalid):
		return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue,
			Detail: strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")}
	}
	h.cfg.Logger.ErrorContext(r.Context(), "scim: the store failed", "method", r.Method, "path", r.URL.Path, "error", err)
	return scimerr.ScimError{Status: http.StatusInternalServerError, Detail: "The gateway's database did not answer; try again."}
}

// The core schemas, whose URNs may qualify their attributes' names.
const (
	userSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// attrName is an attribute's name lower-cased, without its core schema's
// URN (RFC 7644 lets clients qualify names with it); ok is false for an
// attribute of another schema (an extension's).
func attrName(name, schemaURN string) (string, bool) {
	name = strings.TrimSpace(name)
	if len(name) > len(schemaURN) && strings.EqualFold(name[:len(schemaURN)+1], schemaURN+":") {
		return strings.ToLower(name[len(schemaURN)+1:]), true
	}
	if strings.HasPrefix(strings.ToLower(name), "urn:") {
		return "", false
	}
	return strings.ToLower(name), true
}

func invalidValue(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...)}
}

func mutability(format string, args ...any) error {
	return scimerr.ScimError{Status: http.StatusBadRequest, ScimType: scimerr.ScimTypeMutability, Detail: fmt.Sprintf(format, args...)}
}

// parseID reads a resource id: the store's numeric id.
func parseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

// page cuts a list by SCIM's 1-based startIndex and count.
func page[T any](all []T, startIndex, count int) []T {
	start := startIndex - 1
	if start >= len(all) {
		return all[:0]
	}
	end := min(len(all), start+count)
	return all[start:end]
}

func meta(created, modified time.Time) escim.Meta {
	m := escim.Meta{}
	if !created.IsZero() {
		m.Created = &created
	}
	if !modified.IsZero() {
		m.LastModified = &modified
	}
	return m
}

// slogAdapter is the library's logger on slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Error(args ...any) {
	a.l.Error("scim: " + fmt.Sprint(args...))
}

// tokenPrefix starts every SCIM token this package makes, so one found
// in a log or a repository is known for what it is.
const tokenPrefix = "mlfscim_"

// NewToken makes a SCIM token: the secret (shown to the administrator
// once), its SHA-256 (what is stored) and the start of it that tells
// tokens apart.
func NewToken() (secret string, hash [sha256.Size]byte, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", hash, "", err
	}
	secret = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, sha256.Sum256([]byte(secret)), secret[:len(tokenPrefix)+6], nil
}
