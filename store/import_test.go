package store

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/internal/testenv"
	"github.com/mlflowauth/mlflowauth/permission"
)

// isDefault is the check the gateway passes: MLflow's shipped passwords.
func isDefault(hash string) bool {
	for _, pw := range []string{"password", "password1234"} {
		if ok, _ := basic.VerifyPassword(hash, pw); ok {
			return true
		}
	}
	return false
}

// mlflowFixture copies the auth database MLflow 2.17.2 wrote, so a test
// may change its copy.
func mlflowFixture(t *testing.T) (path, uri string) {
	t.Helper()
	in, err := os.Open("testdata/mlflow-2.17.2-basic_auth.db")
	require.NoError(t, err)
	defer in.Close()
	path = filepath.Join(t.TempDir(), "basic_auth.db")
	out, err := os.Create(path)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return path, "sqlite:///" + path
}

func execSQL(t *testing.T, db *sql.DB, script string) {
	t.Helper()
	for _, stmt := range strings.Split(script, ";\n") {
		if stmt = strings.TrimSpace(stmt); stmt == "" || strings.HasPrefix(stmt, "--") && !strings.Contains(stmt, "\n") {
			continue
		}
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
}

// oidcAuthSource builds the mlflow-oidc-auth database of
// testdata/mlflow-oidc-auth.sql (made by gen_oidc_auth_sql.py) in the given
// database kind and returns its URI.
func oidcAuthSource(t *testing.T, kind string, extra string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/mlflow-oidc-auth.sql")
	require.NoError(t, err)
	script := string(b) + extra
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "oidc.db")
		db, err := sql.Open("sqlite3", "file:"+path)
		require.NoError(t, err)
		defer db.Close()
		execSQL(t, db, script)
		return "sqlite:///" + path
	}
	uri := testenv.PostgresSchema(t)
	db, err := sql.Open("pgx", uri)
	require.NoError(t, err)
	defer db.Close()
	execSQL(t, db, script)
	return uri
}

func levelOf(t *testing.T, e *permission.Engine, user string, res permission.Resource) permission.Level {
	t.Helper()
	s := e.Snapshot()
	return s.Decide(s.Subject(user, nil), res).Level
}

func TestImportMLflowBasicAuth(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, uri := mlflowFixture(t)
		report, err := s.Import(ctx, uri, ImportOptions{IsDefaultPassword: isDefault})
		require.NoError(t, err)
		assert.Equal(t, OriginMLflowBasic, report.Kind)
		assert.Equal(t, 5, report.Users)
		assert.Equal(t, 7, report.Grants)
		assert.Equal(t, []string{"admin"}, report.PasswordsDisabled, "MLflow's old default admin password")
		assert.Contains(t, report.String(), "password sign-in disabled")

		// Every user signs in with the password the fixture's README gives,
		// but the admin, whose password was a shipped default.
		for user, pw := range map[string]string{
			"alice": "alice-password-0001", "bob": "bob-password-0001", "carol": "carol-password-0001", "dave": "dave-password-0001",
		} {
			u, err := s.GetUser(ctx, user)
			require.NoError(t, err)
			ok, err := basic.VerifyPassword(u.PasswordHash, pw)
			require.NoError(t, err)
			assert.True(t, ok, user)
			assert.Equal(t, OriginMLflowBasic, u.Origin)
		}
		admin, err := s.GetUser(ctx, "admin")
		require.NoError(t, err)
		assert.True(t, admin.Admin)
		assert.Empty(t, admin.PasswordHash)

		// Every grant decides as it did in MLflow.
		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		exp := func(id string) permission.Resource { return permission.Resource{Kind: permission.Experiment, ID: id} }
		model := permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}
		for _, c := range []struct {
			user string
			res  permission.Resource
			want permission.Level
		}{
			{"alice", exp("1"), permission.Manage}, {"dave", exp("1"), permission.Read},
			{"alice", exp("2"), permission.Read}, {"bob", exp("2"), permission.Edit},
			{"bob", exp("3"), permission.NoPermissions}, {"alice", model, permission.Edit}, {"bob", model, permission.Read},
			{"admin", exp("99"), permission.Manage},
		} {
			assert.Equal(t, c.want, levelOf(t, e, c.user, c.res), "%s on %s", c.user, c.res)
		}

		// Importing twice changes nothing.
		again, err := s.Import(ctx, uri, ImportOptions{IsDefaultPassword: isDefault})
		require.NoError(t, err)
		assert.True(t, again.AlreadyImported)
		assert.Contains(t, again.String(), "nothing done")
		// A deleted user does not come back on a restart's import...
		require.NoError(t, s.DeleteUser(ctx, "bob"))
		_, err = s.Import(ctx, uri, ImportOptions{})
		require.NoError(t, err)
		_, err = s.GetUser(ctx, "bob")
		assert.ErrorIs(t, err, ErrNotFound)
		// ...only through the explicit re-import, which keeps what is here.
		forced, err := s.Import(ctx, uri, ImportOptions{Force: true, IsDefaultPassword: isDefault})
		require.NoError(t, err)
		assert.Equal(t, 1, forced.Users, "bob")
		assert.Equal(t, 3, forced.Grants, "bob's three grants; the others are already here")
		grants, err := s.ListGrants(ctx, GrantFilter{})
		require.NoError(t, err)
		assert.Len(t, grants, 7, "no duplicates")
	})
}

func TestImportRefusesCollisions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		path, uri := mlflowFixture(t)
		db, err := sql.Open("sqlite3", "file:"+path)
		require.NoError(t, err)
		_, err = db.Exec("INSERT INTO users (username, password_hash, is_admin) VALUES ('carol', 'pbkdf2:sha256:1000$x$00', 0)")
		require.NoError(t, err)
		db.Close()
		_, err = s.Import(ctx, uri, ImportOptions{})
		require.ErrorIs(t, err, ErrImportRefused)
		assert.Contains(t, err.Error(), `["Carol" "carol"]`)
		users, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Empty(t, users, "nothing written")
		done, err := s.Imported(ctx, fingerprint(OriginMLflowBasic, uri))
		require.NoError(t, err)
		assert.False(t, done, "not recorded as imported")
	})
}

func TestImportOIDCAuth(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := open(t, db)
		// The source in the same kind of database as the store.
		uri := oidcAuthSource(t, db.name, "")
		_, err := s.CreateUser(ctx, User{Username: "admin@example.com", Admin: true})
		require.NoError(t, err)

		report, err := s.Import(ctx, uri, ImportOptions{IsDefaultPassword: isDefault})
		require.NoError(t, err)
		assert.Equal(t, OriginMLflowOIDCAuth, report.Kind)
		assert.Equal(t, 3, report.Users, "the admin already exists here")
		assert.Equal(t, 3, report.Groups)
		assert.Equal(t, 1, report.Identities)
		assert.Equal(t, 8, report.Grants)
		assert.Equal(t, 3, report.Rules)
		assert.Contains(t, strings.Join(report.Skipped, "\n"), "user admin@example.com: already exists here")
		assert.Contains(t, strings.Join(report.Skipped, "\n"), `scoped to workspace "team-ws"`)

		alice, err := s.GetUser(ctx, "alice@example.com")
		require.NoError(t, err)
		assert.Equal(t, []string{"ml-team", "mlflow"}, alice.Groups)
		assert.Equal(t, "Alice", alice.DisplayName)
		assert.Equal(t, OriginMLflowOIDCAuth, alice.Origin, "so the first SSO sign-in adopts the account")
		bound, err := s.UserByIdentity(ctx, "https://idp.example.com", "sub-alice")
		require.NoError(t, err)
		assert.Equal(t, "alice@example.com", bound.Username)
		// mlflow-oidc-auth's people signed in through SSO there: under
		// SSO_REVALIDATE_DAYS their clock starts at the import, so a
		// leaver who never signs in here again does not keep access.
		assert.True(t, alice.LastSSOAt.IsZero(), "no sign-in here yet")
		assert.WithinDuration(t, time.Now().AddDate(0, 0, 30), alice.RevalidateBy(30), time.Minute)
		assert.False(t, alice.Lapsed(30, time.Now()))
		assert.True(t, alice.Lapsed(30, time.Now().AddDate(0, 0, 31)))

		// The service account's access token is kept, and still works as one.
		svc, err := s.GetUser(ctx, "svc-etl")
		require.NoError(t, err)
		assert.True(t, svc.ServiceAccount)
		ok, err := basic.VerifyPassword(svc.PasswordHash, "Zq8xT2vLw9PnR4sK7mYd3BcE")
		require.NoError(t, err)
		assert.True(t, ok)

		e, err := permission.NewEngine(ctx, s, permission.Config{})
		require.NoError(t, err)
		exp := func(id, name string) permission.Resource {
			return permission.Resource{Kind: permission.Experiment, ID: id, Name: name}
		}
		for _, c := range []struct {
			user string
			res  permission.Resource
			want string
		}{
			{"alice@example.com", exp("1", "x"), "MANAGE from a grant to the user"},
			{"alice@example.com", exp("2", "x"), "EDIT from group `ml-team`"},
			{"bob@example.com", exp("2", "x"), "READ from a grant to the user"},
			{"alice@example.com", exp("5", "alice/sandbox"), "MANAGE from user regex `^alice/` priority 1"},
			{"svc-etl", exp("6", "team-a/42"), "EDIT from group `ml-team` regex `^team-a/\\d+` priority 10"},
			{"alice@example.com", permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}, "EDIT from a grant to the user"},
			{"bob@example.com", permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}, "READ from group `mlflow`"},
			{"bob@example.com", permission.Resource{Kind: permission.Prompt, ID: "summarise"}, "READ from a grant to the user"},
			{"svc-etl", permission.Resource{Kind: permission.Prompt, ID: "prompts/qa"}, "USE from group `ml-team` regex `^prompts/` priority 5"},
			{"alice@example.com", permission.Resource{Kind: permission.Scorer, ID: "1", Name: "relevance"}, "EDIT from a grant to the user"},
		} {
			snap := e.Snapshot()
			assert.Equal(t, c.want, snap.Decide(snap.Subject(c.user, nil), c.res).Explain(), "%s on %s", c.user, c.res)
		}
	})
}

func TestImportRefusesUntranslatableRules(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		s := open(t, db)
		uri := oidcAuthSource(t, db.name, `
INSERT INTO experiment_regex_permissions (id, regex, priority, user_id, permission) VALUES (7, '^(?!tmp)', 2, 2, 'READ');
INSERT INTO experiment_group_regex_permissions (id, regex, priority, group_id, permission) VALUES (8, '(a)\1', 3, 1, 'READ');
`)
		_, err := s.Import(ctx, uri, ImportOptions{})
		require.ErrorIs(t, err, ErrImportRefused)
		assert.Contains(t, err.Error(), "rule 7 (experiment, user alice@example.com, priority 2)")
		assert.Contains(t, err.Error(), "lookahead cannot be expressed in RE2")
		assert.Contains(t, err.Error(), "rule 8 (experiment, group mlflow, priority 3)")
		users, err := s.ListUsers(ctx)
		require.NoError(t, err)
		assert.Empty(t, users, "nothing written")
	})
}

func TestImportRefusesRoleModel(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "roles.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	require.NoError(t, err)
	execSQL(t, db, `CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, password_hash TEXT, is_admin BOOLEAN);
CREATE TABLE roles (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE role_permissions (id INTEGER PRIMARY KEY, role_id INTEGER, resource_pattern TEXT, permission TEXT)`)
	db.Close()
	s, err := Open(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "auth.db"))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Import(ctx, "sqlite:///"+path, ImportOptions{})
	require.ErrorIs(t, err, ErrImportRefused)
	assert.Contains(t, err.Error(), "MLflow 3.13's role model")

	other := filepath.Join(t.TempDir(), "other.db")
	db, err = sql.Open("sqlite3", "file:"+other)
	require.NoError(t, err)
	execSQL(t, db, "CREATE TABLE notes (id INTEGER PRIMARY KEY)")
	db.Close()
	_, err = s.Import(ctx, "sqlite:///"+other, ImportOptions{})
	require.ErrorIs(t, err, ErrImportRefused)
	assert.Contains(t, err.Error(), "no users table")
	_, err = s.Import(ctx, "sqlite:///"+filepath.Join(t.TempDir(), "missing.db"), ImportOptions{})
	require.Error(t, err, "a source that is not there")
}
