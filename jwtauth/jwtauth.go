package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/groupdetect"
	"github.com/mlflowauth/mlflowauth/internal/usercache"
)

// MaxTokenLength bounds a token before anything parses it.
const MaxTokenLength = 8 << 10

// asymmetric is the default algorithm allow-list: RSA, RSA-PSS, ECDSA and
// EdDSA. "none" and the HMAC algorithms are never allowed.
func asymmetric() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// Issuer is one identity provider whose tokens are accepted.
type Issuer struct {
	// DiscoveryURL is the provider's OpenID configuration; its issuer and
	// jwks_uri are used. Or set JWKSURL (and Issuer) directly.
	DiscoveryURL string
	JWKSURL      string
	// Issuer is the required iss; the discovery document's when empty.
	Issuer string
	// Audience lists accepted aud values; at least one is required
	// (OIDC_AUDIENCE, else OIDC_CLIENT_ID).
	Audience []string
	// ClientID, when set, must equal azp when a token carries one, so a
	// token issued to another client of the same provider is refused.
	ClientID string
	// UsernameClaims are tried in order (OIDC_USERNAME_FIELD; default
	// email, preferred_username). An email counts only when email_verified
	// is true.
	UsernameClaims []string
	// DisplayNameClaim is for people (OIDC_DISPLAY_NAME_FIELD; "name").
	DisplayNameClaim string
	// Groups reads groups from the verified claims; nil means a token
	// carries no group information and the stored memberships apply.
	Groups groupdetect.Provider
	// Algorithms overrides the asymmetric allow-list.
	Algorithms []string
}

// Accounts is what the authenticator needs of the store: a token's user
// must exist and be active, a service principal (no name claim) is found by
// its (issuer, subject) binding, and, when provisioning is on, a new user is
// created. The store satisfies it.
type Accounts interface {
	AccountStatus(ctx context.Context, username string) (exists, active bool, err error)
	UsernameByIdentity(ctx context.Context, issuer, subject string) (string, error)
	ProvisionUser(ctx context.Context, username, displayName string, admin bool) error
}

// Config configures the authenticator.
type Config struct {
	Issuers []Issuer
	// Accounts, when set, is consulted on a token's first use. Without
	// it any valid token is a user of its name.
	Accounts Accounts
	// Provision creates a bearer user with no account, when the Gate
	// lets them in (OIDC_PROVISION_ON_BEARER_AUTH).
	Provision bool
	// TrustGroupClaims lets a token's groups make a provisioned user an
	// admin (OIDC_TRUST_BEARER_GROUP_CLAIMS). Off, claims never do.
	TrustGroupClaims bool
	// Gate is OIDC_GROUP_NAME / OIDC_ADMIN_GROUP_NAME.
	Gate groupdetect.Gate
	// Leeway for exp, nbf and iat; 30s when zero.
	Leeway time.Duration
	// KeyRefresh is how old keys may get before they are fetched again
	// (so a removed key stops verifying); 15 minutes when zero.
	// MinRefetch is the least time between fetches for an unknown kid; 30s.
	KeyRefresh time.Duration
	MinRefetch time.Duration
	Client     *http.Client // http.DefaultClient when nil
	Logger     *slog.Logger // slog.Default() when nil
	Now        func() time.Time
}

// Authenticator verifies "Authorization: Bearer" JWTs.
type Authenticator struct {
	cfg     Config
	issuers map[string]*issuer
	cache   *usercache.Cache[string, *auth.Identity] // verified tokens, keyed by the whole token, until they expire

	hits, verified atomic.Int64
}

// Stats counts what the authenticator did, for metrics.
type Stats struct {
	CacheHits int64 // tokens answered from the cache
	Verified  int64 // tokens whose signature was checked (cache misses)
}

// Stats returns the counters.
func (a *Authenticator) Stats() Stats {
	return Stats{CacheHits: a.hits.Load(), Verified: a.verified.Load()}
}

type issuer struct {
	Issuer
	keys *keySet
	// trustEmail: the email claim needs no email_verified (a proxy's
	// assertion, where the proxy vouches for the address).
	trustEmail bool
}

// New fetches each issuer's discovery document and returns the
// authenticator. An unreachable or inconsistent provider is an error.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("jwtauth: no issuer configured")
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.KeyRefresh <= 0 {
		cfg.KeyRefresh = 15 * time.Minute
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = 30 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authenticator{cfg: cfg, issuers: map[string]*issuer{}, cache: usercache.New[string, *auth.Identity](100_000)}
	for _, is := range cfg.Issuers {
		iss, err := a.prepare(ctx, is)
		if err != nil {
			return nil, err
		}
		a.issuers[iss.Issuer.Issuer] = iss
	}
	return a, nil
}

func (a *Authenticator) prepare(ctx context.Context, is Issuer) (*issuer, error) {
	if is.DiscoveryURL != "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, a.cfg.Client, is.DiscoveryURL, &doc); err != nil {
			return nil, fmt.Errorf("jwtauth: discovery %s: %w", is.DiscoveryURL, err)
		}
		if is.Issuer == "" {
			is.Issuer = doc.Issuer
		} else if is.Issuer != doc.Issuer {
			return nil, fmt.Errorf("jwtauth: discovery %s names issuer %q, not the configured %q", is.DiscoveryURL, doc.Issuer, is.Issuer)
		}
		if is.JWKSURL == "" {
			is.JWKSURL = doc.JWKSURI
		}
	}
	switch {
	case is.Issuer == "":
		return nil, errors.New("jwtauth: an issuer needs Issuer or DiscoveryURL")
	case is.JWKSURL == "":
		return nil, fmt.Errorf("jwtauth: issuer %s: no JWKS URL", is.Issuer)
	case len(is.Audience) == 0:
		return nil, fmt.Errorf("jwtauth: issuer %s: an audience is required (OIDC_AUDIENCE or OIDC_CLIENT_ID)", is.Issuer)
	}
	if len(is.UsernameClaims) == 0 {
		is.UsernameClaims = []string{"email", "preferred_username"}
	}
	if is.DisplayNameClaim == "" {
		is.DisplayNameClaim = "name"
	}
	if len(is.Algorithms) == 0 {
		is.Algorithms = asymmetric()
	}
	for _, alg := range is.Algorithms {
		if !slices.Contains(asymmetric(), alg) {
			return nil, fmt.Errorf("jwtauth: issuer %s: algorithm %q is not an asymmetric one", is.Issuer, alg)
		}
	}
	ks := &keySet{url: is.JWKSURL, client: a.cfg.Client, minInterval: a.cfg.MinRefetch, refresh: a.cfg.KeyRefresh}
	ks.mu.Lock()
	err := ks.fetch(ctx, a.cfg.Now())
	ks.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &issuer{Issuer: is, keys: ks}, nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Forget drops the remembered tokens of a user (deactivated, deleted): the
// change feed calls it.
func (a *Authenticator) Forget(username string) { a.cache.Forget(auth.NormalizeUsername(username)) }

// ForgetAll drops every remembered token.
func (a *Authenticator) ForgetAll() { a.cache.Clear() }

func unauthenticated(msg string, err error) error {
	e := auth.Unauthenticated(msg)
	e.Err = err
	return e
}

// Authenticate implements auth.Authenticator.
func (a *Authenticator) Authenticate(r *http.Request) (*auth.Identity, error) {
	now := a.cfg.Now()
	// A token seen before is found by the header's exact text, before
	// parsing: it was checked in full when it was first verified, and a
	// 3 KiB token costs more to scan than to look up.
	if h := r.Header["Authorization"]; len(h) == 1 && strings.HasPrefix(h[0], "Bearer ") {
		if id, ok := a.cache.Get(h[0][len("Bearer "):], now); ok {
			a.hits.Add(1)
			return id, nil
		}
	}
	tok, err := auth.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if id, ok := a.cache.Get(tok, now); ok {
		a.hits.Add(1)
		return id, nil
	}
	a.verified.Add(1)
	id, exp, err := a.verify(r.Context(), tok, now, a.issuers, auth.MethodBearer)
	if err != nil {
		return nil, err
	}
	if err := a.account(r.Context(), id); err != nil {
		return nil, err
	}
	a.cache.Put(tok, id.Username, id, exp, now)
	return id, nil
}

// verify checks a token against the given issuers and builds the identity.
func (a *Authenticator) verify(ctx context.Context, tok string, now time.Time, issuers map[string]*issuer, method auth.Method) (*auth.Identity, time.Time, error) {
	if len(tok) > MaxTokenLength {
		return nil, time.Time{}, unauthenticated("Bearer token longer than 8192 bytes", nil)
	}
	if strings.Count(tok, ".") != 2 {
		return nil, time.Time{}, unauthenticated("Bearer token is not a JWT", nil)
	}
	// Which issuer: read iss before verifying, only to choose the keys.
	var peek jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &peek); err != nil {
		return nil, time.Time{}, unauthenticated("Bearer token is not a valid JWT", err)
	}
	is, ok := issuers[peek.Issuer]
	if !ok {
		return nil, time.Time{}, unauthenticated("Bearer token from an issuer this server does not trust", nil)
	}
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods(is.Algorithms),
		jwt.WithIssuer(is.Issuer.Issuer),
		jwt.WithAudience(is.Audience...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(a.cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := is.keys.lookup(ctx, kid, now)
		if err != nil {
			return nil, err
		}
		if key.alg != "" && key.alg != t.Method.Alg() {
			return nil, fmt.Errorf("key %q is for %s, the token says %s", kid, key.alg, t.Method.Alg())
		}
		return key.key, nil
	})
	if err != nil {
		return nil, time.Time{}, unauthenticated(tokenError(err), err)
	}
	if azp, ok := claims["azp"].(string); ok && is.ClientID != "" && azp != is.ClientID {
		return nil, time.Time{}, unauthenticated("Bearer token was issued to another client", nil)
	}
	id := &auth.Identity{Method: method, Issuer: is.Issuer.Issuer}
	id.Subject, _ = claims["sub"].(string)
	id.Username = auth.UsernameFromClaims(claims, is.UsernameClaims, is.trustEmail)
	id.DisplayName, _ = claims[is.DisplayNameClaim].(string)
	if is.Groups != nil {
		groups, err := is.Groups.Groups(ctx, groupdetect.Input{Claims: claims})
		if err != nil {
			return nil, time.Time{}, unauthenticated("Cannot tell the token's groups", err)
		}
		id.Groups = groups
	}
	exp, _ := claims.GetExpirationTime()
	return id, exp.Time, nil
}

// tokenError says what is wrong with a token without echoing it.
func tokenError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "Bearer token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "Bearer token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "Bearer token is for another audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "Bearer token from an issuer this server does not trust"
	case errors.Is(err, ErrUnknownKey):
		return "Bearer token signed with an unknown key"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "Bearer token signature is not valid"
	}
	return "Bearer token is not valid"
}

// account resolves a service principal and checks (or provisions) the
// account.
func (a *Authenticator) account(ctx context.Context, id *auth.Identity) error {
	acc := a.cfg.Accounts
	if id.Username == "" {
		if acc == nil || id.Subject == "" {
			return unauthenticated("Bearer token has no username claim and no account is bound to its subject", nil)
		}
		name, err := acc.UsernameByIdentity(ctx, id.Issuer, id.Subject)
		if err != nil {
			return unavailable(err)
		}
		if name == "" {
			return unauthenticated("No account is bound to this token's subject (a service principal needs a service account bound to it)", nil)
		}
		id.Username = name
	}
	if acc == nil {
		return nil
	}
	exists, active, err := acc.AccountStatus(ctx, id.Username)
	if err != nil {
		return unavailable(err)
	}
	switch {
	case exists && !active:
		return unauthenticated("This account is deactivated", nil)
	case exists:
		return nil
	case !a.cfg.Provision:
		return unauthenticated("No account for this user: sign in through the browser first, or ask an administrator", nil)
	}
	verdict := a.cfg.Gate.Check(id.Groups)
	if !verdict.SignIn {
		return auth.PermissionDenied(a.cfg.Gate.Refusal())
	}
	if err := acc.ProvisionUser(ctx, id.Username, id.DisplayName, a.cfg.TrustGroupClaims && verdict.Admin); err != nil {
		return unavailable(err)
	}
	return nil
}

func unavailable(err error) error {
	return auth.Unavailable("The account store is unavailable; try again", err)
}
