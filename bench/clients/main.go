// Command clients measures what MLflow's users feel: the same client
// workload (PROCS processes of MLflow's own Python client logging params
// and metrics, each request timed) against, in one run and for each MLflow
// install named by MLFLOWAUTH_TEST_MLFLOW2/3:
//
//   - plain MLflow, no authentication (the baseline);
//   - MLflow's own basic-auth app (--app-name basic-auth), a non-admin user;
//   - plain MLflow behind the gateway, the same user with a password and
//     with an access token.
//
// It prints requests per second and p50/p99 latency side by side, as
// Markdown for BENCHMARKS.md.
//
//	MLFLOWAUTH_TEST_MLFLOW2=/var/cache/mlflowauth/mlflow-2.17.2 \
//	MLFLOWAUTH_TEST_MLFLOW3=/var/cache/mlflowauth/mlflow-3.5.1 \
//	go run ./bench/clients -procs 16 -duration 30s
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/realmlflow"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

const (
	user     = "bench"
	password = "bench-password-0123"
)

// result is what load.py prints.
type result struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

func main() {
	procs := flag.Int("procs", 16, "client processes")
	duration := flag.Duration("duration", 30*time.Second, "how long each setup is loaded")
	flag.Parse()
	script, err := filepath.Abs(filepath.Join("bench", "clients", "load.py"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		log.Fatalf("run from the repository's root: %v", err)
	}
	ctx := context.Background()
	fmt.Printf("%d client processes, %s each, %d CPUs, %s\n\n", *procs, *duration, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| MLflow | setup | requests/s | p50 ms | p99 ms | errors |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, in := range realmlflow.Installs() {
		if err := in.Check(); err != nil {
			log.Printf("skipping: %v", err)
			continue
		}
		load := func(setup, uri, secret string) {
			r, err := runLoad(ctx, in, script, uri, secret, *procs, *duration)
			if err != nil {
				log.Fatalf("MLflow %s, %s: %v", in.Version, setup, err)
			}
			fmt.Printf("| %s | %s | %.0f | %.1f | %.1f | %d |\n", in.Version, setup, float64(r.Requests)/r.Seconds, r.P50, r.P99, r.Errors)
		}
		dir, err := os.MkdirTemp("", "mlflowauth-bench-clients-")
		if err != nil {
			log.Fatal(err)
		}

		// Plain MLflow, and the gateway in front of it.
		plain, err := in.Start(ctx, filepath.Join(dir, "plain"), realmlflow.Options{})
		if err != nil {
			log.Fatal(err)
		}
		load("plain MLflow, no authentication", plain.URL, password)
		gw, token, stop, err := startGateway(ctx, plain.URL, filepath.Join(dir, "auth.db"))
		if err != nil {
			log.Fatal(err)
		}
		load("gateway, password", gw, password)
		load("gateway, access token", gw, token)
		stop()
		plain.Stop()

		// MLflow's own basic-auth app.
		state := filepath.Join(dir, "basic-auth")
		if err := os.MkdirAll(state, 0o755); err != nil {
			log.Fatal(err)
		}
		ini := filepath.Join(state, "basic_auth.ini")
		if err := os.WriteFile(ini, []byte("[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///"+filepath.Join(state, "basic_auth.db")+
			"\nadmin_username = admin\nadmin_password = password1234\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"), 0o600); err != nil {
			log.Fatal(err)
		}
		own, err := in.Start(ctx, state, realmlflow.Options{Args: []string{"--app-name", "basic-auth"},
			Env: []string{"MLFLOW_AUTH_CONFIG_PATH=" + ini, "MLFLOW_FLASK_SERVER_SECRET_KEY=bench-secret-key"}})
		if err != nil {
			log.Fatal(err)
		}
		if err := createMLflowUser(ctx, own.URL); err != nil {
			log.Fatal(err)
		}
		load("MLflow basic-auth, password", own.URL, password)
		own.Stop()
		_ = os.RemoveAll(dir)
	}
}

func runLoad(ctx context.Context, in *realmlflow.Install, script, uri, secret string, procs int, d time.Duration) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d+5*time.Minute)
	defer cancel()
	out, err := in.Run(ctx, filepath.Dir(script), script, nil, uri, user, secret, fmt.Sprint(procs), fmt.Sprint(d.Seconds()))
	if err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var r result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return result{}, fmt.Errorf("load.py said: %s", out)
	}
	return r, nil
}

// startGateway runs the gateway on loopback in front of MLflow with the
// bench user (a password and a token).
func startGateway(ctx context.Context, upstream, db string) (string, string, func(), error) {
	env := map[string]string{"MLFLOW_UPSTREAM_URL": upstream, "OIDC_USERS_DB_URI": "sqlite:///" + db, "LOG_LEVEL": "WARN",
		"MLFLOW_AUTH_ADMIN_USERNAME": "admin", "MLFLOW_AUTH_ADMIN_PASSWORD": "admin-password-1234"}
	cfg, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return "", "", nil, err
	}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, err := gateway.New(ctx, cfg, gateway.Options{Logger: quiet, Audit: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "", "", nil, err
	}
	hash, err := basic.HashPassword(password)
	if err != nil {
		return "", "", nil, err
	}
	if _, err := g.Store().CreateUser(ctx, store.User{Username: user, PasswordHash: hash}); err != nil {
		return "", "", nil, err
	}
	token, err := basic.NewToken()
	if err != nil {
		return "", "", nil, err
	}
	h, _ := basic.ParseToken(token)
	if _, err := g.Store().CreateToken(ctx, store.Token{Username: user, Name: "bench", Hash: h[:], Prefix: basic.TokenDisplayPrefix(token),
		ExpiresAt: time.Now().Add(24 * time.Hour)}); err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), token, func() { _ = srv.Close(); g.Close() }, nil
}

// createMLflowUser makes the bench user in MLflow's own auth app, as an
// administrator would.
func createMLflowUser(ctx context.Context, uri string) error {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri+"/api/2.0/mlflow/users/create", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:password1234")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("creating the user in MLflow's auth app: %s", resp.Status)
	}
	return nil
}
