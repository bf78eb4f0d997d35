package oidc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	"github.com/mlflowauth/mlflowauth/store"
)

// TestMain: with MLFLOWAUTH_TEST_SESSIONS_STORE set, the test binary is
// another gateway process reading sessions from that store: it answers
// GET / with the session's username, or the authenticator's status.
func TestMain(m *testing.M) {
	if uri := os.Getenv("MLFLOWAUTH_TEST_SESSIONS_STORE"); uri != "" {
		os.Exit(serveSessions(uri))
	}
	os.Exit(m.Run())
}

func serveSessions(uri string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenWith(ctx, uri, store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	s, err := NewSessions(SessionsConfig{Store: st.SessionData(), Index: st, CacheTTL: time.Hour})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := permission.NewEngine(ctx, st, permission.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go st.Follow(ctx, e, store.FollowOptions{Poll: 50 * time.Millisecond, OnChange: func(c store.Change) {
		for _, ev := range c.Events {
			if ev.Op == store.OpSessionRevoke {
				s.Forget(ev.Username)
			}
		}
	}})
	err = testenv.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, id.Username)
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
