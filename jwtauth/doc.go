// Package jwtauth authenticates "Authorization: Bearer" JWTs issued by the
// identity provider (the MLflow client's MLFLOW_TRACKING_TOKEN, service
// principals, oauth2-proxy's --set-authorization-header), and the signed
// identity assertions of a trusted proxy (Pomerium, Google IAP, Cloudflare
// Access).
//
//	bearer, err := jwtauth.New(ctx, jwtauth.Config{
//		Issuers: []jwtauth.Issuer{{
//			DiscoveryURL: "https://login.example.com/.well-known/openid-configuration",
//			Audience:     []string{"mlflow"},          // OIDC_AUDIENCE, else OIDC_CLIENT_ID
//			ClientID:     "mlflow",                    // azp must match when present
//			Groups:       groupdetect.Claims("groups"), // nil: stored memberships
//		}},
//		Accounts: db, // the store: accounts must exist and be active
//	})
//	mw := auth.Middleware(auth.Config{}, basicAuthn, bearer)
//
// Tokens are verified with golang-jwt against an explicit allow-list of
// asymmetric algorithms (RS*, PS*, ES*, EdDSA): "none" and HMAC are always
// refused. iss and aud are required, azp is checked when present, exp is
// required, and nbf and iat are checked with a small leeway. Keys come from
// the JWKS, fetched again for an unknown kid at most once per interval and
// refreshed when old, so a removed key stops verifying.
//
// The username is an email only when email_verified is true, else the next
// claim in order; a token with no usable name claim is a service principal,
// found by its (issuer, subject) binding. A verified token is remembered
// until it expires, keyed by the whole token; Forget drops a user's tokens
// when the change feed says they changed. Token claims never make anyone an
// admin unless TrustGroupClaims (OIDC_TRUST_BEARER_GROUP_CLAIMS).
package jwtauth
