// Command chi puts the gateway in a chi router beside routes of your own:
// a public status page, an authenticated /me that uses the gateway's
// authentication as middleware, and everything else (MLflow's UI and
// API) through the gateway, which decides every request as
// examples/gateway does.
//
//	MLFLOW_UPSTREAM_URL=http://127.0.0.1:5000 go run ./examples/chi
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/gateway"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// router is the integrator's router: theirs first, MLflow for the rest.
func router(g *gateway.Gateway) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Get("/team/status", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ML platform: all systems normal")
	})
	r.Group(func(r chi.Router) {
		r.Use(g.Authenticate) // Basic, bearer or session: the caller's auth.Identity
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			id, _ := auth.FromRequest(r)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"username": id.Username, "method": id.Method, "groups": id.Groups})
		})
	})
	r.Handle("/*", g) // MLflow, authenticated and authorized
	return r
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := gateway.FromEnv(nil)
	if err != nil {
		log.Fatal(err)
	}
	g, err := gateway.New(ctx, cfg, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()
	srv := g.Server() // LISTEN_ADDR and the gateway's timeouts
	srv.Handler = router(g)
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
