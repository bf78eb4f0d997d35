package gateway_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/gateway"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite" // OIDC_USERS_DB_URI=sqlite:///...
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

// ExampleNew is the gateway of examples/gateway in a program of your own,
// with a route of yours beside MLflow's. (Compiled, not run: it needs an
// MLflow.)
func ExampleNew() {
	ctx := context.Background()
	cfg, err := gateway.FromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromRequest(r)
		fmt.Fprintln(w, id.Username)
	})
	g, err := gateway.New(ctx, cfg, gateway.Options{Routes: map[string]http.Handler{"/whoami": whoami}})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	log.Fatal(g.Server().ListenAndServe())
}
