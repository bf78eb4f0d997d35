package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mlflowauth/mlflowauth/auth"
)

// ProxyConfig configures trusted proxy assertions: a proxy in front of the
// gateway (Pomerium, Google IAP, Cloudflare Access) signs the identity it
// authenticated into a header.
type ProxyConfig struct {
	// Header carries the signed assertion (PROXY_ASSERTION_HEADER), such
	// as X-Goog-IAP-JWT-Assertion, Cf-Access-Jwt-Assertion or
	// X-Pomerium-Jwt-Assertion.
	Header string
	// Issuer: the JWKS that verifies it (PROXY_ASSERTION_JWKS_URL), the
	// issuer and audience the proxy puts in it. The username comes from
	// UsernameClaims (default email): the proxy vouches for the address.
	Issuer Issuer
	// TrustedProxies are the only peers whose assertions are read
	// (TRUSTED_PROXIES). The peer is the connection's address:
	// X-Forwarded-For cannot make a request look trusted.
	TrustedProxies []netip.Prefix
}

// Proxy authenticates a trusted proxy's signed identity header. Asserted
// groups (through Issuer.Groups) never make anyone admin: the identity
// carries no admin flag, and Proxy never provisions admins.
type Proxy struct {
	a      *Authenticator
	header string
	iss    map[string]*issuer
	nets   []netip.Prefix
}

// NewProxy fetches the proxy's keys. It is off (an error) without a
// header, keys and at least one trusted proxy.
func NewProxy(ctx context.Context, cfg ProxyConfig, base Config) (*Proxy, error) {
	switch {
	case cfg.Header == "":
		return nil, errors.New("jwtauth: proxy assertions need PROXY_ASSERTION_HEADER")
	case len(cfg.TrustedProxies) == 0:
		return nil, errors.New("jwtauth: proxy assertions need TRUSTED_PROXIES: an assertion is read only from a trusted proxy")
	}
	if len(cfg.Issuer.UsernameClaims) == 0 {
		cfg.Issuer.UsernameClaims = []string{"email"}
	}
	base.Issuers = []Issuer{cfg.Issuer}
	base.TrustGroupClaims = false
	a, err := New(ctx, base)
	if err != nil {
		return nil, err
	}
	for _, is := range a.issuers {
		is.trustEmail = true
	}
	return &Proxy{a: a, header: http.CanonicalHeaderKey(cfg.Header), iss: a.issuers, nets: cfg.TrustedProxies}, nil
}

// Forget drops remembered assertions of a user.
func (p *Proxy) Forget(username string) { p.a.Forget(username) }

// Authenticate implements auth.Authenticator.
func (p *Proxy) Authenticate(r *http.Request) (*auth.Identity, error) {
	values := r.Header.Values(p.header)
	if len(values) == 0 {
		return nil, auth.ErrNoCredentials
	}
	if !p.trustedPeer(r) {
		return nil, auth.Unauthenticated(fmt.Sprintf("The %s header is accepted only from a trusted proxy", p.header))
	}
	if len(values) > 1 {
		return nil, auth.Unauthenticated(fmt.Sprintf("More than one %s header", p.header))
	}
	tok := strings.TrimSpace(values[0])
	now := p.a.cfg.Now()
	if id, ok := p.a.cache.Get(tok, now); ok {
		return id, nil
	}
	id, exp, err := p.a.verify(r.Context(), tok, now, p.iss, auth.MethodProxyAssertion)
	if err != nil {
		return nil, err
	}
	if id.Username == "" {
		return nil, auth.Unauthenticated("The proxy's assertion names no user")
	}
	if err := p.a.account(r.Context(), id); err != nil {
		return nil, err
	}
	p.a.cache.Put(tok, id.Username, id, exp, now)
	return id, nil
}

func (p *Proxy) trustedPeer(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, n := range p.nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}
