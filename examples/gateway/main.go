// Command gateway is the MLflow gateway: single sign-on, access tokens and
// MLflow's permission model in front of an MLflow tracking server,
// configured from the environment (mlflow-oidc-auth's variable names; a
// .env file in the working directory is read too, the environment
// winning).
//
//	go run ./examples/gateway                      # :8080, SQLite auth.db, MLflow at 127.0.0.1:5000
//	go run ./examples/gateway admin restore-admin alice
//	go run ./examples/gateway admin import sqlite:///basic_auth.db
//	go run ./examples/gateway admin prune-sessions
//
// Prometheus metrics are served on METRICS_ADDR when it is set; the audit
// log (changes and refusals) goes to standard output as JSON lines, the
// rest of the log to standard error.
//
// On SIGTERM or SIGINT it stops accepting connections and lets requests
// in flight (artifact transfers included) finish for up to
// SHUTDOWN_TIMEOUT (30s).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// run is the gateway until ctx ends, or an operator command; it returns
// the exit code: 2 for a configuration or usage error, 1 for any other.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	file, err := gateway.DotEnv(".env")
	if err != nil {
		fmt.Fprintln(stderr, "gateway: .env:", err)
		return 2
	}
	cfg, err := gateway.FromEnv(gateway.WithDotEnv(file, lookup))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	if len(args) > 0 && args[0] == "admin" {
		db, err := store.OpenWith(ctx, cfg.DatabaseURI, store.Options{Logger: logger})
		if err != nil {
			fmt.Fprintln(stderr, "gateway: OIDC_USERS_DB_URI:", err)
			return 1
		}
		defer db.Close()
		if err := gateway.Admin(ctx, db, args[1:], stdout); err != nil {
			fmt.Fprintln(stderr, err)
			if errors.Is(err, gateway.ErrUsage) {
				return 2
			}
			return 1
		}
		return 0
	}
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: gateway [admin ...]")
		fmt.Fprintln(stderr, gateway.ErrUsage)
		return 2
	}

	shutdown := 30 * time.Second
	if v, ok := lookup("SHUTDOWN_TIMEOUT"); ok {
		if shutdown, err = time.ParseDuration(v); err != nil || shutdown < 0 {
			fmt.Fprintf(stderr, "gateway: configuration: SHUTDOWN_TIMEOUT: %q is not a duration such as 30s\n", v)
			return 2
		}
	}
	audit := slog.New(slog.NewJSONHandler(stdout, nil)) // the audit log: JSON lines on standard output
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: logger, Audit: audit})
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, gateway.ErrConfig) {
			return 2
		}
		return 1
	}
	defer g.Close()
	srv := g.Server()
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "gateway: LISTEN_ADDR:", err)
		return 2
	}
	logger.Info("gateway: listening", "url", listenURL(ln.Addr()), "mlflow", cfg.Upstream.String(),
		"database", redactURI(cfg.DatabaseURI))
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			fmt.Fprintln(stderr, "gateway: METRICS_ADDR:", err)
			return 2
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", g.MetricsHandler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		logger.Info("gateway: metrics", "url", listenURL(mln.Addr())+"/metrics")
		go func() { served <- metricsSrv.Serve(mln) }()
	}
	select {
	case err := <-served:
		fmt.Fprintln(stderr, "gateway:", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("gateway: shutting down: finishing requests in flight", "within", shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), shutdown)
	defer cancel()
	if metricsSrv != nil {
		_ = metricsSrv.Close()
		<-served
	}
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("gateway: requests still in flight were cut", "error", err)
		_ = srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "gateway:", err)
		return 1
	}
	return 0
}

// redactURI hides a database password from the log.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unreadable)"
	}
	return u.Redacted()
}

// listenURL is where a person on this machine reaches the listener.
func listenURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "http://" + a.String()
	}
	return fmt.Sprintf("http://localhost:%d", tcp.Port)
}
