package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBadConfiguration(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"SESSION_TYPE":      {"SESSION_TYPE": "mongodb"},
		"SHUTDOWN_TIMEOUT":  {"SHUTDOWN_TIMEOUT": "soon"},
		"OIDC_USERS_DB_URI": {"OIDC_USERS_DB_URI": "mysql://db/auth"},
		"LISTEN_ADDR":       {"LISTEN_ADDR": "127.0.0.1:99999"},
	} {
		if _, ok := env["OIDC_USERS_DB_URI"]; !ok {
			env["OIDC_USERS_DB_URI"] = "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")
		}
		var stderr testenv.Buffer
		code := run(context.Background(), nil, envOf(env), io.Discard, &stderr)
		assert.NotZero(t, code, name)
		assert.Contains(t, stderr.String(), name, "the error names the variable")
	}
	var stderr testenv.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"serve"}, envOf(nil), io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "usage")
}

func TestAdminCommands(t *testing.T) {
	env := envOf(map[string]string{"OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")})
	var out, stderr testenv.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"admin", "make-coffee"}, env, &out, &stderr))
	assert.Contains(t, stderr.String(), "usage")
	assert.Equal(t, 0, run(context.Background(), []string{"admin", "prune-sessions"}, env, &out, &stderr), stderr.String())
	assert.Contains(t, out.String(), "sessions pruned")
	assert.Equal(t, 1, run(context.Background(), []string{"admin", "restore-admin", "nobody"}, env, &out, &stderr),
		"no such user: nothing to restore")
}

var listening = regexp.MustCompile(`msg="gateway: listening" url=(\S+)`)

// start runs the gateway until the returned cancel is called, and returns
// its URL and the exit code channel.
func start(t *testing.T, env map[string]string) (string, *testenv.Buffer, context.CancelFunc, <-chan int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stderr testenv.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, nil, envOf(env), io.Discard, &stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], &stderr, cancel, code
		}
		select {
		case c := <-code:
			t.Fatalf("the gateway exited with %d: %s", c, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("the gateway did not say where it listens: %s", stderr.String())
	return "", nil, nil, nil
}

// The quickstart: nothing but where to listen and the database, and it
// serves, says how to make the first administrator, and stops cleanly.
func TestServe(t *testing.T) {
	d := mlflowtest.New(t)
	url, stderr, stop, code := start(t, map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "MLFLOW_UPSTREAM_URL": d.URL(),
		"OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "auth.db"), "METRICS_ADDR": "127.0.0.1:0"})
	assert.Contains(t, stderr.String(), "no administrator yet")
	assert.Contains(t, stderr.String(), "MLFLOW_AUTH_ADMIN_USERNAME")
	resp, err := http.Get(url + "/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	resp, err = http.Get(url + "/api/2.0/mlflow/experiments/get?experiment_id=1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)

	m := regexp.MustCompile(`msg="gateway: metrics" url=(\S+)`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, "METRICS_ADDR is said: %s", stderr.String())
	resp, err = http.Get(m[1])
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `mlflowauth_requests_total{code="401"`)
	stop()
	assert.Equal(t, 0, <-code)
}

// A SIGTERM in the middle of an artifact download: no new connections,
// and the download in flight finishes whole.
func TestGracefulShutdown(t *testing.T) {
	d := mlflowtest.New(t)
	const chunks, chunk = 20, 64 << 10
	streaming := make(chan struct{})
	d.Extra = map[string]http.Handler{"/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/model.bin": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		buf := make([]byte, chunk)
		for i := range chunks {
			_, _ = w.Write(buf)
			w.(http.Flusher).Flush()
			if i == 0 {
				close(streaming)
			}
			time.Sleep(25 * time.Millisecond)
		}
	})}
	url, _, stop, code := start(t, map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "MLFLOW_UPSTREAM_URL": d.URL(),
		"OIDC_USERS_DB_URI":          "sqlite:///" + filepath.Join(t.TempDir(), "auth.db"),
		"MLFLOW_AUTH_ADMIN_USERNAME": "root", "MLFLOW_AUTH_ADMIN_PASSWORD": "root-password-for-tests", "SHUTDOWN_TIMEOUT": "10s"})
	req, err := http.NewRequest("GET", url+"/api/2.0/mlflow-artifacts/artifacts/1/run/artifacts/model.bin", nil)
	require.NoError(t, err)
	req.SetBasicAuth("root", "root-password-for-tests")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	<-streaming
	stop() // as SIGTERM does
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	assert.Equal(t, int64(chunks*chunk), n, "the download in flight finished")
	assert.Equal(t, 0, <-code)
	_, err = http.Get(url + "/health")
	assert.Error(t, err, "no longer accepting")
	assert.False(t, strings.Contains(url, "[::]"))
}
