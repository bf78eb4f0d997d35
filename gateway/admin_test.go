package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/store"
)

func TestAdminCommands(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer db.Close()

	var out bytes.Buffer
	_, err = db.CreateUser(ctx, store.User{Username: "ops", Deactivated: true})
	require.NoError(t, err)
	require.NoError(t, Admin(ctx, db, []string{"restore-admin", "ops"}, &out))
	u, err := db.GetUser(ctx, "ops")
	require.NoError(t, err)
	assert.True(t, u.Admin)
	assert.False(t, u.Deactivated)
	assert.Contains(t, out.String(), "ops is an active administrator")
	assert.ErrorIs(t, Admin(ctx, db, []string{"restore-admin", "nobody"}, io.Discard), store.ErrNotFound)

	// The MLflow 2.17.2 basic-auth database recorded in the fixtures:
	// its shipped-default admin password is not carried over.
	src := filepath.Join(t.TempDir(), "basic_auth.db")
	b, err := os.ReadFile("../store/testdata/mlflow-2.17.2-basic_auth.db")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(src, b, 0o600))
	out.Reset()
	require.NoError(t, Admin(ctx, db, []string{"import", "sqlite:///" + src}, &out))
	assert.Contains(t, out.String(), "imported from")
	assert.Contains(t, out.String(), "password sign-in disabled (a shipped default password) for: admin")
	out.Reset()
	require.NoError(t, Admin(ctx, db, []string{"import", "sqlite:///" + src}, &out))
	assert.Contains(t, out.String(), "imported before", "once")

	out.Reset()
	require.NoError(t, Admin(ctx, db, []string{"prune-sessions"}, &out))
	assert.Contains(t, out.String(), "sessions pruned")

	for _, args := range [][]string{nil, {"restore-admin"}, {"import"}, {"import", "-f", "x"}, {"prune-sessions", "now"}, {"drop-tables"}} {
		assert.ErrorIs(t, Admin(ctx, db, args, io.Discard), ErrUsage, "%v", args)
	}
}
