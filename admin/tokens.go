package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// Prefix is where mlflowauth's own routes live.
const Prefix = "/api/2.0/mlflowauth/"

// accessTokenName names the token mlflow-oidc-auth's access-token route
// makes: a new one replaces the last one made there, as the plugin's
// single token per user did.
const accessTokenName = "access-token"

func (a *API) register() {
	a.registerUsers()
	a.registerGrants()
	a.registerPermissions()
	a.registerSCIM()
	a.route(Prefix+"tokens", false, map[string]op{http.MethodGet: listTokens, http.MethodPost: createToken, http.MethodDelete: revokeToken})
	a.route(Prefix+"sessions/revoke-all", false, map[string]op{http.MethodPost: revokeSessions})
	a.route(Prefix+"audit", false, map[string]op{http.MethodGet: auditTrail})
	a.route(Prefix+"explain", false, map[string]op{http.MethodGet: explain})
}

// tokenFor is whose tokens a request is about: the caller's, or with
// "username" anyone's for an administrator.
func (c *call) tokenFor() (store.User, error) {
	name, given, err := c.optStr("username")
	if err != nil {
		return store.User{}, err
	}
	if !given || name == "" {
		name = c.subj.Username
	}
	if err := c.requireSelf(name); err != nil {
		return store.User{}, err
	}
	return c.user(name)
}

// expiry reads an expiry: "expiration" (ISO 8601, mlflow-oidc-auth's) or
// "expires_in_days"; at most MaxTokenDays ahead, and in the future.
func (c *call) expiry(def time.Time) (time.Time, error) {
	now := c.a.cfg.Now()
	var at time.Time
	if s, ok, err := c.optStr("expiration"); err != nil {
		return at, err
	} else if ok && s != "" {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if at, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		if at.IsZero() {
			return at, badParam(fmt.Sprintf("Invalid expiration '%s': an ISO 8601 date or time", s))
		}
	} else if s, ok, err := c.optStr("expires_in_days"); err != nil {
		return at, err
	} else if ok {
		days, err := strconv.Atoi(s)
		if err != nil || days < 1 {
			return at, badParam("expires_in_days must be a whole number of days, 1 or more")
		}
		at = now.AddDate(0, 0, days)
	} else {
		at = def
	}
	if err := basic.CheckExpiry(at, now, c.a.cfg.MaxTokenDays); err != nil {
		return at, badParam(fmt.Sprintf("The expiry must be in the future and at most %d days ahead", c.a.cfg.MaxTokenDays))
	}
	return at, nil
}

// mint makes a token for u and returns its record and secret.
func (c *call) mint(u store.User, name string, expires time.Time) (store.Token, string, error) {
	secret, err := basic.NewToken()
	if err != nil {
		return store.Token{}, "", err
	}
	h, err := basic.ParseToken(secret)
	if err != nil {
		return store.Token{}, "", err
	}
	t, err := c.a.cfg.Store.CreateToken(c.writeCtx(), store.Token{Username: u.Username, Name: name, Hash: h[:],
		Prefix: basic.TokenDisplayPrefix(secret), ExpiresAt: expires})
	if err != nil {
		return store.Token{}, "", err
	}
	c.audit("token.create", u.Username, fmt.Sprintf("%s (id %d), expires %s", name, t.ID, expires.UTC().Format(time.RFC3339)))
	return t, secret, nil
}

// accessToken is mlflow-oidc-auth's PATCH users/access-token.
func accessToken(c *call) error {
	u, err := c.tokenFor()
	if err != nil {
		return err
	}
	expires, err := c.expiry(c.a.cfg.Now().AddDate(0, 0, c.a.cfg.MaxTokenDays))
	if err != nil {
		return err
	}
	old, err := c.a.cfg.Store.ListTokens(c.ctx(), u.Username)
	if err != nil {
		return err
	}
	now := c.a.cfg.Now()
	for _, t := range old {
		if t.Name == accessTokenName && t.Live(now) {
			if err := c.a.cfg.Store.RevokeToken(c.writeCtx(), u.Username, t.ID); err != nil {
				return err
			}
			c.audit("token.revoke", u.Username, fmt.Sprintf("%s (id %d), replaced", t.Name, t.ID))
		}
	}
	_, secret, err := c.mint(u, accessTokenName, expires)
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"token": secret, "message": fmt.Sprintf("Token for %s has been created", u.Username)})
}

// tokenJSON is a token without its secret.
func tokenJSON(t store.Token, now time.Time) map[string]any {
	m := map[string]any{"id": t.ID, "name": t.Name, "prefix": t.Prefix, "created_at": t.CreatedAt, "expires_at": t.ExpiresAt, "live": t.Live(now)}
	return withUse(m, t.LastUsedAt, t.RevokedAt)
}

// withUse adds a token's last use and revocation to m: null when never.
func withUse(m map[string]any, lastUsed, revoked time.Time) map[string]any {
	m["last_used_at"], m["revoked_at"] = nil, nil
	if !lastUsed.IsZero() {
		m["last_used_at"] = lastUsed
	}
	if !revoked.IsZero() {
		m["revoked_at"] = revoked
	}
	return m
}

func listTokens(c *call) error {
	u, err := c.tokenFor()
	if err != nil {
		return err
	}
	ts, err := c.a.cfg.Store.ListTokens(c.ctx(), u.Username)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenJSON(t, c.a.cfg.Now()))
	}
	return c.ok(map[string]any{"tokens": out})
}

// createToken makes a named token; the secret is in this answer only.
func createToken(c *call) error {
	u, err := c.tokenFor()
	if err != nil {
		return err
	}
	name, err := c.tokenName()
	if err != nil {
		return err
	}
	expires, err := c.expiry(c.a.cfg.Now().AddDate(0, 0, 90))
	if err != nil {
		return err
	}
	t, secret, err := c.mint(u, name, expires)
	if errors.Is(err, store.ErrConflict) {
		return alreadyExists(fmt.Sprintf("A live token named '%s' already exists", name))
	}
	if err != nil {
		return err
	}
	return c.ok(map[string]any{"token": tokenJSON(t, c.a.cfg.Now()), "secret": secret})
}

func revokeToken(c *call) error {
	u, err := c.tokenFor()
	if err != nil {
		return err
	}
	id, err := c.tokenID()
	if err != nil {
		return err
	}
	if err := c.a.cfg.Store.RevokeToken(c.writeCtx(), u.Username, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(fmt.Sprintf("No token %d of %s", id, u.Username))
		}
		return err
	}
	c.audit("token.revoke", u.Username, fmt.Sprintf("id %d", id))
	return c.ok(map[string]any{})
}

// revokeSessions is "sign out everywhere": every browser session of the
// user ends, on every replica.
func revokeSessions(c *call) error {
	u, err := c.tokenFor()
	if err != nil {
		return err
	}
	n, err := c.a.cfg.Store.RevokeUserSessions(c.writeCtx(), u.Username)
	if err != nil {
		return err
	}
	c.audit("sessions.revoke", u.Username, fmt.Sprintf("%d sessions", n))
	return c.ok(map[string]any{"revoked": n})
}

// tokenName reads the body's "name": an access or SCIM token's.
func (c *call) tokenName() (string, error) {
	name, err := c.str("name")
	if err != nil {
		return "", err
	}
	if !validTokenName(name) {
		return "", badParam("A token's name is at most 100 characters, with no control characters")
	}
	return name, nil
}

// tokenID reads the body's "id": an access or SCIM token's.
func (c *call) tokenID() (int64, error) {
	s, err := c.str("id")
	if err != nil {
		return 0, err
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, badParam("A token's id is a number")
	}
	return id, nil
}

// auditTrail lists the audit trail, newest first (admins).
func auditTrail(c *call) error {
	if err := c.requireAdmin(); err != nil {
		return err
	}
	q := c.r.URL.Query()
	before, limit := int64(0), 100
	if s := q.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return badParam("before is an entry id")
		}
		before = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return badParam("limit is a number from 1 to 1000")
		}
		limit = n
	}
	entries, err := c.a.cfg.Store.AuditLog(c.ctx(), before, limit)
	if err != nil {
		return err
	}
	out := make([]any, 0, len(entries))
	for _, e := range entries {
		out = append(out, map[string]any{"id": e.ID, "at": e.At, "actor": e.Actor, "action": e.Action, "target": e.Target, "detail": e.Detail})
	}
	return c.ok(map[string]any{"entries": out})
}

// explain says what level a user has on a resource and what decided it
// (self, or anyone for an admin).
func explain(c *call) error {
	name, given, err := c.optStr("username")
	if err != nil {
		return err
	}
	if !given || name == "" {
		name = c.subj.Username
	}
	if err := c.requireSelf(name); err != nil {
		return err
	}
	r, err := typed(c)
	if err != nil {
		return err
	}
	if n, ok, err := c.optStr("resource_name"); err != nil {
		return err
	} else if ok {
		r.Name = n
	}
	d := c.decideFor(name, r)
	out := map[string]any{"username": auth.NormalizeUsername(name), "resource_type": r.Kind.String(), "resource_id": r.ID,
		"permission": d.Level.String(), "source": d.Source.String(), "explanation": d.Explain()}
	if d.Group != "" {
		out["group"] = d.Group
	}
	if d.Rule != nil {
		out["rule"] = map[string]any{"id": d.Rule.ID, "pattern": d.Rule.Pattern, "priority": d.Rule.Priority}
	}
	if d.Via == permission.RegisteredModel {
		out["via"] = "registered_model"
	}
	return c.ok(out)
}
