package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
)

// watchedStore is a session store that records the keys it was given and
// counts reads, and can be made unreachable.
type watchedStore struct {
	*memstore.MemStore
	mu    sync.Mutex
	keys  []string
	reads int
	down  bool
}

func (s *watchedStore) Find(token string) ([]byte, bool, error) {
	s.mu.Lock()
	s.reads++
	down := s.down
	s.mu.Unlock()
	if down {
		return nil, false, errors.New("dial tcp 127.0.0.1:6379: connection refused")
	}
	return s.MemStore.Find(token)
}

func (s *watchedStore) Commit(token string, b []byte, expiry time.Time) error {
	s.mu.Lock()
	s.keys = append(s.keys, token)
	s.mu.Unlock()
	return s.MemStore.Commit(token, b, expiry)
}

func startSession(t *testing.T, s *Sessions, id *auth.Identity) *http.Cookie {
	w := httptest.NewRecorder()
	require.NoError(t, s.Start(t.Context(), w, id, "raw-id-token"))
	cs := w.Result().Cookies()
	require.Len(t, cs, 1)
	return cs[0]
}

func TestSessions(t *testing.T) {
	st := &watchedStore{MemStore: memstore.New()}
	now := time.Now()
	var mu sync.Mutex
	s, err := NewSessions(SessionsConfig{Store: st, Secure: true, CacheTTL: time.Minute,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	require.NoError(t, err)
	cookie := startSession(t, s, &auth.Identity{Username: "alice", DisplayName: "Alice", Groups: []string{"mlflow"}, Issuer: "https://idp", Subject: "00u1"})
	assert.Equal(t, "mlflowauth_session", cookie.Name)
	assert.True(t, cookie.HttpOnly)
	assert.True(t, cookie.Secure)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	for _, k := range st.keys {
		assert.NotContains(t, k, cookie.Value, "the store never sees the cookie's token")
	}

	req := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if c != nil {
			r.AddCookie(c)
		}
		return r
	}
	id, err := s.Authenticate(req(cookie))
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Username)
	assert.Equal(t, []string{"mlflow"}, id.Groups)
	assert.Equal(t, auth.MethodSession, id.Method)
	assert.Equal(t, "00u1", id.Subject)

	reads := st.reads
	for range 10 {
		_, err := s.Authenticate(req(cookie))
		require.NoError(t, err)
	}
	assert.Equal(t, reads, st.reads, "steady state: no store read per request")
	assert.Equal(t, SessionStats{CacheHits: 10, StoreReads: 1}, s.Stats())
	n := len(st.keys)
	assert.Equal(t, n, len(st.keys), "and no write")

	// Past the cache's TTL the store is asked again.
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	_, err = s.Authenticate(req(cookie))
	require.NoError(t, err)
	assert.Equal(t, reads+1, st.reads)

	// No cookie: not this authenticator's. A made-up one: 401.
	_, err = s.Authenticate(req(nil))
	assert.ErrorIs(t, err, auth.ErrNoCredentials)
	_, err = s.Authenticate(req(&http.Cookie{Name: "mlflowauth_session", Value: "forged"}))
	var ae *auth.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status)

	// The store unreachable: 503, not a pass and not a 401.
	other := startSession(t, s, &auth.Identity{Username: "bob"})
	st.mu.Lock()
	st.down = true
	st.mu.Unlock()
	_, err = s.Authenticate(req(other))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.Status)
	st.mu.Lock()
	st.down = false
	st.mu.Unlock()

	// Logout ends it here and in the store.
	w := httptest.NewRecorder()
	hint, err := s.End(w, req(cookie))
	require.NoError(t, err)
	assert.Equal(t, "raw-id-token", hint)
	assert.True(t, strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0"), "the cookie is cleared")
	_, err = s.Authenticate(req(cookie))
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.Status, "an ended session is gone")
}

func TestSessionsForget(t *testing.T) {
	st := memstore.New()
	s, err := NewSessions(SessionsConfig{Store: st})
	require.NoError(t, err)
	cookie := startSession(t, s, &auth.Identity{Username: "alice"})
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	_, err = s.Authenticate(r)
	require.NoError(t, err)
	// Revoked elsewhere: the data is gone from the store and the feed
	// says so; the cached identity must not outlive it.
	require.NoError(t, st.Delete(hashedToken(cookie.Value)))
	s.Forget("alice")
	_, err = s.Authenticate(r)
	assert.Error(t, err)

	// ForgetAll (a resync of the feed) drops every cached session.
	bob := startSession(t, s, &auth.Identity{Username: "bob"})
	rb := httptest.NewRequest("GET", "/", nil)
	rb.AddCookie(bob)
	_, err = s.Authenticate(rb)
	require.NoError(t, err)
	require.NoError(t, st.Delete(hashedToken(bob.Value)))
	s.ForgetAll()
	_, err = s.Authenticate(rb)
	assert.Error(t, err)
}

// BenchmarkSessionAuthenticate: the warm path, a session read a moment
// ago.
func BenchmarkSessionAuthenticate(b *testing.B) {
	s, err := NewSessions(SessionsConfig{Store: memstore.New()})
	require.NoError(b, err)
	w := httptest.NewRecorder()
	require.NoError(b, s.Start(b.Context(), w, &auth.Identity{Username: "alice", Groups: []string{"mlflow"}}, ""))
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(w.Result().Cookies()[0])
	_, err = s.Authenticate(r)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

// hashedToken is the key scs keeps a session under (HashTokenInStore).
func hashedToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// An idle timeout records use on a cache miss, at most every TouchEvery:
// no write per request.
func TestSessionsIdleTouch(t *testing.T) {
	st := &watchedStore{MemStore: memstore.New()}
	now := time.Now()
	var mu sync.Mutex
	s, err := NewSessions(SessionsConfig{Store: st, IdleTimeout: time.Hour, TouchEvery: 5 * time.Minute, CacheTTL: time.Minute,
		Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	require.NoError(t, err)
	cookie := startSession(t, s, &auth.Identity{Username: "alice"})
	commits := len(st.keys)
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	for range 4 { // four cache misses within five minutes
		advance(61 * time.Second)
		_, err := s.Authenticate(r)
		require.NoError(t, err)
	}
	assert.Equal(t, commits, len(st.keys), "no touch yet")
	advance(61 * time.Second)
	_, err = s.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, commits+1, len(st.keys), "one touch after five minutes")
	for range 10 {
		_, err := s.Authenticate(r) // cached: nothing read, nothing written
		require.NoError(t, err)
	}
	assert.Equal(t, commits+1, len(st.keys))
}
