package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/usercache"
)

// SessionsConfig configures browser sessions.
type SessionsConfig struct {
	// Store holds session data: any scs.Store (memory, SQL, Redis).
	// Tokens are hashed before they reach it, so the store holds nothing
	// a thief could put in a cookie.
	Store scs.Store
	// Lifetime is how long a session lasts from sign-in (24 hours, as
	// mlflow-oidc-auth's PERMANENT_SESSION_LIFETIME).
	Lifetime time.Duration
	// IdleTimeout, when set, ends a session unused for that long. Use is
	// recorded at most every TouchEvery (a quarter of IdleTimeout, at most
	// 5 minutes), on a cache miss: never a write per request.
	IdleTimeout time.Duration
	TouchEvery  time.Duration
	// Cookie: the name (mlflowauth_session), and whether it is Secure,
	// which New's caller takes from OIDC_REDIRECT_URI's scheme.
	CookieName string
	Secure     bool
	Domain     string
	// SameSite is SESSION_COOKIE_SAMESITE: Lax when unset. (HttpOnly is
	// not optional.)
	SameSite http.SameSite
	// CacheTTL is how long a session, once read, is trusted without the
	// store (1 minute); revocations through Forget are immediate.
	CacheTTL time.Duration
	// Index, when set, lists every session by user so all of a user's
	// sessions can be revoked at once (deactivation, deletion, "sign out
	// everywhere"). *store.Store satisfies it.
	Index SessionIndex
	Now   func() time.Time
}

// SessionIndex records sessions by the SHA-256 of their token. It is read
// only when a session is not in the in-process cache.
type SessionIndex interface {
	IndexSession(ctx context.Context, hash []byte, username string, expires time.Time) error
	SessionLive(ctx context.Context, hash []byte) (bool, error)
	EndSession(ctx context.Context, hash []byte) error
}

// Sessions are signed-in browsers: Start after a sign-in, Authenticate
// in the authentication chain, End at logout.
type Sessions struct {
	cfg   SessionsConfig
	m     *scs.SessionManager
	cache *usercache.Cache[[32]byte, *auth.Identity]

	hits, reads atomic.Int64
}

// SessionStats counts what Authenticate did, for metrics.
type SessionStats struct {
	CacheHits  int64 // sessions answered from the in-process cache
	StoreReads int64 // sessions read from the store (cache misses)
}

// Stats returns the counters.
func (s *Sessions) Stats() SessionStats {
	return SessionStats{CacheHits: s.hits.Load(), StoreReads: s.reads.Load()}
}

// sessionKey holds the session's identity; touchedKey when it was last
// recorded as used (Unix seconds), for the idle timeout.
const (
	sessionKey = "mlflowauth"
	touchedKey = "touched"
)

type sessionData struct {
	Username    string   `json:"u"`
	DisplayName string   `json:"d,omitempty"`
	Groups      []string `json:"g"`
	Stored      bool     `json:"m,omitempty"` // decide with the stored memberships, not Groups
	Issuer      string   `json:"i"`
	Subject     string   `json:"s"`
	IDToken     string   `json:"t,omitempty"` // id_token_hint at logout
}

// NewSessions returns Sessions on cfg.Store.
func NewSessions(cfg SessionsConfig) (*Sessions, error) {
	if cfg.Store == nil {
		return nil, errors.New("oidc: SessionsConfig.Store is required")
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 24 * time.Hour
	}
	if cfg.CookieName == "" {
		cfg.CookieName = "mlflowauth_session"
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTimeout > 0 && cfg.TouchEvery <= 0 {
		cfg.TouchEvery = min(cfg.IdleTimeout/4, 5*time.Minute)
	}
	if cfg.IdleTimeout > 0 && cfg.CacheTTL > cfg.TouchEvery {
		cfg.CacheTTL = cfg.TouchEvery // a cached session must be re-read, and touched, in time
	}
	m := scs.New()
	m.Store = cfg.Store
	m.Lifetime = cfg.Lifetime
	m.IdleTimeout = cfg.IdleTimeout
	m.HashTokenInStore = true
	m.Cookie.Name = cfg.CookieName
	m.Cookie.Secure = cfg.Secure
	m.Cookie.Domain = cfg.Domain
	m.Cookie.HttpOnly = true
	m.Cookie.Path = "/"
	m.Cookie.SameSite = cfg.SameSite
	if cfg.SameSite == 0 {
		m.Cookie.SameSite = http.SameSiteLaxMode
	}
	m.Cookie.Persist = true
	return &Sessions{cfg: cfg, m: m, cache: usercache.New[[32]byte, *auth.Identity](100_000)}, nil
}

// Start begins a session for a signed-in user, with a new token (no
// session id from before sign-in survives it), and sets its cookie.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, id *auth.Identity, idToken string) error {
	if id == nil || id.Username == "" {
		return errors.New("oidc: a session needs a username")
	}
	ctx, err := s.m.Load(ctx, "")
	if err != nil {
		return err
	}
	if err := s.m.RenewToken(ctx); err != nil {
		return err
	}
	// Groups nil: decided with the account's stored memberships, read at
	// each decision (kept by sign-ins and SCIM); else these, frozen.
	b, _ := json.Marshal(sessionData{Username: id.Username, DisplayName: id.DisplayName, Groups: id.Groups, Stored: id.Groups == nil,
		Issuer: id.Issuer, Subject: id.Subject, IDToken: idToken})
	s.m.Put(ctx, sessionKey, string(b))
	s.m.Put(ctx, touchedKey, s.cfg.Now().Unix())
	token, expiry, err := s.m.Commit(ctx)
	if err != nil {
		return err
	}
	if s.cfg.Index != nil {
		hash := sha256.Sum256([]byte(token))
		if err := s.cfg.Index.IndexSession(ctx, hash[:], id.Username, expiry); err != nil {
			_ = s.m.Destroy(ctx) // a session that cannot be revoked must not exist
			return err
		}
	}
	s.m.WriteSessionCookie(ctx, w, token, expiry)
	return nil
}

// Authenticate reads the session cookie: a cached identity when the
// session was read a moment ago, else the store. No cookie is not this
// authenticator's; an unknown or expired session is a 401; an unreachable
// store a 503.
func (s *Sessions) Authenticate(r *http.Request) (*auth.Identity, error) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil, auth.ErrNoCredentials
	}
	key := sha256.Sum256([]byte(c.Value))
	now := s.cfg.Now()
	if id, ok := s.cache.Get(key, now); ok {
		s.hits.Add(1)
		return id, nil
	}
	s.reads.Add(1)
	d, deadline, err := s.read(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	if s.cfg.Index != nil {
		live, err := s.cfg.Index.SessionLive(r.Context(), key[:])
		switch {
		case err != nil:
			return nil, auth.Unavailable("Could not read the session; try again", err)
		case !live:
			return nil, auth.Unauthenticated("Your session was ended; sign in again")
		}
	}
	groups := d.Groups
	if groups == nil && !d.Stored {
		groups = []string{} // a session from before Stored: no groups
	}
	id := &auth.Identity{Username: d.Username, DisplayName: d.DisplayName, Groups: groups, Method: auth.MethodSession,
		Issuer: d.Issuer, Subject: d.Subject}
	until := now.Add(s.cfg.CacheTTL)
	if deadline.Before(until) {
		until = deadline
	}
	s.cache.Put(key, d.Username, id, until, now)
	return id, nil
}

func (s *Sessions) read(ctx context.Context, token string) (*sessionData, time.Time, error) {
	ctx, err := s.m.Load(ctx, token)
	if err != nil {
		return nil, time.Time{}, auth.Unavailable("Could not read the session; try again", err)
	}
	raw := s.m.GetString(ctx, sessionKey)
	var d sessionData
	if raw == "" || json.Unmarshal([]byte(raw), &d) != nil || d.Username == "" {
		return nil, time.Time{}, auth.Unauthenticated("Your session has ended; sign in again")
	}
	if s.cfg.IdleTimeout > 0 {
		now := s.cfg.Now()
		if last := time.Unix(s.m.GetInt64(ctx, touchedKey), 0); now.Sub(last) >= s.cfg.TouchEvery {
			// Commit moves the idle deadline on (never past Lifetime).
			s.m.Put(ctx, touchedKey, now.Unix())
			if _, _, err := s.m.Commit(ctx); err != nil {
				return nil, time.Time{}, auth.Unavailable("Could not read the session; try again", err)
			}
		}
	}
	return &d, s.m.Deadline(ctx), nil
}

// End ends the session the request carries (logout) and clears its
// cookie; it returns the ID token the session was started with, for the
// provider's logout.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) (idToken string, err error) {
	http.SetCookie(w, &http.Cookie{Name: s.cfg.CookieName, Value: "", Path: "/", Domain: s.cfg.Domain, MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.Secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil || c.Value == "" {
		return "", nil
	}
	key := sha256.Sum256([]byte(c.Value))
	s.cache.Remove(key)
	if s.cfg.Index != nil {
		if err := s.cfg.Index.EndSession(r.Context(), key[:]); err != nil {
			return "", err
		}
	}
	ctx, err := s.m.Load(r.Context(), c.Value)
	if err != nil {
		return "", err
	}
	var d sessionData
	_ = json.Unmarshal([]byte(s.m.GetString(ctx, sessionKey)), &d)
	return d.IDToken, s.m.Destroy(ctx)
}

// Forget drops a user's cached sessions, so a revocation (deactivation,
// deletion, "sign out everywhere") is seen at the next request: the
// change feed calls it.
func (s *Sessions) Forget(username string) { s.cache.Forget(username) }

// ForgetAll drops every cached session (the change feed resynced: what
// changed is not known).
func (s *Sessions) ForgetAll() { s.cache.Clear() }
