// Package permission is MLflow's permission model, decided in microseconds
// from an in-memory snapshot.
//
// Levels are MLflow's: READ, USE, EDIT, MANAGE and NO_PERMISSIONS. They are
// granted on resources (experiments, registered models, prompts, scorers,
// gateway endpoints, secrets and model definitions, workspaces) to users and
// groups, explicitly or by regex rules on the resource's name. A decision
// tries the sources in mlflow-oidc-auth's PERMISSION_SOURCE_ORDER (by
// default user, group, regex, group-regex) and the first that has an answer
// wins; if none has, the default level applies (NO_PERMISSIONS unless
// configured). Admins are allowed everything, deactivated users nothing.
//
//	engine, err := permission.NewEngine(ctx, store, permission.Config{})
//	subj := engine.Snapshot().Subject("alice", idpGroups)
//	d := engine.Decide(subj, permission.Resource{Kind: permission.Experiment, ID: "7", Name: "team-a/churn"})
//	if !d.Allows(permission.CanUpdate) {
//		// 403; d.Explain() says why: "READ from group `ml-team`"
//	}
//
// Grants to several of a user's groups combine by GroupMode: by default an
// explicit NO_PERMISSIONS on any of them denies and otherwise the most
// permissive wins, as mlflow-oidc-auth's code does; MostPermissive lets the
// most permissive grant win outright.
//
// Regex rules are written in Python's syntax and matched as Python's
// re.match does (see Pattern), so rules imported from mlflow-oidc-auth keep
// their meaning. Rules are tried by priority, lower first, ties by rule id.
//
// The engine never reads the store on a decision. It loads everything once
// through a Loader, then applies the store's change-feed deltas
// (Engine.Apply), each making a new immutable Snapshot that shares all it
// did not touch; readers never wait. Which rules match a name is remembered
// in a bounded LRU per kind, since names are chosen by users.
//
// The package imports nothing from the rest of the module and no net/http:
// the store satisfies Loader, and the mlflow package turns requests into
// subjects and resources.
package permission
