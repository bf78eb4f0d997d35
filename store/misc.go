package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SecretKey returns the key stored under name, creating it with generate
// the first time. Every replica gets the same key: when two create one at
// once, the first stored wins and both return it.
func (s *Store) SecretKey(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	var key []byte
	err := s.db.GetContext(ctx, &key, s.db.Rebind("SELECT value FROM settings WHERE key = ?"), name)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	fresh, err := generate()
	if err != nil {
		return nil, fmt.Errorf("store: generating %s: %w", name, err)
	}
	if _, err := s.db.ExecContext(ctx, s.db.Rebind("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"), name, fresh); err != nil {
		return nil, err
	}
	err = s.db.GetContext(ctx, &key, s.db.Rebind("SELECT value FROM settings WHERE key = ?"), name)
	return key, err
}

// recordImport records an import of the source with fingerprint inside t,
// unless one with that fingerprint was recorded before: then it returns
// false. force replaces the record (the explicit re-import).
func (s *Store) recordImport(ctx context.Context, t *tx, fingerprint, source, summary string, force bool) (bool, error) {
	var n int
	if err := t.GetContext(ctx, &n, t.q("SELECT COUNT(*) FROM imports WHERE fingerprint = ?"), fingerprint); err != nil {
		return false, err
	}
	if n > 0 && !force {
		return false, nil
	}
	if _, err := t.ExecContext(ctx, t.q("DELETE FROM imports WHERE fingerprint = ?"), fingerprint); err != nil {
		return false, err
	}
	_, err := t.ExecContext(ctx, t.q("INSERT INTO imports (fingerprint, source, summary, imported_at) VALUES (?, ?, ?, ?)"), fingerprint, source, summary, now())
	return err == nil, err
}

// Imported reports whether a source with this fingerprint was imported.
func (s *Store) Imported(ctx context.Context, fingerprint string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, s.db.Rebind("SELECT COUNT(*) FROM imports WHERE fingerprint = ?"), fingerprint)
	return n > 0, err
}

// RecordImport marks a source as imported, unless it was already (then it
// returns false). With force the record is replaced and it returns true.
func (s *Store) RecordImport(ctx context.Context, fingerprint, source, summary string, force bool) (bool, error) {
	var done bool
	err := s.write(ctx, func(t *tx) error {
		var err error
		done, err = s.recordImport(ctx, t, fingerprint, source, summary, force)
		return err
	})
	return done, err
}

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	ID     int64     `db:"id"`
	At     time.Time `db:"at"`
	Actor  string    `db:"actor"`
	Action string    `db:"action"`
	Target string    `db:"target"`
	Detail string    `db:"detail"`
}

// Audit appends to the audit trail. Never put a secret in Detail.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = now()
	}
	if e.Action == "" {
		return invalid("an audit entry needs an action")
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind("INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)"),
		e.At.UTC(), e.Actor, e.Action, e.Target, e.Detail)
	return err
}

// AuditLog returns up to limit entries, newest first, before id (0: from
// the newest).
func (s *Store) AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var out []AuditEntry
	err := s.db.SelectContext(ctx, &out, s.db.Rebind("SELECT id, at, actor, action, target, detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?"), before, limit)
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return out, err
}
