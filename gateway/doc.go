// Package gateway assembles mlflowauth's packages into an MLflow gateway.
// So far it provides FromEnv, the configuration from the environment
// contract (mlflow-oidc-auth's names; a bad value is an error naming the
// variable), the reverse proxy to MLflow, the health endpoints
// (Health for /health, Ready for /health/ready) and BrowserGuard, the
// cross-origin check for cookie-authenticated writes:
//
//	proxy, err := gateway.NewProxy(gateway.ProxyConfig{
//		Upstream:      upstreamURL, // MLFLOW_UPSTREAM_URL
//		SessionCookie: "session",
//	})
//	handler := authn(authz.Wrap(proxy))
//
// The proxy sends MLflow the upstream's own Host, no Origin, and none of
// the caller's credentials; bodies stream both ways; an unreachable MLflow
// is a 502 in MLflow's error shape.
package gateway
