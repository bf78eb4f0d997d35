package jwtauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

var _ Accounts = (*store.Store)(nil) // the store satisfies what jwtauth needs

// idp is a real OpenID provider (oauth2-proxy's mockoidc) serving discovery
// and JWKS; its key pair can be rotated.
type idp struct {
	m        *mockoidc.MockOIDC
	mu       sync.Mutex // guards Keypair against the JWKS handler
	jwksHits atomic.Int32
}

func startIDP(t testing.TB) *idp {
	m, err := mockoidc.NewServer(nil)
	require.NoError(t, err)
	p := &idp{m: m}
	require.NoError(t, m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == mockoidc.JWKSEndpoint {
				p.jwksHits.Add(1)
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			next.ServeHTTP(w, r)
		})
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, m.Start(ln, nil))
	t.Cleanup(func() { m.Shutdown() })
	return p
}

func (p *idp) sign(t testing.TB, claims jwt.MapClaims) string {
	p.mu.Lock()
	kp := p.m.Keypair
	p.mu.Unlock()
	tok, err := kp.SignJWT(claims)
	require.NoError(t, err)
	return tok
}

func (p *idp) rotate(t testing.TB) {
	kp, err := mockoidc.RandomKeypair(2048)
	require.NoError(t, err)
	p.mu.Lock()
	p.m.Keypair = kp
	p.mu.Unlock()
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	p     *idp
	clock *clock
	a     *Authenticator
}

func newEnv(t testing.TB, mutate func(*Config)) *env {
	p := startIDP(t)
	c := &clock{now: time.Now()}
	cfg := Config{
		Issuers: []Issuer{{DiscoveryURL: p.m.DiscoveryEndpoint(), Audience: []string{p.m.ClientID}, ClientID: p.m.ClientID, Groups: groupdetect.Claims("groups")}},
		Now:     c.Now, Logger: slog.New(slog.DiscardHandler), MinRefetch: 30 * time.Second, KeyRefresh: 15 * time.Minute,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return &env{p: p, clock: c, a: a}
}

func (e *env) claims(extra jwt.MapClaims) jwt.MapClaims {
	now := e.clock.Now()
	c := jwt.MapClaims{
		"iss": e.p.m.Issuer(), "aud": e.p.m.ClientID, "sub": "sub-alice", "azp": e.p.m.ClientID,
		"email": "Alice@Example.com", "email_verified": true, "name": "Alice",
		"groups": []string{"mlflow", "ml-team"},
		"iat":    now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (e *env) auth(tok string) (*auth.Identity, error) {
	r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return e.a.Authenticate(r)
}

func messageOf(err error) string {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

func TestValidToken(t *testing.T) {
	e := newEnv(t, nil)
	id, err := e.auth(e.p.sign(t, e.claims(nil)))
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", id.Username)
	assert.Equal(t, "Alice", id.DisplayName)
	assert.Equal(t, []string{"mlflow", "ml-team"}, id.Groups)
	assert.Equal(t, auth.MethodBearer, id.Method)
	assert.Equal(t, e.p.m.Issuer(), id.Issuer)
	assert.Equal(t, "sub-alice", id.Subject)

	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("a", "b")
	_, err = e.a.Authenticate(r)
	assert.ErrorIs(t, err, auth.ErrNoCredentials, "Basic is not ours")
}

// The adversarial suite: each a token that must be refused.
func TestRefusedTokens(t *testing.T) {
	e := newEnv(t, nil)
	pubDER, err := x509.MarshalPKIXPublicKey(e.p.m.Keypair.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	b64 := base64.RawURLEncoding.EncodeToString

	valid := e.p.sign(t, e.claims(nil))
	parts := strings.Split(valid, ".")

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherSigned := func(c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = e.p.m.Keypair.Kid
		s, err := tok.SignedString(other)
		require.NoError(t, err)
		return s
	}

	tests := []struct {
		name, token, message string
	}{
		{"alg none", b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", "Bearer token signature is not valid"},
		{"HS256 signed with the RSA public key", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, e.claims(nil))
			tok.Header["kid"] = e.p.m.Keypair.Kid
			s, err := tok.SignedString(pubPEM)
			require.NoError(t, err)
			return s
		}(), "Bearer token signature is not valid"},
		{"expired", e.p.sign(t, e.claims(jwt.MapClaims{"exp": e.clock.Now().Add(-time.Hour).Unix()})), "Bearer token expired"},
		{"not yet valid", e.p.sign(t, e.claims(jwt.MapClaims{"nbf": e.clock.Now().Add(time.Hour).Unix()})), "Bearer token not valid yet"},
		{"issued in the future", e.p.sign(t, e.claims(jwt.MapClaims{"iat": e.clock.Now().Add(time.Hour).Unix()})), "Bearer token not valid yet"},
		{"no expiry", e.p.sign(t, e.claims(jwt.MapClaims{"exp": nil})), "Bearer token is not valid"},
		{"wrong issuer", e.p.sign(t, e.claims(jwt.MapClaims{"iss": "https://evil.example.com"})), "Bearer token from an issuer this server does not trust"},
		{"wrong audience", e.p.sign(t, e.claims(jwt.MapClaims{"aud": "some-api"})), "Bearer token is for another audience"},
		{"a token for another client of the same IdP", e.p.sign(t, e.claims(jwt.MapClaims{"aud": "other-client", "azp": "other-client"})), "Bearer token is for another audience"},
		{"our audience, another client's azp", e.p.sign(t, e.claims(jwt.MapClaims{"azp": "other-client"})), "Bearer token was issued to another client"},
		{"tampered payload", parts[0] + "." + b64([]byte(strings.Replace(mustDecode(t, parts[1]), "sub-alice", "sub-admin", 1))) + "." + parts[2], "Bearer token signature is not valid"},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), "Bearer token signature is not valid"},
		{"signed by another key under our kid", otherSigned(e.claims(nil)), "Bearer token signature is not valid"},
		{"not a JWT", "opaque-access-token", "Bearer token is not a JWT"},
		{"garbage JWT", "a.b.c", "Bearer token is not a valid JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.auth(tt.token)
			require.Error(t, err)
			assert.Nil(t, id)
			assert.Equal(t, tt.message, messageOf(err))
			var ae *auth.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, http.StatusUnauthorized, ae.Status)
		})
	}

	t.Run("a 1 MiB token", func(t *testing.T) {
		huge := e.p.sign(t, e.claims(jwt.MapClaims{"pad": strings.Repeat("x", 1<<20)}))
		_, err := e.auth(huge)
		assert.ErrorIs(t, err, auth.ErrMalformedAuthorization)
		assert.Contains(t, err.Error(), "longer than 8192 bytes")
		// Through the middleware it never reaches the authenticator.
		h := auth.Middleware(auth.Config{Logger: slog.New(slog.DiscardHandler)}, e.a)(http.NotFoundHandler())
		r := httptest.NewRequest("GET", "/x", nil)
		r.Header.Set("Authorization", "Bearer "+huge)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Contains(t, w.Body.String(), "longer than 8192 bytes")
	})
}

func mustDecode(t *testing.T, s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return string(b)
}

func flip(sig string) string {
	b := []byte(sig)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestUnknownKidFlood(t *testing.T) {
	e := newEnv(t, nil)
	e.clock.Add(31 * time.Second) // the keys fetched at start are no longer "moments ago"
	start := e.p.jwksHits.Load()
	for i := range 50 {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, e.claims(nil))
		tok.Header["kid"] = "unknown-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s, err := tok.SignedString(e.p.m.Keypair.PrivateKey)
		require.NoError(t, err)
		_, err = e.auth(s)
		assert.Equal(t, "Bearer token signed with an unknown key", messageOf(err))
	}
	assert.Equal(t, start+1, e.p.jwksHits.Load(), "one refetch per interval, however many unknown kids")
	e.clock.Add(31 * time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, e.claims(nil))
	tok.Header["kid"] = "yet-another"
	s, _ := tok.SignedString(e.p.m.Keypair.PrivateKey)
	_, err := e.auth(s)
	require.Error(t, err)
	assert.Equal(t, start+2, e.p.jwksHits.Load(), "the next interval allows one more")
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, nil)
	old := e.p.sign(t, e.claims(nil))
	_, err := e.auth(old)
	require.NoError(t, err)

	e.p.rotate(t)
	e.clock.Add(time.Minute) // past the refetch interval
	fresh := e.p.sign(t, e.claims(nil))
	id, err := e.auth(fresh)
	require.NoError(t, err, "a new kid is fetched")
	assert.Equal(t, "alice@example.com", id.Username)

	// The old key is gone from the JWKS: once the keys are refreshed, a
	// token it signed no longer verifies (a token not seen before).
	e.clock.Add(16 * time.Minute)
	e.a.ForgetAll()
	oldAgain := e.p.sign(t, e.claims(nil)) // signed by the new key: fine
	_, err = e.auth(oldAgain)
	require.NoError(t, err)
	_, err = e.auth(old) // still unexpired: only its key is gone
	assert.Equal(t, "Bearer token signed with an unknown key", messageOf(err), "removed keys stop verifying")
}

func TestUsernameClaims(t *testing.T) {
	e := newEnv(t, nil)
	id, err := e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"email_verified": nil, "preferred_username": "alice.a"})))
	require.NoError(t, err)
	assert.Equal(t, "alice.a", id.Username, "an email without email_verified is not a username")
	id, err = e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"email_verified": "true"})))
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", id.Username, `"true" as a string (some IdPs)`)
	_, err = e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"email_verified": false})))
	assert.Equal(t, "Bearer token has no username claim and no account is bound to its subject", messageOf(err))

	// Entra ID's groups overage: refused, not a user without groups.
	_, err = e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"groups": nil, "hasgroups": true})))
	assert.Equal(t, "Cannot tell the token's groups", messageOf(err))
	assert.ErrorIs(t, err, groupdetect.ErrOverage)
}

func TestCachedUntilExpiry(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.p.sign(t, e.claims(jwt.MapClaims{"exp": e.clock.Now().Add(10 * time.Minute).Unix()}))
	first, err := e.auth(tok)
	require.NoError(t, err)
	again, err := e.auth(tok)
	require.NoError(t, err)
	assert.Same(t, first, again, "answered from the cache")
	assert.Equal(t, Stats{CacheHits: 1, Verified: 1}, e.a.Stats())
	// A token that differs anywhere is verified on its own.
	_, err = e.auth(tok[:len(tok)-2] + "xx")
	require.Error(t, err)
	e.clock.Add(11 * time.Minute)
	_, err = e.auth(tok)
	assert.Equal(t, "Bearer token expired", messageOf(err), "remembered only until it expires")
}

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer s.Close()

	e := newEnv(t, func(c *Config) { c.Accounts = s })
	_, err = e.auth(e.p.sign(t, e.claims(nil)))
	assert.Equal(t, "No account for this user: sign in through the browser first, or ask an administrator", messageOf(err))

	// Provisioning through the gate.
	for _, trust := range []bool{false, true} {
		e := newEnv(t, func(c *Config) { c.Accounts = s; c.Provision = true; c.TrustGroupClaims = trust })
		user := "admin-" + map[bool]string{false: "untrusted", true: "trusted"}[trust] + "@example.com"
		_, err := e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"email": user, "groups": []string{"mlflow-admin"}})))
		require.NoError(t, err)
		u, err := s.GetUser(ctx, user)
		require.NoError(t, err)
		assert.Equal(t, trust, u.Admin, "claims make an admin only with OIDC_TRUST_BEARER_GROUP_CLAIMS")
	}
	ep := newEnv(t, func(c *Config) { c.Accounts = s; c.Provision = true })
	_, err = ep.auth(ep.p.sign(t, ep.claims(jwt.MapClaims{"email": "outsider@example.com", "groups": []string{"sales"}})))
	var ae *auth.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusForbidden, ae.Status)
	assert.Contains(t, ae.Message, "not in a group allowed to use MLflow")
	_, err = s.GetUser(ctx, "outsider@example.com")
	assert.ErrorIs(t, err, store.ErrNotFound, "not provisioned")

	// A service principal: no name claim, bound by (issuer, subject).
	_, err = s.CreateUser(ctx, store.User{Username: "svc-etl", ServiceAccount: true})
	require.NoError(t, err)
	require.NoError(t, s.BindIdentity(ctx, e.p.m.Issuer(), "app-123", "svc-etl"))
	id, err := e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"sub": "app-123", "email": nil, "name": nil, "groups": nil})))
	require.NoError(t, err)
	assert.Equal(t, "svc-etl", id.Username)
	assert.Nil(t, id.Groups, "no groups claim: the stored memberships apply")
	_, err = e.auth(e.p.sign(t, e.claims(jwt.MapClaims{"sub": "app-999", "email": nil})))
	assert.Contains(t, messageOf(err), "No account is bound to this token's subject")

	// Deactivation, through Forget from the change feed.
	_, err = s.CreateUser(ctx, store.User{Username: "carol@example.com"})
	require.NoError(t, err)
	tok := e.p.sign(t, e.claims(jwt.MapClaims{"email": "carol@example.com"}))
	_, err = e.auth(tok)
	require.NoError(t, err)
	off := false
	_, err = s.UpdateUser(ctx, "carol@example.com", store.UserChange{Active: &off})
	require.NoError(t, err)
	e.a.Forget("carol@example.com")
	_, err = e.auth(tok)
	assert.Equal(t, "This account is deactivated", messageOf(err))
}

func TestConfigErrors(t *testing.T) {
	ctx := context.Background()
	p := startIDP(t)
	for _, c := range []Config{
		{},
		{Issuers: []Issuer{{DiscoveryURL: p.m.DiscoveryEndpoint()}}},
		{Issuers: []Issuer{{DiscoveryURL: p.m.DiscoveryEndpoint(), Audience: []string{"x"}, Issuer: "https://other"}}},
		{Issuers: []Issuer{{DiscoveryURL: p.m.DiscoveryEndpoint(), Audience: []string{"x"}, Algorithms: []string{"HS256"}}}},
		{Issuers: []Issuer{{DiscoveryURL: "http://127.0.0.1:1/.well-known/openid-configuration", Audience: []string{"x"}}}},
		{Issuers: []Issuer{{Issuer: "https://x", Audience: []string{"x"}}}},
	} {
		_, err := New(ctx, c)
		assert.Error(t, err, "%+v", c)
	}
}

func TestProxyAssertions(t *testing.T) {
	ctx := context.Background()
	p := startIDP(t)
	c := &clock{now: time.Now()}
	proxy, err := NewProxy(ctx, ProxyConfig{
		Header:         "X-Goog-IAP-JWT-Assertion",
		Issuer:         Issuer{DiscoveryURL: p.m.DiscoveryEndpoint(), Audience: []string{"/projects/1/global/backendServices/2"}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}, Config{Now: c.Now, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	now := c.Now()
	assertion := p.sign(t, jwt.MapClaims{
		"iss": p.m.Issuer(), "aud": "/projects/1/global/backendServices/2", "sub": "accounts.google.com:1",
		"email": "ada@example.com", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
	req := func(remote, xff, value string) *http.Request {
		r := httptest.NewRequest("GET", "/api/2.0/mlflow/experiments/search", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if value != "" {
			r.Header.Set("X-Goog-IAP-JWT-Assertion", value)
		}
		return r
	}
	id, err := proxy.Authenticate(req("10.1.2.3:4444", "", assertion))
	require.NoError(t, err)
	assert.Equal(t, "ada@example.com", id.Username)
	assert.Equal(t, auth.MethodProxyAssertion, id.Method)

	_, err = proxy.Authenticate(req("203.0.113.7:4444", "", assertion))
	assert.Equal(t, "The X-Goog-Iap-Jwt-Assertion header is accepted only from a trusted proxy", messageOf(err))
	_, err = proxy.Authenticate(req("203.0.113.7:4444", "10.1.2.3", assertion))
	assert.Equal(t, "The X-Goog-Iap-Jwt-Assertion header is accepted only from a trusted proxy", messageOf(err), "a spoofed X-Forwarded-For does not help")

	_, err = proxy.Authenticate(req("10.1.2.3:4444", "", "unsigned-identity"))
	assert.Error(t, err, "an unsigned value is never trusted")
	forged := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": p.m.Issuer(), "aud": "/projects/1/global/backendServices/2", "email": "root@example.com", "exp": now.Add(time.Hour).Unix()})
	s, _ := forged.SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, err = proxy.Authenticate(req("10.1.2.3:4444", "", s))
	assert.Error(t, err)

	_, err = proxy.Authenticate(req("10.1.2.3:4444", "", ""))
	assert.ErrorIs(t, err, auth.ErrNoCredentials, "no header: not ours")

	_, err = NewProxy(ctx, ProxyConfig{Header: "X", Issuer: Issuer{DiscoveryURL: p.m.DiscoveryEndpoint(), Audience: []string{"a"}}}, Config{})
	assert.ErrorContains(t, err, "TRUSTED_PROXIES")
	_, err = NewProxy(ctx, ProxyConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Config{})
	assert.ErrorContains(t, err, "PROXY_ASSERTION_HEADER")
}
