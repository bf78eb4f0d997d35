package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mlflowauth/mlflowauth/permission"
)

// Where an account came from.
const (
	OriginLocal          = ""
	OriginMLflowBasic    = "mlflow-basic-auth" // imported from MLflow's basic-auth database
	OriginMLflowOIDCAuth = "mlflow-oidc-auth"  // imported from mlflow-oidc-auth: adopted by SSO by username
)

// User is an account.
type User struct {
	ID             int64
	Username       string // lower-cased
	DisplayName    string
	Admin          bool
	ServiceAccount bool
	Deactivated    bool   // the zero value is an active user
	PasswordHash   string // empty: no password
	Origin         string
	Groups         []string // stored memberships, sorted
	// ExternalID is the identity provider's id for the user (SCIM's
	// externalId); SCIM is whether SCIM provisions the account.
	ExternalID string
	SCIM       SCIMState
	// LastSSOAt is the last sign-in through the identity provider; zero
	// when the account never signed in that way.
	LastSSOAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SCIMState says whether SCIM provisions an account.
type SCIMState string

// The states of User.SCIM.
const (
	SCIMNone      SCIMState = ""          // never seen by SCIM
	SCIMLinked    SCIMState = "linked"    // created or matched by SCIM
	SCIMSuspended SCIMState = "suspended" // deactivated by SCIM ("active": false): SCIM may reactivate it
	SCIMDeleted   SCIMState = "deleted"   // deleted by SCIM, kept deactivated with its grants
	// SCIMDeletedHeld: deleted by SCIM while an administrator had it
	// deactivated; provisioned again, it stays deactivated.
	SCIMDeletedHeld SCIMState = "deleted-held"
)

// Deleted reports whether SCIM deleted the account (it is hidden from
// SCIM until SCIM creates it again).
func (s SCIMState) Deleted() bool { return s == SCIMDeleted || s == SCIMDeletedHeld }

func (u User) permissionUser() *permission.User {
	return &permission.User{Name: u.Username, Admin: u.Admin, Active: !u.Deactivated, Groups: slices.Clone(u.Groups)}
}

// normalizeUsername lower-cases as auth.NormalizeUsername does; the store
// keeps its own copy of the rule rather than importing auth.
func normalizeUsername(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		return "", invalid("empty username")
	}
	if len(n) > 255 {
		return "", invalid("username longer than 255 bytes")
	}
	return n, nil
}

type userRow struct {
	ID             int64          `db:"id"`
	Username       string         `db:"username"`
	DisplayName    string         `db:"display_name"`
	Admin          bool           `db:"is_admin"`
	ServiceAccount bool           `db:"is_service_account"`
	Active         bool           `db:"active"`
	PasswordHash   sql.NullString `db:"password_hash"`
	Origin         string         `db:"origin"`
	ExternalID     string         `db:"external_id"`
	SCIM           string         `db:"scim"`
	LastSSOAt      sql.NullTime   `db:"last_sso_at"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

func (r userRow) user() User {
	return User{
		ID: r.ID, Username: r.Username, DisplayName: r.DisplayName, Admin: r.Admin,
		ServiceAccount: r.ServiceAccount, Deactivated: !r.Active, PasswordHash: r.PasswordHash.String,
		Origin: r.Origin, ExternalID: r.ExternalID, SCIM: SCIMState(r.SCIM), LastSSOAt: r.LastSSOAt.Time.UTC(),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

const userColumns = "id, username, display_name, is_admin, is_service_account, active, password_hash, origin, external_id, scim, last_sso_at, created_at, updated_at"

type querier interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	Rebind(query string) string
}

func getUser(ctx context.Context, q querier, username string) (User, error) {
	var r userRow
	if err := q.GetContext(ctx, &r, q.Rebind("SELECT "+userColumns+" FROM users WHERE username = ?"), username); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, fmt.Errorf("%w: user %q", ErrNotFound, username)
		}
		return User{}, err
	}
	u := r.user()
	if err := q.SelectContext(ctx, &u.Groups, q.Rebind(
		"SELECT g.name FROM memberships m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name"), u.ID); err != nil {
		return User{}, err
	}
	return u, nil
}

// CreateUser adds a user. The username is lower-cased; an existing one is
// ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	name, err := normalizeUsername(u.Username)
	if err != nil {
		return User{}, err
	}
	var out User
	err = s.write(ctx, func(t *tx) error {
		if err := insertUser(ctx, t, name, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w: user %q", ErrConflict, name)
			}
			return err
		}
		if err := setGroups(ctx, t, name, u.Groups); err != nil {
			return err
		}
		if out, err = getUser(ctx, t, name); err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: out.permissionUser()})
		return nil
	})
	return out, err
}

// insertUser adds the row of a user named name (already normalized) with
// u's other fields; no password hash is NULL. Errors are classified.
func insertUser(ctx context.Context, t *tx, name string, u User) error {
	ts := now()
	var hash any
	if u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	var lastSSO any
	if !u.LastSSOAt.IsZero() {
		lastSSO = u.LastSSOAt.UTC()
	}
	_, err := t.ExecContext(ctx, t.q(`INSERT INTO users (username, display_name, is_admin, is_service_account, active, password_hash, origin, external_id, scim, last_sso_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), name, u.DisplayName, u.Admin, u.ServiceAccount, !u.Deactivated, hash, u.Origin, u.ExternalID, string(u.SCIM), lastSSO, ts, ts)
	return classify(err)
}

// insertIdentity binds (issuer, subject) to the user with id userID.
func insertIdentity(ctx context.Context, t *tx, issuer, subject string, userID int64) error {
	_, err := t.ExecContext(ctx, t.q("INSERT INTO identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)"), issuer, subject, userID, now())
	return classify(err)
}

// GetUser returns a user by username (compared lower-cased).
func (s *Store) GetUser(ctx context.Context, username string) (User, error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return User{}, err
	}
	return getUser(ctx, s.db, name)
}

// ListUsers returns every user, by username.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, "SELECT "+userColumns+" FROM users ORDER BY username"); err != nil {
		return nil, err
	}
	groups, err := s.memberships(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
		out[i].Groups = groups[r.ID]
	}
	return out, nil
}

func (s *Store) memberships(ctx context.Context) (map[int64][]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT m.user_id, g.name FROM memberships m JOIN groups g ON g.id = m.group_id ORDER BY g.name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var g string
		if err := rows.Scan(&id, &g); err != nil {
			return nil, err
		}
		out[id] = append(out[id], g)
	}
	return out, rows.Err()
}

// UserChange lists what UpdateUser changes; nil fields stay.
type UserChange struct {
	DisplayName    *string
	Admin          *bool
	ServiceAccount *bool
	Active         *bool
	PasswordHash   *string // "" removes the password
	Origin         *string
	ExternalID     *string
	SCIM           *SCIMState
	// Username renames the account: its grants and rules move with it,
	// its tokens and identity-provider binding stay, its browser sessions
	// end (they carry the old name). A taken name is ErrConflict.
	Username *string
}

// UpdateUser changes a user.
func (s *Store) UpdateUser(ctx context.Context, username string, c UserChange) (User, error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return User{}, err
	}
	var out User
	err = s.write(ctx, func(t *tx) error {
		before, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		if before.Admin && !before.Deactivated && ((c.Admin != nil && !*c.Admin) || (c.Active != nil && !*c.Active)) {
			if err := keepAnAdmin(ctx, t, before.ID); err != nil {
				return err
			}
		}
		if c.Username != nil {
			to, err := normalizeUsername(*c.Username)
			if err != nil {
				return err
			}
			if to != name {
				if err := t.renameUser(ctx, before, to); err != nil {
					return err
				}
				name = to
			}
		}
		sets, args := []string{"updated_at = ?"}, []any{now()}
		add := func(col string, v any) { sets = append(sets, col+" = ?"); args = append(args, v) }
		if c.DisplayName != nil {
			add("display_name", *c.DisplayName)
		}
		if c.Admin != nil {
			add("is_admin", *c.Admin)
		}
		if c.ServiceAccount != nil {
			add("is_service_account", *c.ServiceAccount)
		}
		if c.Active != nil {
			add("active", *c.Active)
			switch {
			case c.SCIM != nil:
			case before.SCIM == SCIMSuspended:
				// An administrator acted on what SCIM suspended: reactivated,
				// or deactivated it themselves (then SCIM cannot undo it).
				add("scim", string(SCIMLinked))
			case before.SCIM.Deleted() && *c.Active:
				// An administrator brought back what SCIM deleted: SCIM
				// sees the account again, so it can deprovision it again.
				add("scim", string(SCIMLinked))
			case before.SCIM == SCIMDeleted:
				// An administrator deactivated what SCIM deleted: SCIM,
				// creating the name again, may not undo that.
				add("scim", string(SCIMDeletedHeld))
			}
		}
		if c.PasswordHash != nil {
			if *c.PasswordHash == "" {
				add("password_hash", nil)
			} else {
				add("password_hash", *c.PasswordHash)
				if c.Origin == nil && before.Origin == OriginMLflowOIDCAuth {
					// A password set here is a password, not the access
					// token mlflow-oidc-auth kept in its place.
					add("origin", OriginLocal)
				}
			}
		}
		if c.Origin != nil {
			add("origin", *c.Origin)
		}
		if c.ExternalID != nil {
			add("external_id", *c.ExternalID)
		}
		if c.SCIM != nil {
			add("scim", string(*c.SCIM))
		}
		args = append(args, name)
		if _, err := t.ExecContext(ctx, t.q("UPDATE users SET "+strings.Join(sets, ", ")+" WHERE username = ?"), args...); err != nil {
			return err
		}
		if out, err = getUser(ctx, t, name); err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: out.permissionUser()})
		if c.Active != nil && !*c.Active {
			// A deactivated user's credentials stop working everywhere,
			// and their browser sessions end for good: reactivation does
			// not bring them back.
			if _, err := t.ExecContext(ctx, t.q("UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND user_id = ?"), now(), out.ID); err != nil {
				return err
			}
			t.emit(Event{Op: OpTokenRevoke, Username: name}, Event{Op: OpSessionRevoke, Username: name})
		}
		return nil
	})
	return out, err
}

// renameUser renames u to name (normalized) and moves the grants and
// rules made to it; its sessions, whose data names the old name, end.
func (t *tx) renameUser(ctx context.Context, u User, name string) error {
	if _, err := getUser(ctx, t, name); err == nil {
		return fmt.Errorf("%w: user %q", ErrConflict, name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	ts := now()
	if _, err := t.ExecContext(ctx, t.q("UPDATE users SET username = ?, updated_at = ? WHERE id = ?"), name, ts, u.ID); err != nil {
		return classify(err)
	}
	if _, err := t.ExecContext(ctx, t.q("UPDATE sessions SET revoked_at = ? WHERE revoked_at IS NULL AND user_id = ?"), ts, u.ID); err != nil {
		return err
	}
	t.emit(Event{Op: OpUserDelete, Username: u.Username}, Event{Op: OpSessionRevoke, Username: u.Username})
	return t.movePrincipal(ctx, permission.ForUser(u.Username), name)
}

// movePrincipal moves the grants and rules made to p to the principal of
// the same kind named name, with their events.
func (t *tx) movePrincipal(ctx context.Context, p permission.Principal, name string) error {
	kind := p.Kind.String()
	grants, err := selectGrants(ctx, t, "WHERE principal_kind = ? AND principal = ?", kind, p.Name)
	if err != nil {
		return err
	}
	rules, err := selectRules(ctx, t, "WHERE principal_kind = ? AND principal = ?", kind, p.Name)
	if err != nil {
		return err
	}
	for _, table := range []string{"grants", "rules"} {
		if _, err := t.ExecContext(ctx, t.q("UPDATE "+table+" SET principal = ? WHERE principal_kind = ? AND principal = ?"), name, kind, p.Name); err != nil {
			return classify(err)
		}
	}
	to := permission.Principal{Kind: p.Kind, Name: name}
	for _, g := range grants {
		res, old := g.Resource, g.Principal
		t.emit(Event{Op: OpGrantDelete, Resource: &res, Principal: &old})
		g.Principal = to
		t.emit(Event{Op: OpGrantPut, Grant: &g})
	}
	for _, r := range rules {
		r.Principal = to
		t.emit(Event{Op: OpRulePut, Rule: &r})
	}
	return nil
}

// DeleteUser removes a user with their identities, memberships, tokens and
// sessions, and the grants and rules made to them.
func (s *Store) DeleteUser(ctx context.Context, username string) error {
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
		if err := deletePrincipal(ctx, t, permission.ForUser(name)); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, t.q("DELETE FROM users WHERE username = ?"), name); err != nil {
			return err
		}
		t.emit(Event{Op: OpUserDelete, Username: name},
			Event{Op: OpTokenRevoke, Username: name}, Event{Op: OpSessionRevoke, Username: name})
		return nil
	})
}

// keepAnAdmin is ErrLastAdmin unless an active administrator other than
// the user with id leaving remains. On PostgreSQL the administrators' rows
// are locked first, so two replicas demoting the last two at once cannot
// both pass (SQLite serialises writers anyway).
func keepAnAdmin(ctx context.Context, t *tx, leaving int64) error {
	if t.s.dialect == postgresDialect {
		if _, err := t.ExecContext(ctx, "SELECT id FROM users WHERE is_admin AND active FOR UPDATE"); err != nil {
			return err
		}
	}
	var others int
	if err := t.GetContext(ctx, &others, t.q("SELECT COUNT(*) FROM users WHERE is_admin = ? AND active = ? AND id <> ?"), true, true, leaving); err != nil {
		return err
	}
	if others == 0 {
		return ErrLastAdmin
	}
	return nil
}

// deletePrincipal removes the grants and rules made to p, with events.
func deletePrincipal(ctx context.Context, t *tx, p permission.Principal) error {
	grants, err := selectGrants(ctx, t, "WHERE principal_kind = ? AND principal = ?", p.Kind.String(), p.Name)
	if err != nil {
		return err
	}
	for _, g := range grants {
		res, pr := g.Resource, g.Principal
		t.emit(Event{Op: OpGrantDelete, Resource: &res, Principal: &pr})
	}
	var ids []int64
	if err := t.SelectContext(ctx, &ids, t.q("SELECT id FROM rules WHERE principal_kind = ? AND principal = ?"), p.Kind.String(), p.Name); err != nil {
		return err
	}
	for _, id := range ids {
		t.emit(Event{Op: OpRuleDelete, ID: id})
	}
	if _, err := t.ExecContext(ctx, t.q("DELETE FROM grants WHERE principal_kind = ? AND principal = ?"), p.Kind.String(), p.Name); err != nil {
		return err
	}
	_, err = t.ExecContext(ctx, t.q("DELETE FROM rules WHERE principal_kind = ? AND principal = ?"), p.Kind.String(), p.Name)
	return err
}

// BindIdentity binds the identity provider's account (issuer, subject) to a
// user. Binding an identity already bound to another user is ErrConflict.
func (s *Store) BindIdentity(ctx context.Context, issuer, subject, username string) error {
	name, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	if issuer == "" || subject == "" {
		return invalid("an identity needs an issuer and a subject")
	}
	return s.write(ctx, func(t *tx) error {
		u, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		var owner int64
		err = t.GetContext(ctx, &owner, t.q("SELECT user_id FROM identities WHERE issuer = ? AND subject = ?"), issuer, subject)
		switch {
		case err == nil && owner == u.ID:
			return nil
		case err == nil:
			return fmt.Errorf("%w: identity %s/%s is bound to another user", ErrConflict, issuer, subject)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return insertIdentity(ctx, t, issuer, subject, u.ID)
	})
}

// UserByIdentity returns the user bound to (issuer, subject).
func (s *Store) UserByIdentity(ctx context.Context, issuer, subject string) (User, error) {
	var name string
	err := s.db.GetContext(ctx, &name, s.db.Rebind(
		"SELECT u.username FROM identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = ? AND i.subject = ?"), issuer, subject)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: identity %s/%s", ErrNotFound, issuer, subject)
	}
	if err != nil {
		return User{}, err
	}
	return getUser(ctx, s.db, name)
}

// HasIdentity reports whether any identity is bound to the user.
func (s *Store) HasIdentity(ctx context.Context, username string) (bool, error) {
	var n int
	err := s.db.GetContext(ctx, &n, s.db.Rebind(
		"SELECT COUNT(*) FROM identities i JOIN users u ON u.id = i.user_id WHERE u.username = ?"), strings.ToLower(username))
	return n > 0, err
}

// SetUserGroups replaces a user's stored memberships, creating groups as
// needed (what a sign-in syncs from the identity provider). Memberships of
// groups SCIM keeps are left as SCIM set them.
func (s *Store) SetUserGroups(ctx context.Context, username string, groups []string) error {
	name, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	return s.write(ctx, func(t *tx) error {
		before, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		if err := setGroups(ctx, t, name, groups); err != nil {
			return err
		}
		after, err := getUser(ctx, t, name)
		if err != nil {
			return err
		}
		if !slices.Equal(before.Groups, after.Groups) {
			t.emit(Event{Op: OpUserPut, User: after.permissionUser()})
		}
		return nil
	})
}

func setGroups(ctx context.Context, t *tx, username string, groups []string) error {
	clean := make([]string, 0, len(groups))
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if len(g) > 255 {
			return invalid("group name longer than 255 bytes")
		}
		clean = append(clean, g)
	}
	slices.Sort(clean)
	clean = slices.Compact(clean)
	// Groups SCIM keeps are SCIM's alone: a sign-in neither adds nor
	// removes their members.
	if _, err := t.ExecContext(ctx, t.q(`DELETE FROM memberships WHERE user_id = (SELECT id FROM users WHERE username = ?)
		AND group_id IN (SELECT id FROM groups WHERE NOT scim)`), username); err != nil {
		return err
	}
	for _, g := range clean {
		if _, err := t.ExecContext(ctx, t.q("INSERT INTO groups (name) VALUES (?) ON CONFLICT (name) DO NOTHING"), g); err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, t.q(`INSERT INTO memberships (user_id, group_id)
			SELECT u.id, g.id FROM users u, groups g WHERE u.username = ? AND g.name = ? AND NOT g.scim`), username, g); err != nil {
			return err
		}
	}
	return nil
}

// ListGroups returns every group name, sorted.
func (s *Store) ListGroups(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.SelectContext(ctx, &out, "SELECT name FROM groups ORDER BY name")
	return out, err
}

// GroupMembers returns the usernames in a group, sorted.
func (s *Store) GroupMembers(ctx context.Context, group string) ([]string, error) {
	var out []string
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(
		"SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id WHERE g.name = ? ORDER BY u.username"), group)
	return out, err
}

// DeleteGroup removes a group, its memberships, and the grants and rules
// made to it.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	return s.write(ctx, func(t *tx) error {
		var members []string
		if err := t.SelectContext(ctx, &members, t.q(
			"SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id WHERE g.name = ?"), group); err != nil {
			return err
		}
		if err := deletePrincipal(ctx, t, permission.ForGroup(group)); err != nil {
			return err
		}
		res, err := t.ExecContext(ctx, t.q("DELETE FROM groups WHERE name = ?"), group)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 && len(t.events) == 0 {
			return fmt.Errorf("%w: group %q", ErrNotFound, group)
		}
		for _, m := range members {
			u, err := getUser(ctx, t, m)
			if err != nil {
				return err
			}
			t.emit(Event{Op: OpUserPut, User: u.permissionUser()})
		}
		return nil
	})
}

// AccountStatus reports whether a user exists and is active. With
// UsernameByIdentity and ProvisionUser it satisfies jwtauth.Accounts.
func (s *Store) AccountStatus(ctx context.Context, username string) (exists, active bool, err error) {
	name, err := normalizeUsername(username)
	if err != nil {
		return false, false, err
	}
	err = s.db.GetContext(ctx, &active, s.db.Rebind("SELECT active FROM users WHERE username = ?"), name)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return err == nil, active, err
}

// UsernameByIdentity returns the username bound to (issuer, subject), or
// "" when none is.
func (s *Store) UsernameByIdentity(ctx context.Context, issuer, subject string) (string, error) {
	var name string
	err := s.db.GetContext(ctx, &name, s.db.Rebind(
		"SELECT u.username FROM identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = ? AND i.subject = ?"), issuer, subject)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, err
}

// ProvisionUser creates a user on their first bearer-token use, unless the
// user exists (then nothing changes: an existing account's admin flag is
// the store's). The identity provider's token passed the sign-in gate, so
// it counts as the account's last SSO sign-in (SSO_REVALIDATE_DAYS).
func (s *Store) ProvisionUser(ctx context.Context, username, displayName string, admin bool) error {
	_, err := s.CreateUser(ctx, User{Username: username, DisplayName: displayName, Admin: admin, LastSSOAt: now()})
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// SCIMVisible reports whether SCIM may see and change the account. Service
// accounts, accounts SCIM deleted, and accounts SCIM never saw that have a
// password of their own (the bootstrap administrator, MLflow basic-auth's
// users: the identity provider does not know them) are not SCIM's. An
// account SCIM created or linked stays SCIM's even if it gets a password
// later, so its deprovisioning cannot go quietly unanswered.
func (u User) SCIMVisible() bool {
	return !u.ServiceAccount && !u.SCIM.Deleted() && (u.SCIM != SCIMNone || !u.HasPassword())
}

// HasPassword reports whether the account has a password of its own: an
// access token mlflow-oidc-auth kept as a password hash is none.
func (u User) HasPassword() bool { return u.PasswordHash != "" && u.Origin != OriginMLflowOIDCAuth }

// RevalidateBy is when the account's tokens and sessions stop working
// unless it signs in through the identity provider again, given
// SSO_REVALIDATE_DAYS: zero when days is 0 or the rule does not apply.
// It applies to accounts that sign in through the identity provider;
// service accounts and accounts with a password are not affected.
func (u User) RevalidateBy(days int) time.Time {
	from := u.LastSSOAt
	if from.IsZero() && u.Origin == OriginMLflowOIDCAuth {
		// mlflow-oidc-auth's people signed in through the identity
		// provider before the import: their clock starts with it.
		from = u.CreatedAt
	}
	if days <= 0 || from.IsZero() || u.ServiceAccount || u.HasPassword() {
		return time.Time{}
	}
	return from.AddDate(0, 0, days)
}

// Lapsed reports whether the account's tokens and sessions have stopped
// at t under SSO_REVALIDATE_DAYS (see RevalidateBy).
func (u User) Lapsed(days int, t time.Time) bool {
	by := u.RevalidateBy(days)
	return !by.IsZero() && !t.Before(by)
}
