package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// experimentAnswer is MLflow's experiments/get answer for experiment 1.
const experimentAnswer = `{"experiment":{"experiment_id":"1","name":"bench","artifact_location":"mlflow-artifacts:/1",` +
	`"lifecycle_stage":"active","last_update_time":1733270400000,"creation_time":1733270400000,"tags":[]}}`

// memoryMLflow answers every request with experimentAnswer, in memory:
// the benchmarks below measure the gateway, not a network.
type memoryMLflow struct{}

func (memoryMLflow) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(experimentAnswer))}},
		Body:          io.NopCloser(strings.NewReader(experimentAnswer)),
		ContentLength: int64(len(experimentAnswer)),
		Request:       r,
	}, nil
}

// BenchmarkGatewayAllowed: a request the gateway lets through, the whole
// handler chain (metrics, audit, cross-origin check, authentication from
// the cache, the authorizer's decision, the proxy's director and copy)
// against MLflow answered in memory; "bare" is Go's reverse proxy alone
// with the same upstream and copy buffers, the floor. The difference is what the gateway
// adds to each request.
func BenchmarkGatewayAllowed(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	env := map[string]string{
		"MLFLOW_UPSTREAM_URL":        "http://127.0.0.1:1",
		"OIDC_USERS_DB_URI":          "sqlite:///" + filepath.Join(dir, "auth.db"),
		"DEFAULT_MLFLOW_PERMISSION":  "NO_PERMISSIONS",
		"MLFLOW_AUTH_ADMIN_USERNAME": "root",
		"MLFLOW_AUTH_ADMIN_PASSWORD": rootPassword,
	}
	cfg, err := FromEnv(envOf(env))
	require.NoError(b, err)
	quiet := slog.New(slog.DiscardHandler)
	g, err := New(ctx, cfg, Options{Logger: quiet, Audit: quiet, Transport: memoryMLflow{}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = g.Close() })
	db := g.Store()
	_, err = db.CreateUser(ctx, store.User{Username: "bob"})
	require.NoError(b, err)
	require.NoError(b, db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
		Principal: permission.ForUser("bob"), Level: permission.Read}))
	secret, err := basic.NewToken()
	require.NoError(b, err)
	h, err := basic.ParseToken(secret)
	require.NoError(b, err)
	_, err = db.CreateToken(ctx, store.Token{Username: "bob", Name: "bench", Hash: h[:], Prefix: basic.TokenDisplayPrefix(secret),
		ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(b, err)

	u, _ := url.Parse("http://127.0.0.1:1")
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: memoryMLflow{}, BufferPool: newCopyBuffers()}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"gateway", g}} {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", exp1, nil)
			r.SetBasicAuth("bob", secret)
			for range 3 { // until the decision and the token are cached
				w := httptest.NewRecorder()
				c.h.ServeHTTP(w, r)
				require.Equal(b, 200, w.Code, w.Body.String())
			}
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
