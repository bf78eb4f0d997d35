package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/store"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// The whole sign-in against mockoidc and a real store: groups gate it,
// the account is bound and synced, and the session cookie authenticates.
func TestSignIn(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.CreateUser(ctx, store.User{Username: "mallory@example.com", PasswordHash: "pbkdf2:sha256:1$x$y"})
	require.NoError(t, err)
	sessions, err := NewSessions(SessionsConfig{Store: memstore.New()})
	require.NoError(t, err)
	f := newFlow(t, func(c *Config) {
		c.SignIn = &Provisioner{Accounts: st, Sessions: sessions, Logger: slog.New(slog.DiscardHandler)}
	})
	signIn := func(u *mockoidc.MockUser) (*http.Response, string) {
		f.idp.QueueUser(u)
		cookie, authURL := f.start("/#/models")
		return f.get(f.authorize(authURL), cookie)
	}
	sessionOf := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == "mlflowauth_session" {
				return c
			}
		}
		return nil
	}

	resp, _ := signIn(&mockoidc.MockUser{Subject: "00u1", Email: "Alice@Example.com", EmailVerified: true, PreferredUsername: "alice", Groups: []string{"mlflow", "team-a"}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, "/#/models", resp.Header.Get("Location"))
	c := sessionOf(resp)
	require.NotNil(t, c, "a session")
	r, _ := http.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	id, err := sessions.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", id.Username)
	assert.Equal(t, []string{"mlflow", "team-a"}, id.Groups)
	u, err := st.GetUser(ctx, "alice@example.com")
	require.NoError(t, err)
	assert.Equal(t, []string{"mlflow", "team-a"}, u.Groups, "memberships stored for Basic-token use")
	assert.False(t, u.Admin)

	// An admin group makes an admin.
	resp, _ = signIn(&mockoidc.MockUser{Subject: "00u1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"mlflow-admin"}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	u, _ = st.GetUser(ctx, "alice@example.com")
	assert.True(t, u.Admin)

	// Unverified email: the next claim names the user.
	resp, _ = signIn(&mockoidc.MockUser{Subject: "00u2", Email: "bob@example.com", EmailVerified: false, PreferredUsername: "Bob", Groups: []string{"mlflow"}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	_, err = st.GetUser(ctx, "bob")
	assert.NoError(t, err)

	// No email at all: the next claim names the user.
	resp, _ = signIn(&mockoidc.MockUser{Subject: "00u6", PreferredUsername: "Erin", Groups: []string{"mlflow"}})
	require.Equal(t, http.StatusFound, resp.StatusCode)
	_, err = st.GetUser(ctx, "erin")
	assert.NoError(t, err)

	for _, c := range []struct {
		name string
		user *mockoidc.MockUser
		says string
	}{
		{"in no allowed group", &mockoidc.MockUser{Subject: "00u3", Email: "carol@example.com", EmailVerified: true, Groups: []string{"sales"}}, "not in a group allowed"},
		{"no usable username", &mockoidc.MockUser{Subject: "00u4", Email: "dave@example.com", EmailVerified: false, Groups: []string{"mlflow"}}, "no username"},
		{"someone else's account", &mockoidc.MockUser{Subject: "00u5", Email: "mallory@example.com", EmailVerified: true, Groups: []string{"mlflow"}}, "mallory@example.com"},
	} {
		resp, body := signIn(c.user)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, c.name)
		assert.Contains(t, body, c.says, c.name)
		assert.Nil(t, sessionOf(resp), c.name+": no session")
	}
	_, err = st.GetUser(ctx, "carol@example.com")
	assert.ErrorIs(t, err, store.ErrNotFound, "a refused user gets no account")
}
