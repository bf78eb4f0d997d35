package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mlflowauth/mlflowauth/permission"
)

// What SCIM provisioning (package scim) keeps here: which accounts and
// groups the identity provider manages, their external ids, and the
// tokens SCIM clients present.

// UserByID returns a user by the store's numeric id (SCIM's id).
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	var name string
	err := s.db.GetContext(ctx, &name, s.db.Rebind("SELECT username FROM users WHERE id = ?"), id)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: user %d", ErrNotFound, id)
	}
	if err != nil {
		return User{}, err
	}
	return getUser(ctx, s.db, name)
}

// ProvisionSCIMUser creates u as an account SCIM keeps, or revives the
// account of that name SCIM deleted earlier: its grants kept, unless
// u.ExternalID says it is someone else. Any other account of that name is
// ErrConflict: SCIM clients match existing accounts by filtering on
// userName, then link them with a PUT or PATCH.
func (s *Store) ProvisionSCIMUser(ctx context.Context, u User) (User, error) {
	name, err := normalizeUsername(u.Username)
	if err != nil {
		return User{}, err
	}
	state := SCIMLinked
	if u.Deactivated {
		state = SCIMSuspended
	}
	var out User
	err = s.write(ctx, func(t *tx) error {
		before, err := getUser(ctx, t, name)
		switch {
		case errors.Is(err, ErrNotFound):
			u.SCIM, u.Admin, u.ServiceAccount, u.PasswordHash, u.Groups, u.LastSSOAt = state, false, false, "", nil, time.Time{}
			if err := insertUser(ctx, t, name, u); err != nil {
				return err
			}
		case err != nil:
			return err
		case !before.SCIM.Deleted():
			return fmt.Errorf("%w: user %q", ErrConflict, name)
		default:
			// The identity provider's id says whether this is the person
			// who left: a name given again to someone else (a reused
			// address) gets nothing of theirs, not their grants, groups
			// or administrator's role.
			if before.ExternalID != "" && u.ExternalID != "" && before.ExternalID != u.ExternalID {
				if err := deletePrincipal(ctx, t, permission.ForUser(name)); err != nil {
					return err
				}
				if _, err := t.ExecContext(ctx, t.q("DELETE FROM memberships WHERE user_id = ?"), before.ID); err != nil {
					return err
				}
				// Nor a password an administrator gave the account after
				// the delete.
				if _, err := t.ExecContext(ctx, t.q("UPDATE users SET is_admin = ?, password_hash = NULL WHERE id = ?"), false, before.ID); err != nil {
					return err
				}
			}
			if before.SCIM == SCIMDeletedHeld {
				// An administrator had deactivated the account: SCIM
				// brings it back, not its access (whoever it now names;
				// SCIM itself sets the externalId that tells them apart).
				u.Deactivated, state = true, SCIMLinked
			}
			if _, err := t.ExecContext(ctx, t.q("UPDATE users SET display_name = ?, external_id = ?, active = ?, scim = ?, updated_at = ? WHERE id = ?"),
				u.DisplayName, u.ExternalID, !u.Deactivated, string(state), now(), before.ID); err != nil {
				return err
			}
		}
		if out, err = getUser(ctx, t, name); err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: out.permissionUser()})
		return nil
	})
	return out, err
}

// RemoveSCIMUser is SCIM's DELETE. With removeGrants the account goes
// with everything made to it (DeleteUser). Else, in one transaction, it is
// deactivated and hidden from SCIM; its tokens and sessions are revoked for
// good, its password is removed, its binding to the identity provider's
// account is undone and it leaves the groups SCIM keeps: what is kept is
// its grants, for when SCIM provisions the same person again (see
// ProvisionSCIMUser).
func (s *Store) RemoveSCIMUser(ctx context.Context, username string, removeGrants bool) error {
	if removeGrants {
		return s.DeleteUser(ctx, username)
	}
	name, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		u, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		if u.Admin && !u.Deactivated {
			if err := keepAnAdmin(ctx, t, u.ID); err != nil {
				return err
			}
		}
		ts := now()
		state := SCIMDeleted
		if u.Deactivated && u.SCIM != SCIMSuspended {
			state = SCIMDeletedHeld // an administrator deactivated it
		}
		for _, q := range []struct {
			query string
			args  []any
		}{
			// A password goes too (one an administrator set, or an access
			// token an mlflow-oidc-auth import kept as one): every
			// credential of a person who left stops for good. With it the
			// import's origin: provisioned again, the account is SCIM's,
			// and SSO_REVALIDATE_DAYS counts from its next sign-in.
			{"UPDATE users SET active = ?, scim = ?, password_hash = NULL, origin = ?, last_sso_at = NULL, updated_at = ? WHERE id = ?", []any{false, string(state), OriginLocal, ts, u.ID}},
			{"UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND user_id = ?", []any{ts, u.ID}},
			{"UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND user_id = ?", []any{ts, u.ID}},
			{"DELETE FROM identities WHERE user_id = ?", []any{u.ID}},
			{"DELETE FROM memberships WHERE user_id = ? AND group_id IN (SELECT id FROM groups WHERE scim)", []any{u.ID}},
		} {
			if _, err := t.ExecContext(ctx, t.q(q.query), q.args...); err != nil {
				return err
			}
		}
		after, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: after.permissionUser()},
			Event{Op: OpTokenRevoke, Username: name}, Event{Op: OpSessionRevoke, Username: name})
		return nil
	})
}

// Group is a group with its members.
type Group struct {
	ID         int64
	Name       string
	ExternalID string
	SCIM       bool     // SCIM keeps its members
	Members    []string // usernames, sorted
	MemberIDs  []int64  // the members' user ids, in the order of Members
}

type groupRow struct {
	ID         int64  `db:"id"`
	Name       string `db:"name"`
	ExternalID string `db:"external_id"`
	SCIM       bool   `db:"scim"`
}

func getGroup(ctx context.Context, q querier, where string, arg any) (Group, error) {
	var r groupRow
	if err := q.GetContext(ctx, &r, q.Rebind("SELECT id, name, external_id, scim FROM groups WHERE "+where), arg); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Group{}, fmt.Errorf("%w: group %v", ErrNotFound, arg)
		}
		return Group{}, err
	}
	g := Group{ID: r.ID, Name: r.Name, ExternalID: r.ExternalID, SCIM: r.SCIM}
	var members []struct {
		ID   int64  `db:"id"`
		Name string `db:"username"`
	}
	if err := q.SelectContext(ctx, &members, q.Rebind(
		"SELECT u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.username"), g.ID); err != nil {
		return Group{}, err
	}
	for _, m := range members {
		g.Members, g.MemberIDs = append(g.Members, m.Name), append(g.MemberIDs, m.ID)
	}
	return g, nil
}

// GroupByID returns a group and its members.
func (s *Store) GroupByID(ctx context.Context, id int64) (Group, error) {
	return getGroup(ctx, s.db, "id = ?", id)
}

// ListGroupDetails returns every group with its members, by name.
func (s *Store) ListGroupDetails(ctx context.Context) ([]Group, error) {
	var rows []groupRow
	if err := s.db.SelectContext(ctx, &rows, "SELECT id, name, external_id, scim FROM groups ORDER BY name"); err != nil {
		return nil, err
	}
	rs, err := s.db.QueryContext(ctx, "SELECT m.group_id, u.id, u.username FROM memberships m JOIN users u ON u.id = m.user_id ORDER BY u.username")
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	members, ids := map[int64][]string{}, map[int64][]int64{}
	for rs.Next() {
		var gid, uid int64
		var name string
		if err := rs.Scan(&gid, &uid, &name); err != nil {
			return nil, err
		}
		members[gid], ids[gid] = append(members[gid], name), append(ids[gid], uid)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	out := make([]Group, len(rows))
	for i, r := range rows {
		out[i] = Group{ID: r.ID, Name: r.Name, ExternalID: r.ExternalID, SCIM: r.SCIM, Members: members[r.ID], MemberIDs: ids[r.ID]}
	}
	return out, nil
}

// ProvisionSCIMGroup creates a group SCIM keeps, with the users of
// memberIDs as its members. A group of that name that sign-ins made (from
// ID-token claims) is taken over: its grants stay, its members become
// SCIM's. One SCIM already keeps is ErrConflict; an unknown user id is
// ErrInvalid. Nothing changes unless all of it does.
func (s *Store) ProvisionSCIMGroup(ctx context.Context, name, externalID string, memberIDs []int64) (Group, error) {
	if name == "" || len(name) > 255 {
		return Group{}, invalid("a group name of 1 to 255 bytes")
	}
	var out Group
	err := s.write(ctx, func(t *tx) error {
		g, err := getGroup(ctx, t, "name = ?", name)
		switch {
		case errors.Is(err, ErrNotFound):
			if _, err := t.ExecContext(ctx, t.q("INSERT INTO groups (name, external_id, scim) VALUES (?, ?, ?)"), name, externalID, true); err != nil {
				return classify(err)
			}
		case err != nil:
			return err
		case g.SCIM:
			return fmt.Errorf("%w: group %q", ErrConflict, name)
		default:
			if _, err := t.ExecContext(ctx, t.q("UPDATE groups SET external_id = ?, scim = ? WHERE id = ?"), externalID, true, g.ID); err != nil {
				return err
			}
		}
		if g, err = getGroup(ctx, t, "name = ?", name); err != nil {
			return err
		}
		if err := t.changeMembers(ctx, g, MemberChange{Replace: true, Add: memberIDs}); err != nil {
			return err
		}
		out, err = getGroup(ctx, t, "id = ?", g.ID)
		return err
	})
	return out, err
}

// MemberChange changes a group's members by user id: Replace sets them to
// Add (Remove then unused), else Add are added and Remove removed.
type MemberChange struct {
	Replace     bool
	Add, Remove []int64
}

// GroupChange is what ChangeGroup changes; nil fields stay.
type GroupChange struct {
	Name       *string // a rename: grants and rules move with the group
	ExternalID *string
	Members    *MemberChange
}

// ChangeGroup changes a group in one transaction: nothing changes unless
// all of it does. A rename onto an existing group is ErrConflict, an
// unknown or deleted user id ErrInvalid. Every member whose groups changed
// is on the feed, so every replica decides with the new groups at once.
func (s *Store) ChangeGroup(ctx context.Context, id int64, c GroupChange) (Group, error) {
	var out Group
	err := s.write(ctx, func(t *tx) error {
		g, err := getGroup(ctx, t, "id = ?", id)
		if err != nil {
			return err
		}
		if c.Name != nil && *c.Name != g.Name {
			if err := t.renameGroup(ctx, g, *c.Name); err != nil {
				return err
			}
		}
		if c.ExternalID != nil && *c.ExternalID != g.ExternalID {
			if _, err := t.ExecContext(ctx, t.q("UPDATE groups SET external_id = ? WHERE id = ?"), *c.ExternalID, id); err != nil {
				return err
			}
		}
		if c.Members != nil {
			if g, err = getGroup(ctx, t, "id = ?", id); err != nil {
				return err
			}
			if err := t.changeMembers(ctx, g, *c.Members); err != nil {
				return err
			}
		}
		out, err = getGroup(ctx, t, "id = ?", id)
		return err
	})
	return out, err
}

// changeMembers applies c to g's members: who joins must be an account
// SCIM may see (User.SCIMVisible); anyone may leave (an account made a
// service account since included).
func (t *tx) changeMembers(ctx context.Context, g Group, c MemberChange) error {
	names := func(list []int64, joining bool) (map[string]bool, error) {
		out := map[string]bool{}
		for _, uid := range list {
			var row struct {
				Name     string         `db:"username"`
				State    string         `db:"scim"`
				Service  bool           `db:"is_service_account"`
				Password sql.NullString `db:"password_hash"`
				Origin   string         `db:"origin"`
			}
			err := t.GetContext(ctx, &row, t.q("SELECT username, scim, is_service_account, password_hash, origin FROM users WHERE id = ?"), uid)
			if errors.Is(err, sql.ErrNoRows) || err == nil && joining &&
				!(User{ServiceAccount: row.Service, SCIM: SCIMState(row.State), PasswordHash: row.Password.String, Origin: row.Origin}).SCIMVisible() {
				return nil, invalid("members: no user has the id %d", uid)
			}
			if err != nil {
				return nil, err
			}
			out[row.Name] = true
		}
		return out, nil
	}
	add, err := names(c.Add, true)
	if err != nil {
		return err
	}
	remove, err := names(c.Remove, false)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	if !c.Replace {
		for _, m := range g.Members {
			want[m] = !remove[m]
		}
	}
	for m := range add {
		want[m] = true
	}
	return t.setMembers(ctx, g, want)
}

// setMembers makes want (username → member) the members of g, and puts
// every user whose groups changed on the feed.
func (t *tx) setMembers(ctx context.Context, g Group, want map[string]bool) error {
	var changed []string
	for _, m := range g.Members {
		if !want[m] {
			if _, err := t.ExecContext(ctx, t.q("DELETE FROM memberships WHERE group_id = ? AND user_id = (SELECT id FROM users WHERE username = ?)"), g.ID, m); err != nil {
				return err
			}
			changed = append(changed, m)
		}
	}
	for m, in := range want {
		if in && !slices.Contains(g.Members, m) {
			if _, err := t.ExecContext(ctx, t.q("INSERT INTO memberships (user_id, group_id) SELECT id, ? FROM users WHERE username = ?"), g.ID, m); err != nil {
				return err
			}
			changed = append(changed, m)
		}
	}
	slices.Sort(changed)
	for _, m := range changed {
		u, err := getUser(ctx, t, m)
		if err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: u.permissionUser()})
	}
	return nil
}

// SCIMToken is the record of a token a SCIM client presents. The secret
// is never stored: Hash is its SHA-256.
type SCIMToken struct {
	ID         int64     `db:"id"`
	Name       string    `db:"name"`
	Hash       []byte    `db:"secret_hash"`
	Prefix     string    `db:"prefix"`
	CreatedBy  string    `db:"created_by"`
	CreatedAt  time.Time `db:"created_at"`
	LastUsedAt time.Time `db:"-"`
	RevokedAt  time.Time `db:"-"`
}

type scimTokenRow struct {
	SCIMToken
	LastUsed sql.NullTime `db:"last_used_at"`
	Revoked  sql.NullTime `db:"revoked_at"`
}

func (r scimTokenRow) token() SCIMToken {
	t := r.SCIMToken
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = t.CreatedAt.UTC(), r.LastUsed.Time.UTC(), r.Revoked.Time.UTC()
	return t
}

const scimTokenSelect = "SELECT id, name, secret_hash, prefix, created_by, created_at, last_used_at, revoked_at FROM scim_tokens "

// CreateSCIMToken stores a SCIM token record. A live token of that name,
// or the same hash, is ErrConflict.
func (s *Store) CreateSCIMToken(ctx context.Context, t SCIMToken) (SCIMToken, error) {
	if len(t.Hash) != sha256.Size {
		return SCIMToken{}, invalid("a token hash must be SHA-256 (32 bytes)")
	}
	if t.Name == "" {
		return SCIMToken{}, invalid("a SCIM token needs a name")
	}
	var out SCIMToken
	err := s.write(ctx, func(tx *tx) error {
		var id int64
		if err := tx.QueryRowxContext(ctx, tx.q("INSERT INTO scim_tokens (name, secret_hash, prefix, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id"),
			t.Name, t.Hash, t.Prefix, t.CreatedBy, now()).Scan(&id); err != nil {
			if err := classify(err); errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w: a live SCIM token named %q", ErrConflict, t.Name)
			}
			return err
		}
		var r scimTokenRow
		if err := tx.GetContext(ctx, &r, tx.q(scimTokenSelect+"WHERE id = ?"), id); err != nil {
			return err
		}
		out = r.token()
		return nil
	})
	return out, err
}

// SCIMTokenByHash returns the live SCIM token whose secret hashes to
// hash, and records its use (at most once a minute).
func (s *Store) SCIMTokenByHash(ctx context.Context, hash []byte) (SCIMToken, error) {
	var r scimTokenRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(scimTokenSelect+"WHERE secret_hash = ? AND revoked_at IS NULL"), hash)
	if errors.Is(err, sql.ErrNoRows) {
		return SCIMToken{}, fmt.Errorf("%w: SCIM token", ErrNotFound)
	}
	if err != nil {
		return SCIMToken{}, err
	}
	at := now()
	if r.LastUsed.Time.Before(at.Add(-time.Minute)) {
		_, _ = s.db.ExecContext(ctx, s.db.Rebind("UPDATE scim_tokens SET last_used_at = ? WHERE id = ?"), at, r.ID)
	}
	return r.token(), nil
}

// ListSCIMTokens returns every SCIM token record, newest first.
func (s *Store) ListSCIMTokens(ctx context.Context) ([]SCIMToken, error) {
	var rows []scimTokenRow
	if err := s.db.SelectContext(ctx, &rows, scimTokenSelect+"ORDER BY created_at DESC, id DESC"); err != nil {
		return nil, err
	}
	out := make([]SCIMToken, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// RevokeSCIMToken revokes a SCIM token: it stops working at once, on
// every replica (each request looks it up).
func (s *Store) RevokeSCIMToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE scim_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"), now(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: live SCIM token %d", ErrNotFound, id)
	}
	return nil
}

// HasSCIMTokens reports whether a live SCIM token exists.
func (s *Store) HasSCIMTokens(ctx context.Context) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, "SELECT COUNT(*) FROM scim_tokens WHERE revoked_at IS NULL")
	return n > 0, err
}

// renameGroup renames g and moves the grants and rules made to it to the
// new name: what the identity provider calls the group changed, not who
// may do what.
func (t *tx) renameGroup(ctx context.Context, g Group, name string) error {
	if name == "" || len(name) > 255 {
		return invalid("a group name of 1 to 255 bytes")
	}
	if _, err := getGroup(ctx, t, "name = ?", name); err == nil {
		return fmt.Errorf("%w: group %q", ErrConflict, name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if _, err := t.ExecContext(ctx, t.q("UPDATE groups SET name = ? WHERE id = ?"), name, g.ID); err != nil {
		return classify(err)
	}
	if err := t.movePrincipal(ctx, permission.ForGroup(g.Name), name); err != nil {
		return err
	}
	for _, m := range g.Members {
		u, err := getUser(ctx, t, m)
		if err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: u.permissionUser()})
	}
	return nil
}
