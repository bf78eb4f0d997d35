// Package gatewaytest starts a gateway for the examples' tests: in front
// of the recorded MLflow double, on a database of its own, with users and
// tokens made as an administrator would.
package gatewaytest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/gateway"
	"github.com/mlflowauth/mlflowauth/internal/mlflowtest"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// New returns a gateway (closed when the test ends) in front of a new
// MLflow double, quiet unless it fails.
func New(t testing.TB, opts gateway.Options) (*gateway.Gateway, *mlflowtest.Double) {
	t.Helper()
	d := mlflowtest.New(t)
	env := map[string]string{"MLFLOW_UPSTREAM_URL": d.URL(), "OIDC_USERS_DB_URI": "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")}
	cfg, err := gateway.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Audit == nil {
		opts.Audit = slog.New(slog.DiscardHandler)
	}
	g, err := gateway.New(context.Background(), cfg, opts)
	require.NoError(t, err)
	t.Cleanup(func() { g.Close() })
	return g, d
}

// User creates a user with READ on experiment 1 (recorded in the double)
// and returns an access token of theirs.
func User(t testing.TB, g *gateway.Gateway, name string) string {
	t.Helper()
	ctx := context.Background()
	db := g.Store()
	_, err := db.CreateUser(ctx, store.User{Username: name})
	require.NoError(t, err)
	require.NoError(t, db.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "1"},
		Principal: permission.ForUser(name), Level: permission.Read}))
	secret, err := basic.NewToken()
	require.NoError(t, err)
	h, err := basic.ParseToken(secret)
	require.NoError(t, err)
	_, err = db.CreateToken(ctx, store.Token{Username: name, Name: "test", Hash: h[:], Prefix: basic.TokenDisplayPrefix(secret),
		ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	return secret
}
