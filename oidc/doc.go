// Package oidc is browser sign-in for the gateway: the OpenID Connect
// authorization code flow with PKCE (S256), state and nonce, on
// coreos/go-oidc and golang.org/x/oauth2.
//
// A Handler serves /login and /callback. /login keeps the state, nonce and
// PKCE verifier server-side (in any scs store, so replicas share pending
// logins) under a random cookie bound to this browser (__Host- prefixed
// over HTTPS), single use and valid for ten minutes, and sends the browser
// to the provider. /callback takes the pending login (once), checks the
// state, RFC 9207's iss, the code exchange and the ID token's nonce, and
// hands the verified Login to a SignIn, which binds the account, checks
// groups and starts the session:
//
//	h, err := oidc.New(ctx, oidc.Config{
//		DiscoveryURL: os.Getenv("OIDC_DISCOVERY_URL"),
//		ClientID:     os.Getenv("OIDC_CLIENT_ID"),
//		ClientSecret: os.Getenv("OIDC_CLIENT_SECRET"),
//		RedirectURL:  os.Getenv("OIDC_REDIRECT_URI"),
//		Scopes:       []string{"openid", "email", "profile", "groups"},
//		States:       sessions.Store, // an scs.Store
//		SignIn:       signIn,
//	})
//	mux.HandleFunc("/login", h.Login)
//	mux.HandleFunc("/callback", h.Callback)
//
// SafeNext makes the page to return to a path on this site.
package oidc
