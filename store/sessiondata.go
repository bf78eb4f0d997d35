package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// SessionData keeps browser session data in this database: an scs store
// (scs.Store and scs.CtxStore) on the session_data table, so SQLite and
// PostgreSQL deployments need nothing else for sessions. scs hashes tokens
// before they get here (HashTokenInStore); expired rows are never
// returned and are removed by PruneSessions.
type SessionData struct{ s *Store }

// SessionData returns the session store.
func (s *Store) SessionData() *SessionData { return &SessionData{s: s} }

// FindCtx returns the data under token, unless it expired.
func (d *SessionData) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := d.s.db.GetContext(ctx, &b, d.s.db.Rebind("SELECT data FROM session_data WHERE token = ? AND expiry > ?"), token, now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// CommitCtx stores data under token until expiry.
func (d *SessionData) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := d.s.db.ExecContext(ctx, d.s.db.Rebind(`INSERT INTO session_data (token, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`), token, b, expiry.UTC())
	return err
}

// DeleteCtx removes the data under token.
func (d *SessionData) DeleteCtx(ctx context.Context, token string) error {
	_, err := d.s.db.ExecContext(ctx, d.s.db.Rebind("DELETE FROM session_data WHERE token = ?"), token)
	return err
}

// Find is FindCtx without a context.
func (d *SessionData) Find(token string) ([]byte, bool, error) {
	return d.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context.
func (d *SessionData) Commit(token string, b []byte, expiry time.Time) error {
	return d.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context.
func (d *SessionData) Delete(token string) error { return d.DeleteCtx(context.Background(), token) }

// IndexSession records a new browser session of username in the sessions
// index, by the SHA-256 of its token, so it can be revoked with every
// other session of the user.
func (s *Store) IndexSession(ctx context.Context, hash []byte, username string, expires time.Time) error {
	return s.CreateSession(ctx, Session{Hash: hash, Username: username, ExpiresAt: expires})
}

// SessionLive reports whether an indexed session is neither revoked nor
// expired (false for one never indexed).
func (s *Store) SessionLive(ctx context.Context, hash []byte) (bool, error) {
	ses, err := s.SessionByHash(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return ses.Live(now()), nil
}

// EndSession revokes one indexed session (logout).
func (s *Store) EndSession(ctx context.Context, hash []byte) error {
	err := s.RevokeSession(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// TakeCtx returns the data under token and deletes it in one statement:
// of two replicas taking the same token at once, one gets it. (A pending
// sign-in must be used once.)
func (d *SessionData) TakeCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := d.s.db.GetContext(ctx, &b, d.s.db.Rebind("DELETE FROM session_data WHERE token = ? AND expiry > ? RETURNING data"), token, now())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	return b, err == nil, err
}
