// Package auth is the request pipeline core of mlflowauth: the Identity a
// request is made by, the Authenticator interface that establishes it, the
// Middleware that runs a chain of authenticators, and MLflow-shaped errors.
//
// Every other package plugs into it. An authenticator looks at a request and
// answers one of three things: ErrNoCredentials (not mine: the chain asks the
// next), an error (mine, and invalid: 401 at once), or an Identity.
//
//	authn := auth.Middleware(auth.Config{Public: []string{"/health"}},
//		basicAuthenticator, // Authorization: Basic user:token
//		jwtAuthenticator,   // Authorization: Bearer <JWT>
//	)
//	http.ListenAndServe(":8080", authn(mlflowProxy))
//
// Handlers behind the middleware read the identity with FromContext.
//
// Before authenticating, the middleware insists on a canonical path
// (CanonicalPath): what the gateway matches must be what MLflow serves. It
// answers failures the way MLflow and its Python client expect:
// {"error_code": "UNAUTHENTICATED", "message": "..."} with 401, and the
// Basic challenge only where a browser's password dialog would not pop up
// over the MLflow UI.
package auth
