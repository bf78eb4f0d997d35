package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL: pure Go, so always available
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Errors for errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
	ErrInvalid  = errors.New("store: invalid")
	// ErrLastAdmin: the change would leave no active administrator.
	ErrLastAdmin = errors.New("store: the last active administrator cannot be removed, demoted or deactivated")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

//go:embed migrations
var migrations embed.FS

type dialect int

const (
	sqliteDialect dialect = iota + 1
	postgresDialect
)

// Store is the SQL store. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	dialect dialect
	log     *slog.Logger

	mu        sync.Mutex // guards followers
	followers []*follower
	local     sync.Map // feed positions this process wrote → the actor (see Change.Local)
}

// Options tune Open. The zero value is fine.
type Options struct {
	// Logger receives migration and change-feed messages; slog.Default()
	// when nil.
	Logger *slog.Logger
}

// Open connects to the database named by uri and brings its schema up to
// date. Several replicas may open one PostgreSQL database at once: the
// migrations run under an advisory lock.
//
// URIs, as mlflow-oidc-auth's OIDC_USERS_DB_URI writes them:
//
//	sqlite:///relative/auth.db     (SQLAlchemy's form: three slashes, relative)
//	sqlite:////var/lib/auth.db     (four slashes: absolute)
//	postgres://user:pass@host:5432/db?sslmode=require
//	postgresql://...               (the same)
//
// SQLite needs its driver linked in: import
// github.com/mlflowauth/mlflowauth/store/sqlite for its side effect. It is
// separate because it needs cgo; a PostgreSQL-only build does without.
func Open(ctx context.Context, uri string) (*Store, error) {
	return OpenWith(ctx, uri, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, uri string, opts Options) (*Store, error) {
	driver, dsn, d, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(sql.Drivers(), driver) {
		return nil, fmt.Errorf("store: %s needs the SQLite driver: import _ \"github.com/mlflowauth/mlflowauth/store/sqlite\"", redact(uri))
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", redact(uri), err)
	}
	s := &Store{db: db, dialect: d, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch d {
	case sqliteDialect:
		// WAL lets readers run beside the one writer; more connections than
		// that only queue on the file lock.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	case postgresDialect:
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(8)
		db.SetConnMaxLifetime(30 * time.Minute)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	err = db.PingContext(ctx)
	for try := 0; err != nil && d == sqliteDialect && isBusy(err) && try < 20; try++ {
		// A new SQLite file being migrated by another process: switching a
		// connection to WAL needs a lock the busy timeout does not always
		// wait for. Try again shortly.
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(time.Duration(25*(try+1)) * time.Millisecond):
			err = db.PingContext(ctx)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", redact(uri), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers (for /health/ready).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func parseURI(uri string) (driver, dsn string, d dialect, err error) {
	switch {
	case strings.HasPrefix(uri, "sqlite://"):
		path := strings.TrimPrefix(uri, "sqlite://")
		q := ""
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, q = path[:i], path[i+1:]
		}
		if !strings.HasPrefix(path, "/") || len(path) < 2 {
			return "", "", 0, invalid("SQLite URI %q: expected sqlite:///relative.db or sqlite:////absolute.db", uri)
		}
		path = path[1:] // SQLAlchemy: the third slash ends the empty host
		if q != "" {
			return "", "", 0, invalid("SQLite URI %q: query parameters are not supported", uri)
		}
		v := url.Values{}
		v.Set("_foreign_keys", "on")
		v.Set("_busy_timeout", "10000")
		v.Set("_journal_mode", "WAL")
		v.Set("_synchronous", "NORMAL")
		v.Set("_txlock", "immediate") // take the write lock at BEGIN: no upgrade deadlocks
		return "sqlite3", "file:" + path + "?" + v.Encode(), sqliteDialect, nil
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		if _, err := url.Parse(uri); err != nil {
			return "", "", 0, invalid("PostgreSQL URI: %v", redactErr(err))
		}
		return "pgx", uri, postgresDialect, nil
	}
	return "", "", 0, invalid("database URI %q: expected sqlite:///path.db or postgres://...", redact(uri))
}

// redact hides a password in a URI for messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		if err != nil {
			return "the database URI"
		}
		return uri
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// isBusy reports SQLite's "database is locked" (SQLITE_BUSY), by its text:
// the driver's error type lives behind the cgo build tag of store/sqlite.
func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY")
}

func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	dir, gd := "migrations/sqlite", goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == postgresDialect {
		dir, gd = "migrations/postgres", goose.DialectPostgres
		// Replicas starting together: one migrates, the others wait.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("store: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(gd, s.db.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	for try := 0; err != nil && s.dialect == sqliteDialect && try < 5; try++ {
		// goose has no lock for SQLite: two processes opening a new file at
		// once can both start version 1, and the loser's transaction rolls
		// back. Running Up again then finds the winner's work and has
		// nothing left to do.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50*(try+1)) * time.Millisecond):
		}
		results, err = p.Up(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: migrating the schema: %w", err)
	}
	for _, r := range results {
		s.log.InfoContext(ctx, "store: migrated", "version", r.Source.Version, "file", r.Source.Path)
	}
	return nil
}

// classify turns driver errors into the store's.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	msg := err.Error()
	// SQLite's driver is not imported here (it needs cgo), so its
	// constraint errors are known by their text; PostgreSQL's by SQLSTATE.
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
