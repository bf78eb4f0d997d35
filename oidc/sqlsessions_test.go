package oidc

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// Sessions in the gateway's own database, SQLite and PostgreSQL: hashed at
// rest, revocable per user, and a revocation made through one process's
// store is seen by another's sessions through the change feed.
func TestSQLSessions(t *testing.T) {
	for _, db := range []struct {
		name, driver string
		uri          func(t *testing.T) (storeURI, rawDSN string)
	}{
		{"sqlite", "sqlite3", func(t *testing.T) (string, string) {
			path := filepath.Join(t.TempDir(), "auth.db")
			return "sqlite:///" + path, path
		}},
		{"postgres", "pgx", func(t *testing.T) (string, string) {
			u := testenv.PostgresSchema(t)
			return u, u
		}},
	} {
		t.Run(db.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			uri, dsn := db.uri(t)
			open := func() *store.Store {
				st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
				require.NoError(t, err)
				t.Cleanup(func() { st.Close() })
				return st
			}
			one, two := open(), open()
			_, err := one.CreateUser(ctx, store.User{Username: "alice"})
			require.NoError(t, err)
			newSessions := func(st *store.Store) *Sessions {
				s, err := NewSessions(SessionsConfig{Store: st.SessionData(), Index: st})
				require.NoError(t, err)
				return s
			}
			s1, s2 := newSessions(one), newSessions(two)
			// The second "process" follows its store's feed: revocations
			// drop its cached sessions.
			e, err := newEngine(ctx, two)
			require.NoError(t, err)
			go two.Follow(ctx, e, store.FollowOptions{Poll: 20 * time.Millisecond, OnChange: func(c store.Change) {
				for _, ev := range c.Events {
					if ev.Op == store.OpSessionRevoke {
						s2.Forget(ev.Username)
					}
				}
			}})

			w := httptest.NewRecorder()
			require.NoError(t, s1.Start(ctx, w, &auth.Identity{Username: "alice", Groups: []string{"mlflow"}}, "id-token"))
			cookie := w.Result().Cookies()[0]

			// Nothing at rest is the cookie.
			raw, err := sql.Open(db.driver, dsn)
			require.NoError(t, err)
			defer raw.Close()
			var tokens []string
			rows, err := raw.QueryContext(ctx, "SELECT token FROM session_data")
			require.NoError(t, err)
			for rows.Next() {
				var tk string
				require.NoError(t, rows.Scan(&tk))
				tokens = append(tokens, tk)
			}
			require.NoError(t, rows.Err())
			require.Len(t, tokens, 1)
			assert.NotContains(t, tokens[0], cookie.Value)
			var hashes int
			require.NoError(t, raw.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&hashes))
			assert.Equal(t, 1, hashes, "indexed for revocation")

			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(cookie)
			for _, s := range []*Sessions{s1, s2} {
				id, err := s.Authenticate(r)
				require.NoError(t, err, "both processes read the session")
				assert.Equal(t, "alice", id.Username)
			}

			// Sign out everywhere, through the first process's store.
			n, err := one.RevokeUserSessions(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
			assert.Eventually(t, func() bool {
				_, err := s2.Authenticate(r)
				return err != nil
			}, 10*time.Second, 20*time.Millisecond, "the other process stops accepting it")
			_, err = s2.Authenticate(r)
			var ae *auth.Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, http.StatusUnauthorized, ae.Status)
			assert.True(t, strings.Contains(ae.Message, "ended"))

			// Deactivation ends sessions too, and reactivation does not
			// bring them back.
			_, err = one.CreateUser(ctx, store.User{Username: "bob"})
			require.NoError(t, err)
			w = httptest.NewRecorder()
			require.NoError(t, s1.Start(ctx, w, &auth.Identity{Username: "bob"}, ""))
			rb := httptest.NewRequest("GET", "/", nil)
			rb.AddCookie(w.Result().Cookies()[0])
			_, err = s2.Authenticate(rb)
			require.NoError(t, err)
			off, on := false, true
			_, err = one.UpdateUser(ctx, "bob", store.UserChange{Active: &off})
			require.NoError(t, err)
			assert.Eventually(t, func() bool {
				_, err := s2.Authenticate(rb)
				return err != nil
			}, 10*time.Second, 20*time.Millisecond, "deactivated: the session ends")
			_, err = one.UpdateUser(ctx, "bob", store.UserChange{Active: &on})
			require.NoError(t, err)
			_, err = s1.Authenticate(rb)
			assert.Error(t, err, "reactivated: the old session stays ended")
		})
	}
}

func newEngine(ctx context.Context, st *store.Store) (*permission.Engine, error) {
	return permission.NewEngine(ctx, st, permission.Config{})
}

// Signing out everywhere in one process ends the session in another
// process, which had it cached for an hour: the feed tells it.
func TestRevocationInAnotherProcess(t *testing.T) {
	ctx := context.Background()
	uri := "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer st.Close()
	_, err = st.CreateUser(ctx, store.User{Username: "alice"})
	require.NoError(t, err)
	s, err := NewSessions(SessionsConfig{Store: st.SessionData(), Index: st})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	require.NoError(t, s.Start(ctx, w, &auth.Identity{Username: "alice"}, ""))
	cookie := w.Result().Cookies()[0]

	other := testenv.StartServer(t, "MLFLOWAUTH_TEST_SESSIONS_STORE="+uri)
	ask := func() (int, string) {
		req, _ := http.NewRequest("GET", other+"/", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, who := ask()
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "alice", who)

	_, err = st.RevokeUserSessions(ctx, "alice")
	require.NoError(t, err)
	assert.Eventually(t, func() bool { code, _ := ask(); return code == http.StatusUnauthorized },
		10*time.Second, 20*time.Millisecond, "the other process ends it")
}

// Pending logins in the gateway's database: two replicas receiving the
// same callback at once complete it once.
func TestPendingLoginOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer st.Close()
	f := newFlow(t, func(c *Config) { c.States = st.SessionData() })
	replica, err := New(ctx, f.h.cfg) // the same configuration and store
	require.NoError(t, err)
	f.idp.QueueUser(&mockoidc.MockUser{Subject: "00u1", Email: "a@example.com", EmailVerified: true})
	cookie, authURL := f.start("/x")
	callback := f.authorize(authURL)
	codes := make(chan int, 2)
	for _, h := range []*Handler{f.h, replica} {
		go func() {
			r := httptest.NewRequest("GET", callback, nil)
			r.AddCookie(cookie)
			w := httptest.NewRecorder()
			h.Callback(w, r)
			codes <- w.Code
		}()
	}
	got := []int{<-codes, <-codes}
	assert.ElementsMatch(t, []int{http.StatusFound, http.StatusBadRequest}, got)
	assert.Len(t, f.logins, 1)
}
