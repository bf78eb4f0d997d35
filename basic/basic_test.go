package basic

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// storeCredentials adapts the real store to Credentials, as the gateway does.
type storeCredentials struct {
	s           *store.Store
	tokenLookup atomic.Int64
	block       chan struct{} // when set, Account waits on it
	lapses      time.Time     // every account's LapsesAt
}

func (c *storeCredentials) Account(ctx context.Context, username string) (Account, error) {
	if c.block != nil {
		<-c.block
	}
	u, err := c.s.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, ErrUnknown
	}
	if err != nil {
		return Account{}, err
	}
	return Account{Username: u.Username, PasswordHash: u.PasswordHash, Active: !u.Deactivated, ImportedToken: u.Origin == store.OriginMLflowOIDCAuth,
		LapsesAt: c.lapses}, nil
}

func (c *storeCredentials) Token(ctx context.Context, h []byte) (Token, error) {
	c.tokenLookup.Add(1)
	t, err := c.s.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Token{}, ErrUnknown
	}
	if err != nil {
		return Token{}, err
	}
	u, err := c.s.GetUser(ctx, t.Username)
	if err != nil {
		return Token{}, err
	}
	return Token{ID: t.ID, Username: t.Username, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, Active: !u.Deactivated, LapsesAt: c.lapses}, nil
}

func (c *storeCredentials) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	return c.s.TouchTokens(ctx, used)
}

func (c *storeCredentials) AdoptToken(ctx context.Context, username string, h []byte) error {
	if _, err := c.s.CreateToken(ctx, store.Token{Username: username, Name: "imported from mlflow-oidc-auth", Hash: h,
		Prefix: "(imported)", ExpiresAt: time.Now().AddDate(0, 0, 366)}); err != nil {
		return err
	}
	none := ""
	_, err := c.s.UpdateUser(ctx, username, store.UserChange{PasswordHash: &none})
	return err
}

type fixture struct {
	s     *store.Store
	creds *storeCredentials
	a     *Authenticator
	now   time.Time
}

func newFixture(t testing.TB, mutate func(*Config)) *fixture {
	ctx := context.Background()
	s, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	f := &fixture{s: s, creds: &storeCredentials{s: s}, now: time.Now()}
	cfg := Config{Credentials: f.creds, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}
	if mutate != nil {
		mutate(&cfg)
	}
	f.a, err = New(cfg)
	require.NoError(t, err)
	return f
}

func (f *fixture) user(t testing.TB, name, password string) {
	t.Helper()
	u := store.User{Username: name}
	if password != "" {
		h, err := HashPassword(password)
		require.NoError(t, err)
		u.PasswordHash = h
	}
	_, err := f.s.CreateUser(context.Background(), u)
	require.NoError(t, err)
}

func (f *fixture) token(t testing.TB, user string, expires time.Time) (string, int64) {
	t.Helper()
	secret, err := NewToken()
	require.NoError(t, err)
	h, _ := ParseToken(secret)
	tok, err := f.s.CreateToken(context.Background(), store.Token{Username: user, Name: secret[10:20], Hash: h[:], Prefix: TokenDisplayPrefix(secret), ExpiresAt: expires})
	require.NoError(t, err)
	return secret, tok.ID
}

func (f *fixture) auth(user, secret string) (*auth.Identity, error) {
	return f.authFrom(user, secret, "192.0.2.10:5555", "")
}

func (f *fixture) authFrom(user, secret, remote, xff string) (*auth.Identity, error) {
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil)
	r.SetBasicAuth(user, secret)
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	return f.a.Authenticate(r)
}

func status(err error) int {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func message(err error) string {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

func TestPasswordSignIn(t *testing.T) {
	f := newFixture(t, nil)
	f.user(t, "alice", "alice-password-0001")

	id, err := f.auth("Alice", "alice-password-0001")
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Username)
	assert.Equal(t, auth.MethodBasic, id.Method)
	assert.Empty(t, id.TokenID)
	hashes := f.a.Stats().Hashes
	assert.Equal(t, int64(1), hashes)

	// Remembered: no second hash.
	_, err = f.auth("alice", "alice-password-0001")
	require.NoError(t, err)
	assert.Equal(t, hashes, f.a.Stats().Hashes)
	assert.Equal(t, int64(1), f.a.Stats().CacheHits)

	_, err = f.auth("alice", "wrong")
	assert.Equal(t, http.StatusUnauthorized, status(err))
	assert.Equal(t, auth.MessageUnauthenticated, message(err))
}

// Credentials that lapse (SSO_REVALIDATE_DAYS) stop at that moment, even
// when remembered, with a message that says what to do.
func TestLapsedCredentials(t *testing.T) {
	f := newFixture(t, nil)
	f.user(t, "alice", "alice-password-0001")
	f.user(t, "bob", "")
	secret, _ := f.token(t, "bob", f.now.Add(48*time.Hour))
	f.creds.lapses = f.now.Add(time.Hour)
	_, err := f.auth("alice", "alice-password-0001")
	require.NoError(t, err)
	_, err = f.auth("bob", secret)
	require.NoError(t, err)

	f.now = f.now.Add(2 * time.Hour) // remembered, and now lapsed
	_, err = f.auth("alice", "alice-password-0001")
	assert.Equal(t, http.StatusUnauthorized, status(err))
	assert.Equal(t, LapsedMessage, message(err))
	_, err = f.auth("bob", secret)
	assert.Equal(t, http.StatusUnauthorized, status(err))
	assert.Equal(t, LapsedMessage, message(err))

	// Read afresh (the cache forgot), still lapsed.
	f.a.ForgetAll()
	_, err = f.auth("alice", "alice-password-0001")
	assert.Equal(t, LapsedMessage, message(err))
	_, err = f.auth("bob", secret)
	assert.Equal(t, LapsedMessage, message(err))
}

// An unknown user costs a hash too, so timing does not tell which users
// exist. The test asserts the work done, not a duration.
func TestUnknownUserCostsAHash(t *testing.T) {
	f := newFixture(t, nil)
	f.user(t, "nopw", "")
	before := f.a.Stats().Hashes
	_, err := f.auth("nobody", "whatever-password")
	assert.Equal(t, http.StatusUnauthorized, status(err))
	assert.Equal(t, before+1, f.a.Stats().Hashes, "the dummy check ran")
	_, err = f.auth("nopw", "whatever-password")
	assert.Equal(t, http.StatusUnauthorized, status(err), "an account without a password cannot sign in with one")
	assert.Equal(t, before+2, f.a.Stats().Hashes)
}

func TestTokenSignIn(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.user(t, "alice", "")
	f.user(t, "bob", "")
	secret, id := f.token(t, "alice", f.now.Add(time.Hour))

	got, err := f.auth("alice", secret)
	require.NoError(t, err)
	assert.Equal(t, "alice", got.Username)
	assert.Equal(t, "token:"+itoa(id), got.TokenID)
	assert.Zero(t, f.a.Stats().Hashes, "tokens are never hashed slowly")
	lookups := f.creds.tokenLookup.Load()
	_, err = f.auth("alice", secret)
	require.NoError(t, err)
	assert.Equal(t, lookups, f.creds.tokenLookup.Load(), "the second use is answered from memory")
	assert.Equal(t, lookups, f.a.Stats().Lookups, "Stats counts the store reads")
	assert.Equal(t, int64(1), f.a.Stats().CacheHits)

	_, err = f.auth("bob", secret)
	assert.Equal(t, "Invalid access token", message(err), "another user's token")

	// A token whose checksum fails is refused before any lookup.
	last := "a"
	if secret[len(secret)-1] == 'a' {
		last = "b"
	}
	forged := secret[:len(secret)-1] + last
	_, err = f.auth("alice", forged)
	assert.Equal(t, "Invalid access token", message(err))
	assert.Equal(t, lookups, f.creds.tokenLookup.Load(), "no lookup for a malformed token")

	// Expired.
	old, _ := f.token(t, "alice", f.now.Add(time.Minute))
	f.now = f.now.Add(2 * time.Minute)
	_, err = f.auth("alice", old)
	assert.Equal(t, "Access token expired", message(err))

	// Revoked: forgotten at once through Forget (the change feed calls it).
	require.NoError(t, f.s.RevokeToken(ctx, "alice", id))
	f.a.Forget("alice")
	_, err = f.auth("alice", secret)
	assert.Equal(t, "Access token revoked", message(err))

	// Last used, batched.
	fresh, freshID := f.token(t, "alice", f.now.Add(time.Hour))
	_, err = f.auth("alice", fresh)
	require.NoError(t, err)
	require.NoError(t, f.a.Flush(ctx))
	toks, err := f.s.ListTokens(ctx, "alice")
	require.NoError(t, err)
	for _, tk := range toks {
		if tk.ID == freshID {
			assert.Equal(t, f.now.UTC().Truncate(time.Microsecond), tk.LastUsedAt.Truncate(time.Microsecond))
		}
	}
	// Recorded once a second at most, and again in a later second.
	_, err = f.auth("alice", fresh)
	require.NoError(t, err)
	f.a.touchMu.Lock()
	assert.Empty(t, f.a.touched, "a second use in the same second is not recorded again")
	f.a.touchMu.Unlock()
	f.now = f.now.Add(2 * time.Second)
	_, err = f.auth("alice", fresh)
	require.NoError(t, err)
	require.NoError(t, f.a.Flush(ctx))
	toks, err = f.s.ListTokens(ctx, "alice")
	require.NoError(t, err)
	for _, tk := range toks {
		if tk.ID == freshID {
			assert.Equal(t, f.now.UTC().Truncate(time.Microsecond), tk.LastUsedAt.Truncate(time.Microsecond), "the later use")
		}
	}

	// A deactivated owner.
	off := false
	_, err = f.s.UpdateUser(ctx, "alice", store.UserChange{Active: &off})
	require.NoError(t, err)
	f.a.Forget("alice")
	_, err = f.auth("alice", fresh)
	assert.Equal(t, "This account is deactivated", message(err))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func oidcAuthToken(t *testing.T) (token, hash string) {
	b, err := os.ReadFile("testdata/werkzeug_vectors.json")
	require.NoError(t, err)
	var v struct {
		Legacy struct{ Hash, Password string } `json:"oidc_auth_token"`
	}
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Legacy.Hash)
	return v.Legacy.Password, v.Legacy.Hash
}

// A password change is forgotten at once, driven by the store's change feed.
func TestChangeFeedForgets(t *testing.T) {
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.user(t, "alice", "first-password-123")
	e, err := permission.NewEngine(ctx, f.s, permission.Config{})
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.s.Follow(ctx, e, store.FollowOptions{OnChange: func(c store.Change) {
			if c.Seq == 0 {
				f.a.ForgetAll()
			}
			for _, ev := range c.Events {
				switch {
				case ev.User != nil:
					f.a.Forget(ev.User.Name)
				case ev.Username != "":
					f.a.Forget(ev.Username)
				}
			}
		}})
	}()
	_, err = f.auth("alice", "first-password-123")
	require.NoError(t, err)

	h, err := HashPassword("second-password-456")
	require.NoError(t, err)
	_, err = f.s.UpdateUser(ctx, "alice", store.UserChange{PasswordHash: &h})
	require.NoError(t, err)
	// No waiting: the write returned after the feed reached this process.
	_, err = f.auth("alice", "first-password-123")
	assert.Equal(t, http.StatusUnauthorized, status(err), "the old password is forgotten at once")
	_, err = f.auth("alice", "second-password-456")
	require.NoError(t, err)
	cancel()
	<-done
}

func TestHashingSemaphore(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxConcurrentHashes = 1; c.HashWait = 20 * time.Millisecond })
	f.user(t, "alice", "alice-password-0001")
	f.user(t, "bob", "bob-password-00001")
	f.creds.block = make(chan struct{})
	first := make(chan error, 1)
	go func() { _, err := f.auth("alice", "alice-password-0001"); first <- err }()
	// The first request holds the only slot (blocked in Account).
	require.Eventually(t, func() bool { return len(f.a.sem) == 1 }, 5*time.Second, time.Millisecond)
	_, err := f.auth("bob", "bob-password-00001")
	assert.Equal(t, http.StatusServiceUnavailable, status(err))
	var e *auth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, time.Second, e.RetryAfter)
	assert.Equal(t, int64(1), f.a.Stats().Busy)
	assert.Equal(t, int64(1), f.a.Stats().HashWaits, "bob waited for the slot")
	close(f.creds.block)
	require.NoError(t, <-first)
	f.creds.block = nil
	_, err = f.auth("bob", "bob-password-00001")
	require.NoError(t, err, "with the slot free again")
}

func TestFailureLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 3; c.FailureWindow = time.Minute })
	f.user(t, "alice", "alice-password-0001")
	for range 3 {
		_, err := f.auth("alice", "wrong")
		assert.Equal(t, http.StatusUnauthorized, status(err))
	}
	_, err := f.auth("alice", "alice-password-0001")
	require.Equal(t, http.StatusTooManyRequests, status(err), "locked out, even with the right password")
	var e *auth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, time.Minute, e.RetryAfter)
	assert.Equal(t, auth.CodeRequestLimitExceeded, e.Code)

	_, err = f.authFrom("alice", "alice-password-0001", "198.51.100.7:1234", "")
	require.NoError(t, err, "another client address is not locked out")

	f.now = f.now.Add(61 * time.Second)
	_, err = f.auth("alice", "alice-password-0001")
	require.NoError(t, err, "the window passed")
}

func TestClientAddress(t *testing.T) {
	a := &Authenticator{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	tests := []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:1", "", "192.0.2.1"},
		{"192.0.2.1:1", "203.0.113.9", "192.0.2.1"},                // an untrusted peer's header is ignored
		{"10.0.0.5:1", "203.0.113.9", "203.0.113.9"},               // a trusted proxy's is believed
		{"10.0.0.5:1", "203.0.113.9, 10.1.1.1", "203.0.113.9"},     // through a chain of trusted proxies
		{"10.0.0.5:1", "198.51.100.1, 203.0.113.9", "203.0.113.9"}, // the client cannot prepend its way out
		{"10.0.0.5:1", "garbage, 10.1.1.1", "10.1.1.1"},            // a garbled hop ends the walk
		{"[::ffff:10.0.0.5]:1", "203.0.113.9", "203.0.113.9"},      // IPv4-mapped
		{"10.0.0.5:1", "10.2.2.2", "10.2.2.2"},                     // all trusted: the furthest
		{"not-an-address", "203.0.113.9", "invalid IP"},            // no peer address
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		assert.Equal(t, tt.want, a.clientAddr(r).String(), "%s via %q", tt.remote, tt.xff)
	}
}

// An access token imported from mlflow-oidc-auth (kept as a pbkdf2 hash) is
// checked by hashing once, then rewritten as a token record: later uses need
// no hashing at all.
func TestImportedTokenIsRewritten(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	// pbkdf2:sha256:1000 of a 24-character token, the plugin's format, made
	// by Werkzeug (testdata/gen_werkzeug_vectors.py).
	legacy, h := oidcAuthToken(t)
	_, err := f.s.CreateUser(ctx, store.User{Username: "svc", PasswordHash: h, Origin: store.OriginMLflowOIDCAuth})
	require.NoError(t, err)

	_, err = f.auth("svc", legacy)
	require.NoError(t, err)
	assert.Equal(t, int64(1), f.a.Stats().Hashes)
	u, err := f.s.GetUser(ctx, "svc")
	require.NoError(t, err)
	assert.Empty(t, u.PasswordHash, "moved to a token record")
	sum := sha256.Sum256([]byte(legacy))
	_, err = f.s.TokenByHash(ctx, sum[:])
	require.NoError(t, err)

	f.a.ForgetAll()
	id, err := f.auth("svc", legacy)
	require.NoError(t, err)
	assert.NotEmpty(t, id.TokenID)
	assert.Equal(t, int64(1), f.a.Stats().Hashes, "no hashing once rewritten")
}

func TestNotMineAndMalformed(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer abc")
	_, err := f.a.Authenticate(r)
	assert.ErrorIs(t, err, auth.ErrNoCredentials)
	r.Header.Set("Authorization", "Basic bm9jb2xvbg==") // "nocolon"
	_, err = f.a.Authenticate(r)
	assert.ErrorIs(t, err, auth.ErrMalformedAuthorization)
	_, err = New(Config{})
	assert.Error(t, err, "Credentials are required")
}

// Through the middleware: what an MLflow client sees.
func TestThroughMiddleware(t *testing.T) {
	f := newFixture(t, nil)
	f.user(t, "alice", "alice-password-0001")
	h := auth.Middleware(auth.Config{Logger: slog.New(slog.DiscardHandler)}, f.a)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromRequest(r)
		w.Write([]byte(id.Username))
	}))
	var wg sync.WaitGroup
	for _, c := range []struct {
		pw   string
		code int
	}{{"alice-password-0001", 200}, {"nope", 401}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil)
			r.SetBasicAuth("alice", c.pw)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, c.code, w.Code)
		}()
	}
	wg.Wait()
}
