package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mlflowauth/mlflowauth/permission"
)

func checkResource(r permission.Resource) error {
	if _, err := r.Kind.MarshalText(); err != nil {
		return invalid("unknown resource kind %d", r.Kind)
	}
	if r.ID == "" {
		return invalid("%s without an id", r.Kind)
	}
	if r.Kind == permission.Scorer && r.Name == "" {
		return invalid("a scorer grant needs the scorer's name")
	}
	return nil
}

func checkPrincipal(p permission.Principal) error {
	if p.Kind != permission.ToUser && p.Kind != permission.ToGroup {
		return invalid("a grant or rule needs a user or a group")
	}
	if p.Name == "" {
		return invalid("a grant or rule needs a user or group name")
	}
	return nil
}

func checkLevel(l permission.Level) error {
	if _, err := l.MarshalText(); err != nil {
		return invalid("unknown permission level %d", l)
	}
	return nil
}

// sub is the stored resource_sub: a scorer's name, else empty.
func sub(r permission.Resource) string {
	if r.Kind == permission.Scorer {
		return r.Name
	}
	return ""
}

// grantKey keeps only what identifies a granted resource: the engine
// indexes grants by kind and id (and a scorer's name).
func grantKey(r permission.Resource) permission.Resource {
	return permission.Resource{Kind: r.Kind, ID: r.ID, Name: sub(r)}
}

func normalizePrincipal(p permission.Principal) (permission.Principal, error) {
	if err := checkPrincipal(p); err != nil {
		return p, err
	}
	if p.Kind == permission.ToUser {
		n, err := normalizeUsername(p.Name)
		if err != nil {
			return p, err
		}
		p.Name = n
	}
	return p, nil
}

// PutGrant creates or replaces a grant. Resources need not exist in MLflow:
// MLflow lets grants name things that do not exist yet.
func (s *Store) PutGrant(ctx context.Context, g permission.Grant) error {
	if err := checkResource(g.Resource); err != nil {
		return err
	}
	if err := checkLevel(g.Level); err != nil {
		return err
	}
	p, err := normalizePrincipal(g.Principal)
	if err != nil {
		return err
	}
	g.Principal, g.Resource = p, grantKey(g.Resource)
	return s.write(ctx, func(t *tx) error {
		ts := now()
		if _, err := t.ExecContext(ctx, t.q(`INSERT INTO grants (kind, resource_id, resource_sub, principal_kind, principal, level, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (kind, resource_id, resource_sub, principal_kind, principal) DO UPDATE SET level = excluded.level, updated_at = excluded.updated_at`),
			g.Resource.Kind.String(), g.Resource.ID, sub(g.Resource), p.Kind.String(), p.Name, g.Level.String(), ts, ts); err != nil {
			return err
		}
		t.emit(Event{Op: OpGrantPut, Grant: &g})
		return nil
	})
}

// GetGrant returns the grant on r for p.
func (s *Store) GetGrant(ctx context.Context, r permission.Resource, p permission.Principal) (permission.Grant, error) {
	p, err := normalizePrincipal(p)
	if err != nil {
		return permission.Grant{}, err
	}
	gs, err := selectGrants(ctx, s.db, "WHERE kind = ? AND resource_id = ? AND resource_sub = ? AND principal_kind = ? AND principal = ?",
		r.Kind.String(), r.ID, sub(r), p.Kind.String(), p.Name)
	if err != nil {
		return permission.Grant{}, err
	}
	if len(gs) == 0 {
		return permission.Grant{}, fmt.Errorf("%w: %s on %s", ErrNotFound, p, r)
	}
	return gs[0], nil
}

// DeleteGrant removes the grant on r for p; ErrNotFound when there is none.
func (s *Store) DeleteGrant(ctx context.Context, r permission.Resource, p permission.Principal) error {
	p, err := normalizePrincipal(p)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, t.q("DELETE FROM grants WHERE kind = ? AND resource_id = ? AND resource_sub = ? AND principal_kind = ? AND principal = ?"),
			r.Kind.String(), r.ID, sub(r), p.Kind.String(), p.Name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s on %s", ErrNotFound, p, r)
		}
		key := grantKey(r)
		t.emit(Event{Op: OpGrantDelete, Resource: &key, Principal: &p})
		return nil
	})
}

// DeleteResource removes every grant on r (MLflow deleted it).
func (s *Store) DeleteResource(ctx context.Context, r permission.Resource) error {
	return s.write(ctx, func(t *tx) error {
		if _, err := t.ExecContext(ctx, t.q("DELETE FROM grants WHERE kind = ? AND resource_id = ? AND resource_sub = ?"), r.Kind.String(), r.ID, sub(r)); err != nil {
			return err
		}
		key := grantKey(r)
		t.emit(Event{Op: OpResourceDelete, Resource: &key}, Event{Op: OpNameChange, Resource: &r})
		return nil
	})
}

// RenameResource moves the grants on from to the new id (a registered
// model or prompt renamed in MLflow) and tells followers the old name is
// gone. Grants already on the new name are kept where both exist.
func (s *Store) RenameResource(ctx context.Context, from permission.Resource, newID string) error {
	if newID == "" {
		return invalid("rename of %s to an empty name", from)
	}
	to := from
	to.ID = newID
	return s.write(ctx, func(t *tx) error {
		moved, err := selectGrants(ctx, t, "WHERE kind = ? AND resource_id = ? AND resource_sub = ?", from.Kind.String(), from.ID, sub(from))
		if err != nil {
			return err
		}
		for _, g := range moved {
			ts := now()
			if _, err := t.ExecContext(ctx, t.q(`INSERT INTO grants (kind, resource_id, resource_sub, principal_kind, principal, level, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, resource_id, resource_sub, principal_kind, principal) DO NOTHING`),
				to.Kind.String(), to.ID, sub(to), g.Principal.Kind.String(), g.Principal.Name, g.Level.String(), ts, ts); err != nil {
				return err
			}
		}
		if _, err := t.ExecContext(ctx, t.q("DELETE FROM grants WHERE kind = ? AND resource_id = ? AND resource_sub = ?"), from.Kind.String(), from.ID, sub(from)); err != nil {
			return err
		}
		after, err := selectGrants(ctx, t, "WHERE kind = ? AND resource_id = ? AND resource_sub = ?", to.Kind.String(), to.ID, sub(to))
		if err != nil {
			return err
		}
		fromKey := grantKey(from)
		t.emit(Event{Op: OpResourceDelete, Resource: &fromKey})
		for _, g := range after {
			t.emit(Event{Op: OpGrantPut, Grant: &g})
		}
		t.emit(Event{Op: OpNameChange, Resource: &from, Name: newID})
		return nil
	})
}

// PublishNameChange tells every follower that a resource's name changed
// (newName) or that it is gone (newName empty), so caches of names, such as
// experiment id to name for regex rules, drop it. Grants are untouched:
// experiments are granted by id.
func (s *Store) PublishNameChange(ctx context.Context, r permission.Resource, newName string) error {
	if err := checkResource(r); err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		t.emit(Event{Op: OpNameChange, Resource: &r, Name: newName})
		return nil
	})
}

// GrantFilter selects grants; zero fields match everything.
type GrantFilter struct {
	Kind      permission.Kind
	Resource  string // resource id
	Principal *permission.Principal
}

// ListGrants returns the grants the filter selects.
func (s *Store) ListGrants(ctx context.Context, f GrantFilter) ([]permission.Grant, error) {
	where, args := "WHERE 1 = 1", []any{}
	if f.Kind != 0 {
		where += " AND kind = ?"
		args = append(args, f.Kind.String())
	}
	if f.Resource != "" {
		where += " AND resource_id = ?"
		args = append(args, f.Resource)
	}
	if f.Principal != nil {
		p, err := normalizePrincipal(*f.Principal)
		if err != nil {
			return nil, err
		}
		where += " AND principal_kind = ? AND principal = ?"
		args = append(args, p.Kind.String(), p.Name)
	}
	return selectGrants(ctx, s.db, where, args...)
}

type rowQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	Rebind(query string) string
}

func selectGrants(ctx context.Context, q rowQuerier, where string, args ...any) ([]permission.Grant, error) {
	rows, err := q.QueryContext(ctx, q.Rebind("SELECT kind, resource_id, resource_sub, principal_kind, principal, level FROM grants "+where+" ORDER BY kind, resource_id, resource_sub, principal_kind, principal"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []permission.Grant
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

func scanGrant(rows *sql.Rows) (permission.Grant, error) {
	var kind, id, sb, pk, p, level string
	if err := rows.Scan(&kind, &id, &sb, &pk, &p, &level); err != nil {
		return permission.Grant{}, err
	}
	var g permission.Grant
	var err error
	if g.Resource.Kind, err = permission.ParseKind(kind); err != nil {
		return g, fmt.Errorf("store: grant row: %w", err)
	}
	if g.Principal.Kind, err = permission.ParsePrincipalKind(pk); err != nil {
		return g, fmt.Errorf("store: grant row: %w", err)
	}
	if g.Level, err = permission.ParseLevel(level); err != nil {
		return g, fmt.Errorf("store: grant row: %w", err)
	}
	g.Resource.ID, g.Resource.Name, g.Principal.Name = id, sb, p
	return g, nil
}

// CreateRule adds a regex rule and returns it with its id. The rule is
// validated as the engine will compile it: a pattern RE2 cannot express is
// ErrInvalid and nothing is written.
func (s *Store) CreateRule(ctx context.Context, r permission.Rule) (permission.Rule, error) {
	p, err := normalizePrincipal(r.Principal)
	if err != nil {
		return r, err
	}
	r.Principal = p
	if err := permission.ValidateRule(r); err != nil {
		return r, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	err = s.write(ctx, func(t *tx) error {
		ts := now()
		var id int64
		if err := t.QueryRowxContext(ctx, t.q(`INSERT INTO rules (kind, principal_kind, principal, pattern, priority, level, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			r.Kind.String(), p.Kind.String(), p.Name, r.Pattern, r.Priority, r.Level.String(), ts, ts).Scan(&id); err != nil {
			return err
		}
		r.ID = id
		t.emit(Event{Op: OpRulePut, Rule: &r})
		return nil
	})
	return r, err
}

// UpdateRule changes the rule with r.ID.
func (s *Store) UpdateRule(ctx context.Context, r permission.Rule) error {
	p, err := normalizePrincipal(r.Principal)
	if err != nil {
		return err
	}
	r.Principal = p
	if err := permission.ValidateRule(r); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.write(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, t.q(`UPDATE rules SET kind = ?, principal_kind = ?, principal = ?, pattern = ?, priority = ?, level = ?, updated_at = ? WHERE id = ?`),
			r.Kind.String(), p.Kind.String(), p.Name, r.Pattern, r.Priority, r.Level.String(), now(), r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: rule %d", ErrNotFound, r.ID)
		}
		t.emit(Event{Op: OpRulePut, Rule: &r})
		return nil
	})
}

// DeleteRule removes a rule.
func (s *Store) DeleteRule(ctx context.Context, id int64) error {
	return s.write(ctx, func(t *tx) error {
		res, err := t.ExecContext(ctx, t.q("DELETE FROM rules WHERE id = ?"), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: rule %d", ErrNotFound, id)
		}
		t.emit(Event{Op: OpRuleDelete, ID: id})
		return nil
	})
}

// GetRule returns a rule by id.
func (s *Store) GetRule(ctx context.Context, id int64) (permission.Rule, error) {
	rs, err := selectRules(ctx, s.db, "WHERE id = ?", id)
	if err != nil {
		return permission.Rule{}, err
	}
	if len(rs) == 0 {
		return permission.Rule{}, fmt.Errorf("%w: rule %d", ErrNotFound, id)
	}
	return rs[0], nil
}

// ListRules returns the rules of a kind (every kind when 0), by priority.
func (s *Store) ListRules(ctx context.Context, kind permission.Kind) ([]permission.Rule, error) {
	if kind == 0 {
		return selectRules(ctx, s.db, "")
	}
	return selectRules(ctx, s.db, "WHERE kind = ?", kind.String())
}

func selectRules(ctx context.Context, q rowQuerier, where string, args ...any) ([]permission.Rule, error) {
	rows, err := q.QueryContext(ctx, q.Rebind("SELECT id, kind, principal_kind, principal, pattern, priority, level FROM rules "+where+" ORDER BY priority, id"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []permission.Rule
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanRule(rows *sql.Rows) (permission.Rule, error) {
	var r permission.Rule
	var kind, pk, level string
	if err := rows.Scan(&r.ID, &kind, &pk, &r.Principal.Name, &r.Pattern, &r.Priority, &level); err != nil {
		return r, err
	}
	var err error
	if r.Kind, err = permission.ParseKind(kind); err != nil {
		return r, fmt.Errorf("store: rule %d: %w", r.ID, err)
	}
	if r.Principal.Kind, err = permission.ParsePrincipalKind(pk); err != nil {
		return r, fmt.Errorf("store: rule %d: %w", r.ID, err)
	}
	if r.Level, err = permission.ParseLevel(level); err != nil {
		return r, fmt.Errorf("store: rule %d: %w", r.ID, err)
	}
	return r, nil
}

// Load reads users, grants and rules for the permission engine in one
// consistent read, streaming the rows, with the feed position they
// reflect. It satisfies permission.Loader.
func (s *Store) Load(ctx context.Context) (*permission.Data, error) {
	var opts *sql.TxOptions
	if s.dialect == postgresDialect {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.db.BeginTxx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	d := &permission.Data{}
	var seq sql.NullInt64
	if err := tx.GetContext(ctx, &seq, "SELECT MAX(seq) FROM changes"); err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	d.Seq = uint64(seq.Int64)

	groups := map[int64][]string{}
	rows, err := tx.QueryContext(ctx, "SELECT m.user_id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id")
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	for rows.Next() {
		var id int64
		var g string
		if err := rows.Scan(&id, &g); err != nil {
			rows.Close()
			return nil, err
		}
		groups[id] = append(groups[id], g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = tx.QueryContext(ctx, "SELECT id, username, is_admin, active FROM users")
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	for rows.Next() {
		var id int64
		var u permission.User
		if err := rows.Scan(&id, &u.Name, &u.Admin, &u.Active); err != nil {
			rows.Close()
			return nil, err
		}
		u.Groups = groups[id]
		d.Users = append(d.Users, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var count int
	if err := tx.GetContext(ctx, &count, "SELECT COUNT(*) FROM grants"); err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	d.Grants = make([]permission.Grant, 0, count) // no regrowth of a million-entry slice
	rows, err = tx.QueryContext(ctx, "SELECT kind, resource_id, resource_sub, principal_kind, principal, level FROM grants")
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	// A million grants name a few thousand principals and a handful of
	// kinds and levels: scan those as raw bytes and share one string each,
	// which the snapshot then keeps.
	intern := map[string]string{}
	share := func(b []byte) string {
		if v, ok := intern[string(b)]; ok {
			return v
		}
		v := string(b)
		intern[v] = v
		return v
	}
	var kind, sb, pk, p, level sql.RawBytes // reused: Scan appends into them
	for rows.Next() {
		var g permission.Grant
		if err := rows.Scan(&kind, &g.Resource.ID, &sb, &pk, &p, &level); err != nil {
			rows.Close()
			return nil, err
		}
		if g.Resource.Kind, err = permission.ParseKind(share(kind)); err == nil {
			if g.Principal.Kind, err = permission.ParsePrincipalKind(share(pk)); err == nil {
				g.Level, err = permission.ParseLevel(share(level))
			}
		}
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: grant row: %w", err)
		}
		if len(sb) > 0 {
			g.Resource.Name = string(sb)
		}
		g.Principal.Name = share(p)
		d.Grants = append(d.Grants, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rules, err := selectRules(ctx, tx, "")
	if err != nil {
		return nil, fmt.Errorf("store: load: %w", err)
	}
	d.Rules = rules
	return d, nil
}

var _ permission.Loader = (*Store)(nil)
