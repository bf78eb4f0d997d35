package basic

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/usercache"
)

// Account is what the authenticator needs to know of a user.
type Account struct {
	Username     string
	PasswordHash string // empty: password sign-in is off for this account
	Active       bool
	// ImportedToken says PasswordHash is an access token imported from
	// mlflow-oidc-auth (which kept tokens as password hashes): on its
	// first successful use it is rewritten as a token record.
	ImportedToken bool
	// LapsesAt is when the account's credentials stop until it signs in
	// through single sign-on again (SSO_REVALIDATE_DAYS); zero: never.
	LapsesAt time.Time
}

// Token is an access token's record.
type Token struct {
	ID        int64
	Username  string
	ExpiresAt time.Time
	RevokedAt time.Time // zero: not revoked
	Active    bool      // the owner is active
	// LapsesAt is when the token stops working until its owner signs in
	// through single sign-on again (SSO_REVALIDATE_DAYS); zero: never.
	LapsesAt time.Time
}

// LapsedMessage is the 401's message for a token whose owner has not
// signed in through single sign-on for too long.
const LapsedMessage = "Your tokens are paused: you have not signed in through single sign-on for too long. " +
	"Sign in once in a browser (open MLflow at this address) and they work again"

// lapsed reports whether credentials that lapse at (zero: never) have at now.
func lapsed(at, now time.Time) bool { return !at.IsZero() && !now.Before(at) }

// ErrUnknown is what Credentials return for a user or token they do not
// have.
var ErrUnknown = errors.New("basic: unknown user or token")

// Credentials is where accounts and tokens are looked up: the store, through
// a small adapter. Return ErrUnknown (or an error wrapping it) for what does
// not exist; any other error is taken as the store being unreachable.
type Credentials interface {
	Account(ctx context.Context, username string) (Account, error)
	Token(ctx context.Context, sha256 []byte) (Token, error)
}

// TokenToucher is implemented by Credentials that record when tokens were
// last used; the authenticator batches the times (see Flush).
type TokenToucher interface {
	TouchTokens(ctx context.Context, used map[int64]time.Time) error
}

// TokenAdopter is implemented by Credentials that can rewrite an imported
// access token (kept as a password hash) as a token record under its
// SHA-256, after which it is checked without hashing.
type TokenAdopter interface {
	AdoptToken(ctx context.Context, username string, sha256 []byte) error
}

// Config configures the authenticator. Only Credentials is required.
type Config struct {
	Credentials Credentials
	// Secret keys the credential cache (SECRET_KEY); random per process
	// when empty.
	Secret []byte
	// CacheTTL is how long a verified credential is remembered; 5 minutes
	// when zero. A change to the user (password, tokens, admin,
	// deactivation) forgets it at once through Forget.
	CacheTTL time.Duration
	// MaxConcurrentHashes bounds password hashing in flight; the number of
	// CPUs when zero.
	MaxConcurrentHashes int
	// HashWait is how long a request waits for a hashing slot before it
	// is answered 503 with Retry-After; 250ms when zero.
	HashWait time.Duration
	// MaxFailures failed attempts per (username, client address) within
	// FailureWindow lock that pair out with 429 until the window ends;
	// 10 and 5 minutes when zero.
	MaxFailures   int
	FailureWindow time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES); without them the client address is the peer's.
	TrustedProxies []netip.Prefix
	// Logger receives failures at debug level and faults at warn level;
	// slog.Default() when nil. No secret is ever logged.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Authenticator checks "Authorization: Basic" credentials: the username
// with an access token or a password, as MLflow clients send
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
type Authenticator struct {
	cfg     Config
	creds   Credentials
	secret  []byte
	macs    sync.Pool // HMAC-SHA256 under secret, reset and reused: no allocation per request
	sem     chan struct{}
	dummy   string
	cache   *usercache.Cache[[32]byte, *entry] // by a token's SHA-256 or the HMAC of username and password
	limiter *limiter

	touchMu sync.Mutex
	touched map[int64]time.Time

	hashes, hits, busy, lookups, waits atomic.Int64
}

// New returns an authenticator. It hashes one dummy password at start: the
// work an unknown username costs, so timing does not tell which exist.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Credentials == nil {
		return nil, errors.New("basic: Config.Credentials is required")
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.MaxConcurrentHashes <= 0 {
		cfg.MaxConcurrentHashes = runtime.NumCPU()
	}
	if cfg.HashWait <= 0 {
		cfg.HashWait = 250 * time.Millisecond
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 10
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	secret := cfg.Secret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	dummy, err := HashPassword(rand.Text())
	if err != nil {
		return nil, err
	}
	return &Authenticator{
		cfg: cfg, creds: cfg.Credentials, secret: secret,
		sem:     make(chan struct{}, cfg.MaxConcurrentHashes),
		dummy:   dummy,
		cache:   usercache.New[[32]byte, *entry](maxEntries),
		limiter: newLimiter(cfg.MaxFailures, cfg.FailureWindow),
		touched: map[int64]time.Time{},
	}, nil
}

// Stats counts what the authenticator did, for metrics and tests.
type Stats struct {
	Hashes    int64 // password verifications run, dummy ones included
	CacheHits int64 // credentials answered from the cache
	Lookups   int64 // credentials looked up in the store (cache misses)
	HashWaits int64 // password checks that waited for a hashing slot
	Busy      int64 // requests answered 503 because hashing was saturated
}

// Stats returns the counters.
func (a *Authenticator) Stats() Stats {
	return Stats{Hashes: a.hashes.Load(), CacheHits: a.hits.Load(), Lookups: a.lookups.Load(), HashWaits: a.waits.Load(), Busy: a.busy.Load()}
}

// Forget drops everything remembered about a user: call it for every
// change to the user (password, tokens, admin, deactivation, deletion).
func (a *Authenticator) Forget(username string) { a.cache.Forget(auth.NormalizeUsername(username)) }

// ForgetAll drops every remembered credential (after a store resync).
func (a *Authenticator) ForgetAll() { a.cache.Clear() }

var (
	errBadToken     = auth.Unauthenticated("Invalid access token")
	errExpiredToken = auth.Unauthenticated("Access token expired")
	errRevokedToken = auth.Unauthenticated("Access token revoked")
)

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*auth.Identity, error) {
	user, secret, err := auth.BasicCredentials(r)
	if err != nil {
		return nil, err // not mine, or a malformed header
	}
	username := auth.NormalizeUsername(user)
	client := a.clientAddr(r)
	now := a.cfg.Now()
	if wait := a.limiter.blocked(username, client, now); wait > 0 {
		return nil, &auth.Error{Status: http.StatusTooManyRequests, Code: auth.CodeRequestLimitExceeded,
			Message: "Too many failed sign-in attempts; try again later", RetryAfter: wait}
	}
	var id *auth.Identity
	if LooksLikeToken(secret) {
		id, err = a.token(r.Context(), username, secret, now)
	} else {
		id, err = a.password(r.Context(), username, secret, now)
	}
	if err != nil {
		var e *auth.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			a.limiter.fail(username, client, now)
			a.cfg.Logger.DebugContext(r.Context(), "basic: sign-in failed", "username", username, "client", client.String(), "reason", e.Message)
		}
		return nil, err
	}
	a.limiter.succeed(username, client)
	return id, nil
}

func unavailable(err error) error {
	return auth.Unavailable("The credential store is unavailable; try again", err)
}

// token checks one of our access tokens: its checksum first (no lookup for
// a mistyped or forged one), then the cache, then the store.
func (a *Authenticator) token(ctx context.Context, username, secret string, now time.Time) (*auth.Identity, error) {
	h, err := ParseToken(secret)
	if err != nil {
		return nil, errBadToken
	}
	return a.tokenByHash(ctx, username, h, now, true)
}

func (a *Authenticator) tokenByHash(ctx context.Context, username string, h [32]byte, now time.Time, must bool) (*auth.Identity, error) {
	e, ok := a.cache.Get(h, now)
	if ok {
		a.hits.Add(1)
	} else {
		a.lookups.Add(1)
		t, err := a.creds.Token(ctx, h[:])
		if errors.Is(err, ErrUnknown) {
			if !must {
				return nil, nil
			}
			return nil, errBadToken
		}
		if err != nil {
			return nil, unavailable(err)
		}
		e = &entry{username: t.Username, tokenID: t.ID, expires: t.ExpiresAt, revoked: !t.RevokedAt.IsZero(), active: t.Active, lapses: t.LapsesAt}
		e.identity = &auth.Identity{Username: t.Username, Method: auth.MethodBasic, TokenID: "token:" + strconv.FormatInt(t.ID, 10)}
		until := now.Add(a.cfg.CacheTTL)
		if t.ExpiresAt.Before(until) {
			until = t.ExpiresAt
		}
		a.cache.Put(h, e.username, e, until, now)
	}
	switch {
	case e.username != username:
		return nil, errBadToken // another user's token: say nothing more
	case e.revoked:
		return nil, errRevokedToken
	case !now.Before(e.expires):
		return nil, errExpiredToken
	case !e.active:
		return nil, auth.Unauthenticated("This account is deactivated")
	case lapsed(e.lapses, now):
		return nil, auth.Unauthenticated(LapsedMessage)
	}
	a.touch(e, now)
	return e.identity, nil
}

// password checks a password (or an imported token kept as one). A success
// is remembered under an HMAC of the credentials, so the next request does
// no hashing.
func (a *Authenticator) password(ctx context.Context, username, password string, now time.Time) (*auth.Identity, error) {
	key := a.cacheKey(username, password)
	if e, ok := a.cache.Get(key, now); ok {
		a.hits.Add(1)
		if lapsed(e.lapses, now) {
			return nil, auth.Unauthenticated(LapsedMessage)
		}
		return e.identity, nil
	}
	// An imported token already rewritten as a token record: found by its
	// SHA-256, with no hashing.
	if len(password) >= 20 {
		id, err := a.tokenByHash(ctx, username, sha256.Sum256([]byte(password)), now, false)
		if id != nil || err != nil {
			return id, err
		}
	}
	if !a.acquire(ctx) {
		a.busy.Add(1)
		return nil, auth.Unavailable("Too many sign-ins at once; try again", nil)
	}
	defer func() { <-a.sem }()
	a.lookups.Add(1)
	acct, err := a.creds.Account(ctx, username)
	if err != nil && !errors.Is(err, ErrUnknown) {
		return nil, unavailable(err)
	}
	if err != nil || acct.PasswordHash == "" || !acct.Active {
		a.verify(a.dummy, password) // the same work as a real check
		return nil, auth.Unauthenticated("")
	}
	ok, err := a.verify(acct.PasswordHash, password)
	if err != nil {
		a.cfg.Logger.WarnContext(ctx, "basic: cannot verify the stored password hash", "username", username, "error", err)
		return nil, auth.Unauthenticated("")
	}
	if !ok {
		return nil, auth.Unauthenticated("")
	}
	if lapsed(acct.LapsesAt, now) {
		return nil, auth.Unauthenticated(LapsedMessage)
	}
	id := &auth.Identity{Username: acct.Username, Method: auth.MethodBasic}
	if acct.ImportedToken {
		h := sha256.Sum256([]byte(password))
		if adopter, ok := a.creds.(TokenAdopter); ok {
			if err := adopter.AdoptToken(ctx, acct.Username, h[:]); err != nil {
				a.cfg.Logger.WarnContext(ctx, "basic: rewriting an imported token", "username", username, "error", err)
			}
		}
	}
	a.cache.Put(key, acct.Username, &entry{username: acct.Username, identity: id, active: true, lapses: acct.LapsesAt}, now.Add(a.cfg.CacheTTL), now)
	return id, nil
}

func (a *Authenticator) verify(hash, password string) (bool, error) {
	a.hashes.Add(1)
	return VerifyPassword(hash, password)
}

func (a *Authenticator) acquire(ctx context.Context) bool {
	select {
	case a.sem <- struct{}{}:
		return true
	default:
	}
	a.waits.Add(1)
	t := time.NewTimer(a.cfg.HashWait)
	defer t.Stop()
	select {
	case a.sem <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// cacheKey is an HMAC of the credentials: the cache holds neither the
// password nor a fast unkeyed hash of it.
func (a *Authenticator) cacheKey(username, password string) [32]byte {
	m, ok := a.macs.Get().(hash.Hash)
	if !ok {
		m = hmac.New(sha256.New, a.secret)
	}
	_, _ = io.WriteString(m, username)
	_, _ = m.Write([]byte{0})
	_, _ = io.WriteString(m, password)
	var k [32]byte
	m.Sum(k[:0])
	m.Reset()
	a.macs.Put(m)
	return k
}

// touch records a token's use for the next Flush; at most once a second
// per token, so concurrent requests with one token do not queue on the
// batch's lock (a last-used time is shown to the second).
func (a *Authenticator) touch(e *entry, now time.Time) {
	if e.tokenID == 0 {
		return
	}
	sec := now.Unix()
	if old := e.touched.Load(); old == sec || !e.touched.CompareAndSwap(old, sec) {
		return
	}
	a.touchMu.Lock()
	a.touched[e.tokenID] = now
	a.touchMu.Unlock()
}

// Flush writes the batched last-used times of tokens, when Credentials
// implement TokenToucher.
func (a *Authenticator) Flush(ctx context.Context) error {
	toucher, ok := a.creds.(TokenToucher)
	if !ok {
		return nil
	}
	a.touchMu.Lock()
	batch := a.touched
	a.touched = map[int64]time.Time{}
	a.touchMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return toucher.TouchTokens(ctx, batch)
}

// Run flushes last-used times every interval until ctx ends, then once more.
func (a *Authenticator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.Flush(context.WithoutCancel(ctx)); err != nil {
				a.cfg.Logger.Warn("basic: recording token use", "error", err)
			}
			return
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.cfg.Logger.WarnContext(ctx, "basic: recording token use", "error", err)
			}
		}
	}
}

// clientAddr is the address failures are counted against: the peer, or,
// when the peer is a trusted proxy, the first address in X-Forwarded-For
// (from the right) that is not.
func (a *Authenticator) clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !a.trusted(peer) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			addr, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client // a garbled hop: trust nothing beyond it
			}
			client = addr.Unmap()
			if !a.trusted(client) {
				return client
			}
		}
	}
	return client
}

func (a *Authenticator) trusted(addr netip.Addr) bool {
	for _, p := range a.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
