// Package admin is the management API, in the shapes clients already
// call: MLflow's own (what mlflow.server.get_app_client("basic-auth")
// sends, up to 3.12, and 3.13's users/permissions), mlflow-oidc-auth's
// (users/access-token, the users router), and mlflowauth's own under
// /api/2.0/mlflowauth/ (named tokens, sign out everywhere, the audit
// trail, why a user has a level).
//
// The gateway serves Routes behind its authentication and never proxies
// them to MLflow:
//
//	api, err := admin.New(admin.Config{Store: db, Engine: engine, Names: upstream})
//	for path, h := range api.Routes() {
//		mux.Handle(path, authn(h))
//	}
//
// Administrators may do everything; a user with MANAGE on a resource may
// grant on it; anyone may manage their own tokens and sessions; the last
// active administrator cannot be deleted or demoted. Permission is checked
// before existence, so a refusal tells nothing of what exists. Writes take
// JSON only; errors are MLflow's, in its words.
package admin
