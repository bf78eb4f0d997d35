package oidc

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/store"
)

// BenchmarkSessionAuthenticateCold: every request misses the in-process
// cache (the clock moves past CacheTTL each time), so each reads the
// session store, and, with an index, the sessions index: the cost once a
// minute per session, or after a revocation.
func BenchmarkSessionAuthenticateCold(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		cfg  func(b *testing.B) SessionsConfig
	}{
		{"memory", func(*testing.B) SessionsConfig { return SessionsConfig{Store: memstore.New()} }},
		{"sqlite", func(b *testing.B) SessionsConfig {
			st, err := store.OpenWith(ctx, "sqlite:///"+filepath.Join(b.TempDir(), "auth.db"), store.Options{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			b.Cleanup(func() { st.Close() })
			_, err = st.CreateUser(ctx, store.User{Username: "alice"})
			require.NoError(b, err)
			return SessionsConfig{Store: st.SessionData(), Index: st}
		}},
		{"postgres", func(b *testing.B) SessionsConfig {
			st, err := store.OpenWith(ctx, testenv.PostgresSchema(b), store.Options{Logger: slog.New(slog.DiscardHandler)})
			require.NoError(b, err)
			b.Cleanup(func() { st.Close() })
			_, err = st.CreateUser(ctx, store.User{Username: "alice"})
			require.NoError(b, err)
			return SessionsConfig{Store: st.SessionData(), Index: st}
		}},
		{"redis", func(b *testing.B) SessionsConfig {
			client, prefix := testenv.Redis(b)
			return SessionsConfig{Store: goredisstore.NewWithPrefix(client, prefix)}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg(b)
			var ticks atomic.Int64
			start := time.Now()
			cfg.Now = func() time.Time { return start.Add(time.Duration(ticks.Load()) * 2 * time.Minute) }
			s, err := NewSessions(cfg)
			require.NoError(b, err)
			w := httptest.NewRecorder()
			require.NoError(b, s.Start(ctx, w, &auth.Identity{Username: "alice", Groups: []string{"mlflow"}}, ""))
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(w.Result().Cookies()[0])
			b.ReportAllocs()
			for b.Loop() {
				ticks.Add(1)
				if _, err := s.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
