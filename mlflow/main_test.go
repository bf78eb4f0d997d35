package mlflow

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// TestMain: with MLFLOWAUTH_TEST_REPLICA_STORE set, the test binary is
// another gateway replica instead: it serves until its stdin closes.
func TestMain(m *testing.M) {
	if uri := os.Getenv("MLFLOWAUTH_TEST_REPLICA_STORE"); uri != "" {
		os.Exit(runReplica(uri, os.Getenv("MLFLOWAUTH_TEST_REPLICA_MLFLOW"), os.Getenv("MLFLOWAUTH_TEST_REPLICA_KEY")))
	}
	os.Exit(m.Run())
}

// runReplica is a gateway process: a store following its feed (polling
// only once an hour, so what it sees of another process's writes comes
// from a refusal's re-check), the authorizer, a proxy to MLflow. The
// caller is named by X-Test-User.
func runReplica(storeURI, mlflowURL, key string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, err); return 1 }
	st, err := store.OpenWith(ctx, storeURI, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	e, err := permission.NewEngine(ctx, st, permission.Config{})
	if err != nil {
		return fail(err)
	}
	go st.Follow(ctx, e, store.FollowOptions{Poll: time.Hour})
	up, err := NewUpstream(UpstreamConfig{URL: mlflowURL, Timeout: 2 * time.Second})
	if err != nil {
		return fail(err)
	}
	a, err := NewAuthorizer(Config{Engine: e, Lookups: up, Grants: st, Sync: st.Sync, SecretKey: []byte(key), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(err)
	}
	if err := testenv.Serve(gatewayHandler(a, mlflowURL)); err != nil {
		return fail(err)
	}
	return 0
}

// gatewayHandler is the authorizer in front of a reverse proxy to the
// MLflow at upstream, the caller named by the X-Test-User header (what the
// authentication middleware would have established).
func gatewayHandler(a *Authorizer, upstream string) http.Handler {
	target, _ := url.Parse(upstream)
	proxied := a.Wrap(httputil.NewSingleHostReverseProxy(target))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := &auth.Identity{Username: r.Header.Get("X-Test-User"), Method: auth.MethodBasic}
		r.Header.Del("X-Test-User")
		proxied.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), id)))
	})
}
