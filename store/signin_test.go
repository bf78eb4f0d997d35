package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignInSSO(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const iss = "https://idp.example"

		// First sign-in: a new account, bound, with the IdP's groups.
		name, err := s.SignInSSO(ctx, iss, "00u1", "Alice@Example.com", "Alice A", []string{"mlflow", "team-a"}, false)
		require.NoError(t, err)
		assert.Equal(t, "alice@example.com", name)
		u, err := s.GetUser(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, "Alice A", u.DisplayName)
		assert.Equal(t, []string{"mlflow", "team-a"}, u.Groups)
		assert.False(t, u.Admin)

		// Again, with a changed email and groups: the binding decides the
		// account, the groups and admin flag follow the IdP.
		name, err = s.SignInSSO(ctx, iss, "00u1", "alice.new@example.com", "", []string{"mlflow-admin"}, true)
		require.NoError(t, err)
		assert.Equal(t, "alice@example.com", name, "bound by (issuer, subject), not by email")
		u, _ = s.GetUser(ctx, name)
		assert.True(t, u.Admin)
		assert.Equal(t, []string{"mlflow-admin"}, u.Groups)
		assert.Equal(t, "Alice A", u.DisplayName, "an empty display name keeps the old one")

		// The last active admin is not demoted by leaving the group...
		_, err = s.SignInSSO(ctx, iss, "00u1", "", "", []string{"mlflow"}, false)
		require.NoError(t, err)
		u, _ = s.GetUser(ctx, name)
		assert.True(t, u.Admin, "the last active administrator stays one")
		// ...but is once another admin exists.
		_, err = s.CreateUser(ctx, User{Username: "root", Admin: true})
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, iss, "00u1", "", "", []string{"mlflow"}, false)
		require.NoError(t, err)
		u, _ = s.GetUser(ctx, name)
		assert.False(t, u.Admin)

		// Adoption: an account with no binding and no password, or from an
		// mlflow-oidc-auth import, is taken over by name; a local account
		// with a password is not.
		_, err = s.CreateUser(ctx, User{Username: "bob"})
		require.NoError(t, err)
		name, err = s.SignInSSO(ctx, iss, "00u2", "bob", "Bob", []string{"mlflow"}, false)
		require.NoError(t, err)
		assert.Equal(t, "bob", name)
		_, err = s.CreateUser(ctx, User{Username: "carol", PasswordHash: "pbkdf2:sha256:1$x$y", Origin: OriginMLflowOIDCAuth})
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, iss, "00u3", "carol", "", nil, false)
		require.NoError(t, err, "imported from mlflow-oidc-auth: adopted")
		_, err = s.CreateUser(ctx, User{Username: "dave", PasswordHash: "pbkdf2:sha256:1$x$y"})
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, iss, "00u4", "dave", "", nil, false)
		assert.ErrorIs(t, err, ErrConflict, "a local password account is not taken over")
		_, err = s.SignInSSO(ctx, iss, "00u5", "bob", "", nil, false)
		assert.ErrorIs(t, err, ErrConflict, "bob is bound to another subject")

		// A deactivated account signs in to nothing.
		off := false
		_, err = s.UpdateUser(ctx, "bob", UserChange{Active: &off})
		require.NoError(t, err)
		_, err = s.SignInSSO(ctx, iss, "00u2", "bob", "", nil, false)
		assert.ErrorIs(t, err, ErrDeactivated)

		_, err = s.SignInSSO(ctx, "", "00u9", "x", "", nil, false)
		assert.Error(t, err)
	})
}

func TestRestoreAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		off := false
		_, err := s.CreateUser(ctx, User{Username: "ops", Deactivated: true})
		require.NoError(t, err)
		_, err = s.UpdateUser(ctx, "ops", UserChange{Admin: &off})
		require.NoError(t, err)
		require.NoError(t, s.RestoreAdmin(ctx, "OPS"))
		u, err := s.GetUser(ctx, "ops")
		require.NoError(t, err)
		assert.True(t, u.Admin)
		assert.False(t, u.Deactivated)
		assert.ErrorIs(t, s.RestoreAdmin(ctx, "nobody"), ErrNotFound)
	})
}
