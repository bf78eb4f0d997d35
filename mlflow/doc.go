// Package mlflow is what each MLflow REST endpoint means for authorization:
// which resource a request acts on, where its id is, and what permission it
// needs.
//
// The endpoint table is the shared MLflow contract (testdata/mlflow-endpoints.json,
// 216 rows beside the admin API's), generated into Go by gen_endpoints.py and
// checked against the JSON by the tests. A Router classifies a request by
// method and canonical path (auth.CanonicalPath):
//
//	router, err := mlflow.NewRouter(mlflow.RouterConfig{StaticPrefix: os.Getenv("MLFLOW_STATIC_PREFIX")})
//	m, ok := router.Classify(r.Method, canonicalPath)
//	if !ok {
//		// no row: admin-only
//	}
//	need := m.Endpoint.Require // read, update, manage, admin, filter, ...
//	runID, _ := m.Param("run_id")
//
// Matching is exact and case-sensitive; the /ajax-api twins come only from
// the contract's also_served_at, and a path that is both a row and another
// row's twin follows its own row; HEAD is taken as GET; the static prefix
// applies only to the rows MLflow serves through Flask.
//
// An Authorizer decides each authenticated request: it reads the ids where
// MLflow's handler reads them (ReadFields, path parameters, the query of an
// upload), resolves runs, logged models, traces and experiment names to
// experiments through the upstream (Upstream: strict id syntax, cached,
// found answers only, de-duplicated, with timeouts), and asks the
// permission engine:
//
//	authz, err := mlflow.NewAuthorizer(mlflow.Config{Engine: engine, Lookups: upstream})
//	handler := authn(authz.Wrap(proxy))
//
// A resource MLflow says does not exist is let through for MLflow's own
// 404; a failed lookup is 503; a refusal is 403 PERMISSION_DENIED. Cached
// names follow the store's change feed through Upstream.ForgetResource.
//
// With Config.Grants (the store), MLflow's answers are recorded before they
// reach the client: the creator of an experiment, model, prompt, scorer or
// gateway object gets MANAGE, and grants follow renames and deletes.
// Searches and lists answer a non-admin only what they may read, refilled
// from MLflow within bounds, with continuation tokens signed with
// Config.SecretKey. GraphQL queries are parsed against MLflow's schema
// and every field is decided by its arguments; model versions of models
// the caller may not read are dropped from the answer.
package mlflow
