package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
)

// Sessions and pending logins in the real Redis (scs's goredisstore on
// go-redis): the keys never contain the cookie.
func TestRedisSessions(t *testing.T) {
	client, prefix := testenv.Redis(t)
	ctx := context.Background()
	s, err := NewSessions(SessionsConfig{Store: goredisstore.NewWithPrefix(client, prefix)})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	require.NoError(t, s.Start(ctx, w, &auth.Identity{Username: "alice", Groups: []string{"mlflow"}}, ""))
	cookie := w.Result().Cookies()[0]

	keys, err := client.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.False(t, strings.Contains(keys[0], cookie.Value), "the key is the token's hash")
	ttl, err := client.TTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Positive(t, ttl, "Redis expires it")

	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	id, err := s.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Username)

	_, err = s.End(httptest.NewRecorder(), r)
	require.NoError(t, err)
	n, err := client.Exists(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "logout deletes it")
}

// Pending sign-ins in Redis: scs's goredisstore panics without a context,
// so the handler must use its context methods.
func TestRedisPendingLogins(t *testing.T) {
	client, prefix := testenv.Redis(t)
	f := newFlow(t, func(c *Config) { c.States = goredisstore.NewWithPrefix(client, prefix) })
	f.idp.QueueUser(&mockoidc.MockUser{Subject: "00u1", Email: "a@example.com", EmailVerified: true})
	cookie, authURL := f.start("/x")
	callback := f.authorize(authURL)
	resp, body := f.get(callback, cookie)
	require.Equal(t, http.StatusFound, resp.StatusCode, body)
	resp, _ = f.get(callback, cookie)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "used once")
}
