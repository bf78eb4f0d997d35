// Command echo puts the gateway in an echo server beside routes of your
// own: the gateway's authentication wrapped for echo with
// echo.WrapMiddleware on a group of yours, and MLflow's UI and API
// through the gateway with echo.WrapHandler.
//
//	MLFLOW_UPSTREAM_URL=http://127.0.0.1:5000 go run ./examples/echo
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/gateway"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// server is the integrator's echo server.
func server(g *gateway.Gateway) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.GET("/team/status", func(c echo.Context) error {
		return c.String(http.StatusOK, "ML platform: all systems normal\n")
	})
	mine := e.Group("/platform", echo.WrapMiddleware(g.Authenticate))
	mine.GET("/me", func(c echo.Context) error {
		id, _ := auth.FromRequest(c.Request())
		return c.JSON(http.StatusOK, map[string]any{"username": id.Username, "method": id.Method})
	})
	e.Any("/*", echo.WrapHandler(g)) // MLflow, authenticated and authorized
	return e
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
	srv := g.Server()
	srv.Handler = server(g)
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
