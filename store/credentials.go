package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Token is an access token's record. The secret itself is never stored:
// Hash is its SHA-256.
type Token struct {
	ID         int64
	Username   string
	Name       string
	Hash       []byte // SHA-256 of the secret
	Prefix     string // the start of the secret, to tell tokens apart
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero: never used
	RevokedAt  time.Time // zero: live
}

// Live reports whether the token can be used at t.
func (t Token) Live(at time.Time) bool { return t.RevokedAt.IsZero() && at.Before(t.ExpiresAt) }

type tokenRow struct {
	ID         int64        `db:"id"`
	Username   string       `db:"username"`
	Name       string       `db:"name"`
	Hash       []byte       `db:"secret_hash"`
	Prefix     string       `db:"prefix"`
	CreatedAt  time.Time    `db:"created_at"`
	ExpiresAt  time.Time    `db:"expires_at"`
	LastUsedAt sql.NullTime `db:"last_used_at"`
	RevokedAt  sql.NullTime `db:"revoked_at"`
}

func (r tokenRow) token() Token {
	return Token{
		ID: r.ID, Username: r.Username, Name: r.Name, Hash: r.Hash, Prefix: r.Prefix,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		LastUsedAt: r.LastUsedAt.Time.UTC(), RevokedAt: r.RevokedAt.Time.UTC(),
	}
}

const tokenSelect = `SELECT t.id, u.username, t.name, t.secret_hash, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
	FROM tokens t JOIN users u ON u.id = t.user_id `

// CreateToken stores a token record for t.Username. A live token of the
// same name for the user, or the same hash, is ErrConflict.
func (s *Store) CreateToken(ctx context.Context, t Token) (Token, error) {
	name, err := normalizeUsername(t.Username)
	if err != nil {
		return Token{}, err
	}
	if len(t.Hash) != sha256.Size {
		return Token{}, invalid("a token hash must be SHA-256 (32 bytes)")
	}
	if t.Name == "" {
		return Token{}, invalid("a token needs a name")
	}
	if t.ExpiresAt.IsZero() {
		return Token{}, invalid("a token needs an expiry")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	var out Token
	err = s.write(ctx, func(tx *tx) error {
		u, err := getUser(ctx, tx, name)
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowxContext(ctx, tx.q(`INSERT INTO tokens (user_id, name, secret_hash, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			u.ID, t.Name, t.Hash, t.Prefix, t.CreatedAt.UTC(), t.ExpiresAt.UTC()).Scan(&id); err != nil {
			if err := classify(err); errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w: a live token named %q for %s, or the same secret", ErrConflict, t.Name, name)
			}
			return err
		}
		var r tokenRow
		if err := tx.GetContext(ctx, &r, tx.q(tokenSelect+"WHERE t.id = ?"), id); err != nil {
			return err
		}
		out = r.token()
		tx.emit(Event{Op: OpTokenCreate, Username: name, ID: id, Name: t.Name})
		return nil
	})
	return out, err
}

// TokenByHash returns the token whose secret hashes to hash, live or not:
// the caller tells expired and revoked apart.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	var r tokenRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(tokenSelect+"WHERE t.secret_hash = ?"), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: token", ErrNotFound)
	}
	if err != nil {
		return Token{}, err
	}
	return r.token(), nil
}

// ListTokens returns a user's tokens, newest first.
func (s *Store) ListTokens(ctx context.Context, username string) ([]Token, error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return nil, err
	}
	var rows []tokenRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(tokenSelect+"WHERE u.username = ? ORDER BY t.created_at DESC, t.id DESC"), name); err != nil {
		return nil, err
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeToken revokes one of the user's tokens.
func (s *Store) RevokeToken(ctx context.Context, username string, id int64) error {
	name, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, t.q(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL
			AND user_id = (SELECT id FROM users WHERE username = ?)`), now(), id, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: live token %d of %s", ErrNotFound, id, name)
		}
		t.emit(Event{Op: OpTokenRevoke, Username: name, ID: id})
		return nil
	})
}

// RevokeUserTokens revokes every live token of the user and returns how many.
func (s *Store) RevokeUserTokens(ctx context.Context, username string) (int64, error) {
	return s.revokeAll(ctx, "tokens", OpTokenRevoke, username)
}

// revokeAll revokes every live row of a user's in table (tokens or
// sessions) and tells followers with op.
func (s *Store) revokeAll(ctx context.Context, table string, op Op, username string) (int64, error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.write(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, t.q(`UPDATE `+table+` SET revoked_at = ? WHERE revoked_at IS NULL
			AND user_id = (SELECT id FROM users WHERE username = ?)`), now(), name)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		t.emit(Event{Op: op, Username: name})
		return nil
	})
	return n, err
}

// TouchTokens records when tokens were last used, in one transaction: the
// authenticator batches these rather than writing per request. It is not
// on the feed; nothing is decided on it.
func (s *Store) TouchTokens(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.write(ctx, func(t *tx) error {
		for id, at := range used {
			if _, err := t.ExecContext(ctx, t.q(`UPDATE tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
				at.UTC(), id, at.UTC()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Session is the index entry of a browser session: enough to revoke every
// session of a user. The session data lives in the session store.
type Session struct {
	Hash      []byte // SHA-256 of the session id
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time // zero: live
}

// Live reports whether the session is neither revoked nor expired at t.
func (s Session) Live(at time.Time) bool { return s.RevokedAt.IsZero() && at.Before(s.ExpiresAt) }

type sessionRow struct {
	Hash      []byte       `db:"id_hash"`
	Username  string       `db:"username"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	RevokedAt sql.NullTime `db:"revoked_at"`
}

// CreateSession indexes a new session.
func (s *Store) CreateSession(ctx context.Context, ses Session) error {
	name, err := normalizeUsername(ses.Username)
	if err != nil {
		return err
	}
	if len(ses.Hash) != sha256.Size {
		return invalid("a session hash must be SHA-256 (32 bytes)")
	}
	if ses.CreatedAt.IsZero() {
		ses.CreatedAt = now()
	}
	return s.write(ctx, func(t *tx) error {
		u, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		_, err = t.ExecContext(ctx, t.q("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)"),
			ses.Hash, u.ID, ses.CreatedAt.UTC(), ses.ExpiresAt.UTC())
		return classify(err)
	})
}

// SessionByHash returns a session's index entry, live or not.
func (s *Store) SessionByHash(ctx context.Context, hash []byte) (Session, error) {
	var r sessionRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT s.id_hash, u.username, s.created_at, s.expires_at, s.revoked_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?`), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	if err != nil {
		return Session{}, err
	}
	return Session{Hash: r.Hash, Username: r.Username, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: r.RevokedAt.Time.UTC()}, nil
}

// RevokeSession revokes one session.
func (s *Store) RevokeSession(ctx context.Context, hash []byte) error {
	return s.write(ctx, func(t *tx) error {
		var name string
		if err := t.GetContext(ctx, &name, t.q("SELECT u.username FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?"), hash); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: session", ErrNotFound)
			}
			return err
		}
		if _, err := t.ExecContext(ctx, t.q("UPDATE sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL"), now(), hash); err != nil {
			return err
		}
		t.emit(Event{Op: OpSessionRevoke, Username: name})
		return nil
	})
}

// RevokeUserSessions revokes every live session of a user ("sign out
// everywhere") and returns how many.
func (s *Store) RevokeUserSessions(ctx context.Context, username string) (int64, error) {
	return s.revokeAll(ctx, "sessions", OpSessionRevoke, username)
}

// PruneSessions deletes session data that expired before at, and index
// entries that expired or were revoked before at, and returns how many
// index entries.
func (s *Store) PruneSessions(ctx context.Context, at time.Time) (int64, error) {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM session_data WHERE expiry < ?"), at.UTC()); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind("DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?"), at.UTC(), at.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
