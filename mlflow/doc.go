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
// Still to come (the rest of the MLflow contract issue): reading ids where
// MLflow's handlers read them, lookups through the upstream, and the
// Authorizer that decides.
package mlflow
