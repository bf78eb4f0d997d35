package auth

import (
	"context"
	"net/http"
	"strings"
)

// Method says how a request was authenticated.
type Method string

// The ways a request can be authenticated.
const (
	MethodBasic          Method = "basic"           // Authorization: Basic (access token or password)
	MethodBearer         Method = "bearer"          // Authorization: Bearer (a JWT from the identity provider)
	MethodSession        Method = "session"         // a browser session cookie after SSO
	MethodProxyAssertion Method = "proxy-assertion" // a trusted proxy's signed identity header
)

// Identity is who a request comes from, as an Authenticator established it.
//
// It deliberately has no admin or active flag: those are not a credential's
// to assert. The permission engine takes them from the store.
type Identity struct {
	// Username is the name MLflow sees, lower-cased. Middleware lower-cases
	// it if an authenticator did not.
	Username string
	// DisplayName is for people: a full name from the identity provider.
	DisplayName string
	// Groups are the groups the identity provider sent with this
	// credential. Nil means the credential carried no group information
	// (the stored memberships apply); non-nil and empty means the provider
	// said the user is in no group.
	Groups []string
	// Method is how the request was authenticated.
	Method Method
	// TokenID identifies the access token used, when one was; never the
	// secret itself.
	TokenID string
	// Issuer and Subject bind an SSO user to the identity provider's
	// account (OIDC iss and sub). Empty for local users.
	Issuer  string
	Subject string
}

// HasGroups reports whether the credential carried group information.
func (id *Identity) HasGroups() bool { return id.Groups != nil }

type contextKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, contextKey{}, id)
}

// FromContext returns the identity Middleware stored in ctx, if any.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(contextKey{}).(*Identity)
	return id, ok && id != nil
}

// FromRequest is FromContext(r.Context()).
func FromRequest(r *http.Request) (*Identity, bool) { return FromContext(r.Context()) }

// NormalizeUsername returns name as MLflow sees it: lower-cased, so that
// "Carol" and "carol" are one user. (strings.ToLower returns name itself,
// without allocating, when it is already lower case.)
func NormalizeUsername(name string) string { return strings.ToLower(name) }

// UsernameFromClaims picks a username from an identity provider's claims:
// the first of names that is a non-empty string, lower-cased. An "email"
// counts only when email_verified is true (a boolean, or "true" as some
// providers send it), unless trustEmail: an unverified address names
// whoever typed it.
func UsernameFromClaims(claims map[string]any, names []string, trustEmail bool) string {
	for _, n := range names {
		v, _ := claims[n].(string)
		if v == "" {
			continue
		}
		if n == "email" && !trustEmail {
			switch ev := claims["email_verified"].(type) {
			case bool:
				if !ev {
					continue
				}
			case string:
				if ev != "true" {
					continue
				}
			default:
				continue // absent: not verified
			}
		}
		return NormalizeUsername(v)
	}
	return ""
}
