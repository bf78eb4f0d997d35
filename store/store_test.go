package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
	_ "github.com/mlflowauth/mlflowauth/store/sqlite"
)

// testDB is one database a test runs against.
type testDB struct {
	name string
	uri  string
}

// eachDB runs fn against a fresh SQLite file and a fresh PostgreSQL schema.
func eachDB(t *testing.T, fn func(t *testing.T, db testDB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, testDB{name: "sqlite", uri: "sqlite:///" + filepath.Join(t.TempDir(), "auth.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, testDB{name: "postgres", uri: testenv.PostgresSchema(t)})
	})
}

func open(t *testing.T, db testDB) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), db.uri, Options{Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func eachStore(t *testing.T, fn func(t *testing.T, s *Store)) {
	eachDB(t, func(t *testing.T, db testDB) { fn(t, open(t, db)) })
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri, driver, dsnPrefix string
		err                    string
	}{
		{uri: "sqlite:///auth.db", driver: "sqlite3", dsnPrefix: "file:auth.db?"},
		{uri: "sqlite:///data/auth.db", driver: "sqlite3", dsnPrefix: "file:data/auth.db?"},
		{uri: "sqlite:////var/lib/mlflow/auth.db", driver: "sqlite3", dsnPrefix: "file:/var/lib/mlflow/auth.db?"},
		{uri: "postgres://u:p@db:5432/auth?sslmode=require", driver: "pgx", dsnPrefix: "postgres://u:p@db:5432/auth"},
		{uri: "postgresql://db/auth", driver: "pgx", dsnPrefix: "postgresql://db/auth"},
		{uri: "sqlite://auth.db", err: "expected sqlite:///relative.db or sqlite:////absolute.db"},
		{uri: "sqlite:///", err: "expected sqlite:///relative.db"},
		{uri: "sqlite:///a.db?mode=ro", err: "query parameters are not supported"},
		{uri: "mysql://root@db/auth", err: "expected sqlite:///path.db or postgres://"},
		{uri: "", err: "expected sqlite:///path.db or postgres://"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			driver, dsn, _, err := parseURI(tt.uri)
			if tt.err != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.driver, driver)
			assert.True(t, strings.HasPrefix(dsn, tt.dsnPrefix), dsn)
			if driver == "sqlite3" {
				for _, p := range []string{"_foreign_keys=on", "_journal_mode=WAL", "_busy_timeout=", "_txlock=immediate"} {
					assert.Contains(t, dsn, p)
				}
			}
		})
	}
	assert.Equal(t, "postgres://u:xxxxx@db/auth", redact("postgres://u:secret@db/auth"))
	_, err := Open(context.Background(), "postgres://u:hunter2@127.0.0.1:1/auth?connect_timeout=1")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2", "no password in errors")
}

func TestOpenMigratesOnceAndConcurrently(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		// Replicas starting at once: every Open succeeds, the schema is made once.
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(context.Background(), db.uri)
				if err == nil {
					s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		s := open(t, db)
		_, err := s.CreateUser(context.Background(), User{Username: "alice"})
		require.NoError(t, err)
		s2 := open(t, db) // reopening migrates nothing and keeps the data
		_, err = s2.GetUser(context.Background(), "alice")
		require.NoError(t, err)
	})
}

func TestUsers(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, User{Username: "Carol", DisplayName: "Carol C", Groups: []string{"b", "a", "a"}, PasswordHash: "pbkdf2:sha256:1$x$y"})
		require.NoError(t, err)
		assert.Equal(t, "carol", u.Username, "lower-cased")
		assert.Equal(t, []string{"a", "b"}, u.Groups)
		assert.False(t, u.Deactivated)
		assert.False(t, u.CreatedAt.IsZero())

		_, err = s.CreateUser(ctx, User{Username: "CAROL"})
		assert.ErrorIs(t, err, ErrConflict, "usernames are unique regardless of case")
		_, err = s.CreateUser(ctx, User{Username: "  "})
		assert.ErrorIs(t, err, ErrInvalid)

		got, err := s.GetUser(ctx, "cArOl")
		require.NoError(t, err)
		assert.Equal(t, "pbkdf2:sha256:1$x$y", got.PasswordHash)
		_, err = s.GetUser(ctx, "nobody")
		assert.ErrorIs(t, err, ErrNotFound)

		admin, off, none := true, false, ""
		u, err = s.UpdateUser(ctx, "carol", UserChange{Admin: &admin, Active: &off, PasswordHash: &none})
		require.NoError(t, err)
		assert.True(t, u.Admin)
		assert.True(t, u.Deactivated)
		assert.Empty(t, u.PasswordHash)
		_, err = s.UpdateUser(ctx, "nobody", UserChange{Admin: &admin})
		assert.ErrorIs(t, err, ErrNotFound)

		_, err = s.CreateUser(ctx, User{Username: "svc-ci", ServiceAccount: true})
		require.NoError(t, err)
		all, err := s.ListUsers(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		assert.Equal(t, "carol", all[0].Username)
		assert.Equal(t, []string{"a", "b"}, all[0].Groups)
		assert.True(t, all[1].ServiceAccount)
	})
}

func TestDeleteUserCascades(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.CreateUser(ctx, User{Username: "alice", Groups: []string{"ml"}})
		require.NoError(t, err)
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "sub-1", "alice"))
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "ci", Hash: hash("t1"), Prefix: "mlf_t1", ExpiresAt: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, s.CreateSession(ctx, Session{Hash: hash("s1"), Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}))
		exp := permission.Resource{Kind: permission.Experiment, ID: "1"}
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForUser("alice"), Level: permission.Edit}))
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForGroup("ml"), Level: permission.Read}))
		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser("alice"), Pattern: "^a", Level: permission.Read})
		require.NoError(t, err)

		require.NoError(t, s.DeleteUser(ctx, "ALICE"))
		_, err = s.GetUser(ctx, "alice")
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.UserByIdentity(ctx, "https://idp", "sub-1")
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.TokenByHash(ctx, hash("t1"))
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.SessionByHash(ctx, hash("s1"))
		assert.ErrorIs(t, err, ErrNotFound)
		grants, err := s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Equal(t, []permission.Grant{{Resource: exp, Principal: permission.ForGroup("ml"), Level: permission.Read}}, grants, "the group's grant stays")
		rules, err := s.ListRules(ctx, 0)
		require.NoError(t, err)
		assert.Empty(t, rules)
		assert.ErrorIs(t, s.DeleteUser(ctx, "alice"), ErrNotFound)
	})
}

func TestIdentities(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, n := range []string{"alice", "bob"} {
			_, err := s.CreateUser(ctx, User{Username: n})
			require.NoError(t, err)
		}
		has, err := s.HasIdentity(ctx, "alice")
		require.NoError(t, err)
		assert.False(t, has)
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "sub-a", "alice"))
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "sub-a", "alice"), "binding again is a no-op")
		assert.ErrorIs(t, s.BindIdentity(ctx, "https://idp", "sub-a", "bob"), ErrConflict)
		assert.ErrorIs(t, s.BindIdentity(ctx, "", "sub", "bob"), ErrInvalid)
		assert.ErrorIs(t, s.BindIdentity(ctx, "https://idp", "sub-x", "nobody"), ErrNotFound)
		u, err := s.UserByIdentity(ctx, "https://idp", "sub-a")
		require.NoError(t, err)
		assert.Equal(t, "alice", u.Username)
		_, err = s.UserByIdentity(ctx, "https://other", "sub-a")
		assert.ErrorIs(t, err, ErrNotFound, "bound to (issuer, subject), not subject alone")
		has, err = s.HasIdentity(ctx, "Alice")
		require.NoError(t, err)
		assert.True(t, has)
	})
}

func TestGroups(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, n := range []string{"alice", "bob"} {
			_, err := s.CreateUser(ctx, User{Username: n})
			require.NoError(t, err)
		}
		require.NoError(t, s.SetUserGroups(ctx, "alice", []string{"ml", "ops", " ", "ml"}))
		require.NoError(t, s.SetUserGroups(ctx, "bob", []string{"ml"}))
		groups, err := s.ListGroups(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"ml", "ops"}, groups)
		members, err := s.GroupMembers(ctx, "ml")
		require.NoError(t, err)
		assert.Equal(t, []string{"alice", "bob"}, members)
		require.NoError(t, s.SetUserGroups(ctx, "alice", []string{"ops"}))
		members, err = s.GroupMembers(ctx, "ml")
		require.NoError(t, err)
		assert.Equal(t, []string{"bob"}, members)
		assert.ErrorIs(t, s.SetUserGroups(ctx, "nobody", []string{"x"}), ErrNotFound)

		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "m"}, Principal: permission.ForGroup("ml"), Level: permission.Read}))
		require.NoError(t, s.DeleteGroup(ctx, "ml"))
		groups, err = s.ListGroups(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"ops"}, groups)
		bob, err := s.GetUser(ctx, "bob")
		require.NoError(t, err)
		assert.Empty(t, bob.Groups)
		grants, err := s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Empty(t, grants)
		assert.ErrorIs(t, s.DeleteGroup(ctx, "ml"), ErrNotFound)
	})
}

func TestTokens(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.CreateUser(ctx, User{Username: "alice"})
		require.NoError(t, err)
		exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
		t1, err := s.CreateToken(ctx, Token{Username: "Alice", Name: "laptop", Hash: hash("one"), Prefix: "mlf_on", ExpiresAt: exp})
		require.NoError(t, err)
		assert.Equal(t, "alice", t1.Username)
		assert.True(t, t1.Live(time.Now()))
		assert.False(t, t1.Live(exp.Add(time.Second)), "expired")

		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "laptop", Hash: hash("two"), ExpiresAt: exp})
		assert.ErrorIs(t, err, ErrConflict, "a live token name is unique per user")
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "other", Hash: hash("one"), ExpiresAt: exp})
		assert.ErrorIs(t, err, ErrConflict, "the same secret twice")
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "short", Hash: []byte("x"), ExpiresAt: exp})
		assert.ErrorIs(t, err, ErrInvalid)
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "noexp", Hash: hash("3")})
		assert.ErrorIs(t, err, ErrInvalid)
		_, err = s.CreateToken(ctx, Token{Username: "nobody", Name: "x", Hash: hash("4"), ExpiresAt: exp})
		assert.ErrorIs(t, err, ErrNotFound)

		got, err := s.TokenByHash(ctx, hash("one"))
		require.NoError(t, err)
		assert.Equal(t, t1.ID, got.ID)
		assert.Equal(t, exp, got.ExpiresAt)
		assert.Equal(t, "mlf_on", got.Prefix)
		_, err = s.TokenByHash(ctx, hash("nope"))
		assert.ErrorIs(t, err, ErrNotFound)

		used := time.Now().UTC().Truncate(time.Second)
		require.NoError(t, s.TouchTokens(ctx, map[int64]time.Time{t1.ID: used}))
		require.NoError(t, s.TouchTokens(ctx, map[int64]time.Time{t1.ID: used.Add(-time.Hour)}), "an older use does not go back")
		got, err = s.TokenByHash(ctx, hash("one"))
		require.NoError(t, err)
		assert.Equal(t, used, got.LastUsedAt)

		require.NoError(t, s.RevokeToken(ctx, "alice", t1.ID))
		assert.ErrorIs(t, s.RevokeToken(ctx, "alice", t1.ID), ErrNotFound, "already revoked")
		got, err = s.TokenByHash(ctx, hash("one"))
		require.NoError(t, err)
		assert.False(t, got.Live(time.Now()))
		// The name is free again once revoked.
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "laptop", Hash: hash("five"), ExpiresAt: exp})
		require.NoError(t, err)
		_, err = s.CreateToken(ctx, Token{Username: "alice", Name: "ci", Hash: hash("six"), ExpiresAt: exp})
		require.NoError(t, err)
		list, err := s.ListTokens(ctx, "alice")
		require.NoError(t, err)
		assert.Len(t, list, 3)
		n, err := s.RevokeUserTokens(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
	})
}

func TestSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.CreateUser(ctx, User{Username: "alice"})
		require.NoError(t, err)
		soon := time.Now().Add(time.Hour)
		require.NoError(t, s.CreateSession(ctx, Session{Hash: hash("a"), Username: "alice", ExpiresAt: soon}))
		require.NoError(t, s.CreateSession(ctx, Session{Hash: hash("b"), Username: "alice", ExpiresAt: soon}))
		require.NoError(t, s.CreateSession(ctx, Session{Hash: hash("old"), Username: "alice", ExpiresAt: time.Now().Add(-time.Hour)}))
		assert.ErrorIs(t, s.CreateSession(ctx, Session{Hash: hash("a"), Username: "alice", ExpiresAt: soon}), ErrConflict)
		assert.ErrorIs(t, s.CreateSession(ctx, Session{Hash: []byte("short"), Username: "alice", ExpiresAt: soon}), ErrInvalid)

		got, err := s.SessionByHash(ctx, hash("a"))
		require.NoError(t, err)
		assert.Equal(t, "alice", got.Username)
		assert.True(t, got.RevokedAt.IsZero())
		require.NoError(t, s.RevokeSession(ctx, hash("a")))
		got, err = s.SessionByHash(ctx, hash("a"))
		require.NoError(t, err)
		assert.False(t, got.RevokedAt.IsZero())
		assert.ErrorIs(t, s.RevokeSession(ctx, hash("zzz")), ErrNotFound)

		n, err := s.RevokeUserSessions(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "b and the expired one were live")
		pruned, err := s.PruneSessions(ctx, time.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.Equal(t, int64(3), pruned)
	})
}

func TestGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		model := permission.Resource{Kind: permission.RegisteredModel, ID: "churn"}
		alice := permission.ForUser("Alice")
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: model, Principal: alice, Level: permission.Read}))
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: model, Principal: alice, Level: permission.Manage}), "put replaces")
		g, err := s.GetGrant(ctx, model, permission.ForUser("alice"))
		require.NoError(t, err)
		assert.Equal(t, permission.Manage, g.Level)
		assert.Equal(t, "alice", g.Principal.Name)

		scorer := permission.Resource{Kind: permission.Scorer, ID: "7", Name: "relevance"}
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: scorer, Principal: permission.ForGroup("ml"), Level: permission.Edit}))
		_, err = s.GetGrant(ctx, permission.Resource{Kind: permission.Scorer, ID: "7", Name: "safety"}, permission.ForGroup("ml"))
		assert.ErrorIs(t, err, ErrNotFound, "a scorer is its experiment and its name")
		// Grants may name resources that do not exist (yet), with any id.
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "not-a-number"}, Principal: alice, Level: permission.Read}))

		for _, bad := range []permission.Grant{
			{Resource: permission.Resource{Kind: 99, ID: "1"}, Principal: alice},
			{Resource: permission.Resource{Kind: permission.Experiment}, Principal: alice},
			{Resource: permission.Resource{Kind: permission.Scorer, ID: "7"}, Principal: alice},
			{Resource: model, Principal: permission.Principal{Name: "x"}},
			{Resource: model, Principal: alice, Level: 42},
		} {
			assert.ErrorIs(t, s.PutGrant(ctx, bad), ErrInvalid, "%+v", bad)
		}

		list, err := s.ListGrants(ctx, GrantFilter{Kind: permission.RegisteredModel})
		require.NoError(t, err)
		assert.Len(t, list, 1)
		p := permission.ForUser("ALICE")
		list, err = s.ListGrants(ctx, GrantFilter{Principal: &p})
		require.NoError(t, err)
		assert.Len(t, list, 2)

		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, Principal: permission.ForUser("bob"), Level: permission.Read}))
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, Principal: alice, Level: permission.Read}))
		require.NoError(t, s.RenameResource(ctx, model, "churn-v2"))
		list, err = s.ListGrants(ctx, GrantFilter{Kind: permission.RegisteredModel})
		require.NoError(t, err)
		assert.Equal(t, []permission.Grant{
			{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, Principal: permission.ForUser("alice"), Level: permission.Read},
			{Resource: permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, Principal: permission.ForUser("bob"), Level: permission.Read},
		}, list, "moved, keeping what the new name had")

		require.NoError(t, s.DeleteGrant(ctx, permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, permission.ForUser("bob")))
		assert.ErrorIs(t, s.DeleteGrant(ctx, permission.Resource{Kind: permission.RegisteredModel, ID: "churn-v2"}, permission.ForUser("bob")), ErrNotFound)
		require.NoError(t, s.DeleteResource(ctx, scorer))
		list, err = s.ListGrants(ctx, GrantFilter{Kind: permission.Scorer})
		require.NoError(t, err)
		assert.Empty(t, list)
	})
}

func TestRules(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		r1, err := s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForGroup("ml"), Pattern: `^team-a/`, Priority: 10, Level: permission.Edit})
		require.NoError(t, err)
		assert.NotZero(t, r1.ID)
		r2, err := s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser("Bob"), Pattern: `\d+`, Priority: 1, Level: permission.Read})
		require.NoError(t, err)
		assert.Equal(t, "bob", r2.Principal.Name)

		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForGroup("ml"), Pattern: `(?=x)`, Level: permission.Read})
		require.ErrorIs(t, err, ErrInvalid)
		assert.ErrorIs(t, err, permission.ErrInvalidPattern)
		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForGroup("ml"), Pattern: `x`, Level: 9})
		require.ErrorIs(t, err, ErrInvalid)

		rules, err := s.ListRules(ctx, permission.Experiment)
		require.NoError(t, err)
		require.Len(t, rules, 2, "the refused rules wrote nothing")
		assert.Equal(t, r2.ID, rules[0].ID, "by priority")

		r1.Pattern = `^team-b/`
		require.NoError(t, s.UpdateRule(ctx, r1))
		got, err := s.GetRule(ctx, r1.ID)
		require.NoError(t, err)
		assert.Equal(t, r1, got)
		r1.Pattern = `(a)\1`
		assert.ErrorIs(t, s.UpdateRule(ctx, r1), ErrInvalid)
		assert.ErrorIs(t, s.UpdateRule(ctx, permission.Rule{ID: 999, Kind: permission.Experiment, Principal: permission.ForGroup("g"), Pattern: "x"}), ErrNotFound)

		require.NoError(t, s.DeleteRule(ctx, r1.ID))
		assert.ErrorIs(t, s.DeleteRule(ctx, r1.ID), ErrNotFound)
		_, err = s.GetRule(ctx, r1.ID)
		assert.ErrorIs(t, err, ErrNotFound)
		all, err := s.ListRules(ctx, 0)
		require.NoError(t, err)
		assert.Len(t, all, 1)
	})
}

func TestSecretKeyImportsAudit(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s1, s2 := open(t, db), open(t, db)
		// Two replicas generate at once: both end with the first stored key.
		var wg sync.WaitGroup
		keys := make([][]byte, 2)
		for i, s := range []*Store{s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := s.SecretKey(ctx, "SECRET_KEY", func() ([]byte, error) { return []byte(rand.Text()), nil })
				assert.NoError(t, err)
				keys[i] = k
			}()
		}
		wg.Wait()
		assert.Equal(t, keys[0], keys[1])
		again, err := s1.SecretKey(ctx, "SECRET_KEY", func() ([]byte, error) { return nil, errors.New("must not be called") })
		require.NoError(t, err)
		assert.Equal(t, keys[0], again)
		_, err = s1.SecretKey(ctx, "OTHER", func() ([]byte, error) { return nil, errors.New("no entropy") })
		assert.ErrorContains(t, err, "no entropy")

		done, err := s1.RecordImport(ctx, "sha256:abc", "sqlite:///old.db", "3 users", false)
		require.NoError(t, err)
		assert.True(t, done)
		done, err = s2.RecordImport(ctx, "sha256:abc", "sqlite:///old.db", "3 users", false)
		require.NoError(t, err)
		assert.False(t, done, "once per fingerprint")
		done, err = s2.RecordImport(ctx, "sha256:abc", "sqlite:///old.db", "3 users", true)
		require.NoError(t, err)
		assert.True(t, done, "an explicit re-import")
		imported, err := s1.Imported(ctx, "sha256:abc")
		require.NoError(t, err)
		assert.True(t, imported)

		require.NoError(t, s1.Audit(ctx, AuditEntry{Actor: "admin", Action: "user.create", Target: "alice"}))
		require.NoError(t, s1.Audit(ctx, AuditEntry{Actor: "admin", Action: "grant.put", Target: "experiment 1", Detail: `{"level":"EDIT"}`}))
		assert.ErrorIs(t, s1.Audit(ctx, AuditEntry{}), ErrInvalid)
		log, err := s2.AuditLog(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, log, 2)
		assert.Equal(t, "grant.put", log[0].Action, "newest first")
		older, err := s2.AuditLog(ctx, log[0].ID, 10)
		require.NoError(t, err)
		require.Len(t, older, 1)
		assert.Equal(t, "user.create", older[0].Action)
	})
}

// A write that fails part way leaves nothing behind: not its rows, not a
// feed entry.
func TestFailedTransactionLeavesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		before, err := s.ChangesAfter(ctx, 0, 100)
		require.NoError(t, err)
		boom := errors.New("boom")
		err = s.write(ctx, func(t *tx) error {
			ts := now()
			if _, err := t.ExecContext(ctx, t.q("INSERT INTO users (username, created_at, updated_at) VALUES (?, ?, ?)"), "ghost", ts, ts); err != nil {
				return err
			}
			t.emit(Event{Op: OpUserPut, User: &permission.User{Name: "ghost", Active: true}})
			return boom
		})
		require.ErrorIs(t, err, boom)
		_, err = s.GetUser(ctx, "ghost")
		assert.ErrorIs(t, err, ErrNotFound)
		after, err := s.ChangesAfter(ctx, 0, 100)
		require.NoError(t, err)
		assert.Equal(t, len(before), len(after))

		// A constraint failing inside a multi-row change: the rows before
		// it are rolled back too.
		_, err = s.CreateUser(ctx, User{Username: "dup"})
		require.NoError(t, err)
		err = s.write(ctx, func(t *tx) error {
			ts := now()
			for _, n := range []string{"first", "dup"} {
				if _, err := t.ExecContext(ctx, t.q("INSERT INTO users (username, created_at, updated_at) VALUES (?, ?, ?)"), n, ts, ts); err != nil {
					return classify(err)
				}
			}
			return nil
		})
		require.ErrorIs(t, err, ErrConflict)
		_, err = s.GetUser(ctx, "first")
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestConcurrentWriters(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		stores := []*Store{open(t, db), open(t, db)}
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- stores[i%2].PutGrant(ctx, permission.Grant{
					Resource:  permission.Resource{Kind: permission.Experiment, ID: fmt.Sprint(i)},
					Principal: permission.ForUser("alice"), Level: permission.Read,
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		grants, err := stores[0].ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Len(t, grants, n)
		changes, err := stores[1].ChangesAfter(ctx, 0, 1000)
		require.NoError(t, err)
		require.Len(t, changes, n)
		for i, c := range changes {
			assert.Equal(t, uint64(i+1), c.Seq, "feed positions are contiguous and in commit order")
		}
	})
}

func TestLoad(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.CreateUser(ctx, User{Username: "alice", Admin: true, Groups: []string{"ml"}})
		require.NoError(t, err)
		_, err = s.CreateUser(ctx, User{Username: "off", Deactivated: true})
		require.NoError(t, err)
		g := permission.Grant{Resource: permission.Resource{Kind: permission.Scorer, ID: "1", Name: "rel"}, Principal: permission.ForGroup("ml"), Level: permission.Use}
		require.NoError(t, s.PutGrant(ctx, g))
		r, err := s.CreateRule(ctx, permission.Rule{Kind: permission.Prompt, Principal: permission.ForGroup("ml"), Pattern: "^p", Priority: 3, Level: permission.Read})
		require.NoError(t, err)

		d, err := s.Load(ctx)
		require.NoError(t, err)
		changes, err := s.ChangesAfter(ctx, 0, 100)
		require.NoError(t, err)
		assert.Equal(t, changes[len(changes)-1].Seq, d.Seq, "the position the data reflects")
		assert.ElementsMatch(t, []permission.User{
			{Name: "alice", Admin: true, Active: true, Groups: []string{"ml"}},
			{Name: "off", Active: false},
		}, d.Users)
		assert.Equal(t, []permission.Grant{g}, d.Grants)
		assert.Equal(t, []permission.Rule{r}, d.Rules)
	})
}

// The engine follows the store: this process's writes are decided on
// before the write returns.
func TestEngineFollowsOwnWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		var mu sync.Mutex
		var seen []Change
		followed := make(chan error, 1)
		go func() {
			followed <- s.Follow(ctx, e, FollowOptions{OnChange: func(c Change) { mu.Lock(); seen = append(seen, c); mu.Unlock() }})
		}()
		waitFor(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.followers) == 1 })

		_, err = s.CreateUser(ctx, User{Username: "alice", Groups: []string{"ml"}})
		require.NoError(t, err)
		exp := permission.Resource{Kind: permission.Experiment, ID: "1", Name: "team-a/x"}
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForGroup("ml"), Level: permission.Edit}))
		snap := e.Snapshot()
		assert.Equal(t, "EDIT from group `ml`", snap.Decide(snap.Subject("alice", nil), exp).Explain(), "applied before PutGrant returned")

		_, err = s.CreateRule(ctx, permission.Rule{Kind: permission.Experiment, Principal: permission.ForUser("alice"), Pattern: "^team-a/", Level: permission.Read})
		require.NoError(t, err)
		require.NoError(t, s.DeleteGroup(ctx, "ml"))
		snap = e.Snapshot()
		assert.Equal(t, "READ from user regex `^team-a/` priority 0", snap.Decide(snap.Subject("alice", nil), exp).Explain())

		off := false
		_, err = s.UpdateUser(ctx, "alice", UserChange{Active: &off})
		require.NoError(t, err)
		snap = e.Snapshot()
		assert.Equal(t, permission.SourceInactive, snap.Decide(snap.Subject("alice", nil), exp).Source)

		mu.Lock()
		var ops []Op
		for _, c := range seen {
			for _, ev := range c.Events {
				ops = append(ops, ev.Op)
			}
		}
		mu.Unlock()
		assert.Contains(t, ops, OpTokenRevoke, "deactivation tells credential caches")
		assert.Contains(t, ops, OpSessionRevoke)
		cancel()
		assert.ErrorIs(t, <-followed, context.Canceled)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testLogger sends the store's warnings to the test's own output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func TestFeedHousekeeping(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		require.NoError(t, s.Ping(ctx))
		exp := permission.Resource{Kind: permission.Experiment, ID: "7", Name: "old-name"}
		require.NoError(t, s.PublishNameChange(ctx, exp, "new-name"))
		assert.ErrorIs(t, s.PublishNameChange(ctx, permission.Resource{Kind: 99, ID: "1"}, "x"), ErrInvalid)
		require.NoError(t, s.PutGrant(ctx, permission.Grant{Resource: exp, Principal: permission.ForUser("a"), Level: permission.Read}))
		changes, err := s.ChangesAfter(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, changes, 2)
		assert.Equal(t, []Event{{Op: OpNameChange, Resource: &exp, Name: "new-name"}}, changes[0].Events)
		assert.Empty(t, changes[0].Deltas(), "the engine keys experiments by id: nothing to apply")
		grant := permission.Grant{Resource: permission.Resource{Kind: permission.Experiment, ID: "7"}, Principal: permission.ForUser("a"), Level: permission.Read}
		assert.Equal(t, []permission.Delta{permission.PutGrant{Grant: grant}}, changes[1].Deltas(), "stored by id; the name is not part of a grant")

		// Pruning keeps the newest entry so the position survives.
		n, err := s.PruneChanges(ctx, time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		changes, err = s.ChangesAfter(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, changes, 1)
		assert.Equal(t, uint64(2), changes[0].Seq)
	})
}

func TestBearerAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		exists, active, err := s.AccountStatus(ctx, "alice")
		require.NoError(t, err)
		assert.False(t, exists)
		assert.False(t, active)
		require.NoError(t, s.ProvisionUser(ctx, "Alice", "Alice A", false))
		require.NoError(t, s.ProvisionUser(ctx, "alice", "Other", true), "an existing user is left alone")
		u, err := s.GetUser(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, "Alice A", u.DisplayName)
		assert.False(t, u.Admin)
		exists, active, err = s.AccountStatus(ctx, "ALICE")
		require.NoError(t, err)
		assert.True(t, exists)
		assert.True(t, active)

		name, err := s.UsernameByIdentity(ctx, "https://idp", "svc-sub")
		require.NoError(t, err)
		assert.Empty(t, name)
		_, err = s.CreateUser(ctx, User{Username: "svc-etl", ServiceAccount: true})
		require.NoError(t, err)
		require.NoError(t, s.BindIdentity(ctx, "https://idp", "svc-sub", "svc-etl"))
		name, err = s.UsernameByIdentity(ctx, "https://idp", "svc-sub")
		require.NoError(t, err)
		assert.Equal(t, "svc-etl", name)
	})
}

// The last active administrator cannot be demoted, deactivated or
// deleted; with another one, each is fine.
func TestLastAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := open(t, db)
		_, err := s.CreateUser(ctx, User{Username: "root", Admin: true})
		require.NoError(t, err)
		_, err = s.CreateUser(ctx, User{Username: "bob"})
		require.NoError(t, err)
		no := false
		_, err = s.UpdateUser(ctx, "root", UserChange{Admin: &no})
		assert.ErrorIs(t, err, ErrLastAdmin)
		_, err = s.UpdateUser(ctx, "root", UserChange{Active: &no})
		assert.ErrorIs(t, err, ErrLastAdmin)
		assert.ErrorIs(t, s.DeleteUser(ctx, "root"), ErrLastAdmin)
		u, err := s.GetUser(ctx, "root")
		require.NoError(t, err)
		assert.True(t, u.Admin && !u.Deactivated, "nothing changed")
		require.NoError(t, s.DeleteUser(ctx, "bob"), "a non-admin goes")

		_, err = s.CreateUser(ctx, User{Username: "ops", Admin: true})
		require.NoError(t, err)
		_, err = s.UpdateUser(ctx, "root", UserChange{Admin: &no})
		require.NoError(t, err)
		assert.ErrorIs(t, s.DeleteUser(ctx, "ops"), ErrLastAdmin, "now ops is the last")
	})
}
