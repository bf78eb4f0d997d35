// Package gateway assembles mlflowauth's packages into an MLflow gateway:
// configuration from the environment contract (FromEnv: mlflow-oidc-auth's
// names, a bad value an error naming the variable), and New, which opens
// the store, imports once, creates the bootstrap administrator, follows the
// change feed and wires authentication (Basic, bearer, proxy assertions,
// sessions), the authorizer and the reverse proxy:
//
//	cfg, err := gateway.FromEnv(nil)
//	if err != nil {
//		log.Fatal(err) // "gateway: configuration: SESSION_TYPE: ..."
//	}
//	g, err := gateway.New(ctx, cfg, gateway.Options{})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer g.Close()
//	log.Fatal(g.Server().ListenAndServe())
//
// The pieces are usable alone: NewProxy (the upstream's own Host, no
// Origin, none of the caller's credentials, streaming both ways, a 502 in
// MLflow's shape when MLflow is down), BrowserGuard (cross-origin writes
// with cookies refused), Health and Ready, and Admin, the operator
// commands of examples/gateway.
package gateway
