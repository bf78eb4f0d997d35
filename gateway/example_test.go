package gateway_test

import (
	"fmt"

	"github.com/mlflowauth/mlflowauth/gateway"
)

func ExampleFromEnv() {
	env := map[string]string{
		"MLFLOW_UPSTREAM_URL":     "http://mlflow:5000",
		"OIDC_DISCOVERY_URL":      "https://example.okta.com/.well-known/openid-configuration",
		"OIDC_CLIENT_ID":          "mlflow",
		"OIDC_REDIRECT_URI":       "https://mlflow.example.com/callback",
		"SESSION_COOKIE_SAMESITE": "sometimes",
	}
	_, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err)

	env["SESSION_COOKIE_SAMESITE"] = "lax"
	c, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Upstream, c.OIDC.Enabled, c.Session.Secure)
	// Output:
	// gateway: configuration: SESSION_COOKIE_SAMESITE: "sometimes" is not lax, strict or none
	// http://mlflow:5000 true true
}
