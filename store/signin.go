package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrDeactivated: the account exists and is deactivated.
var ErrDeactivated = errors.New("store: account deactivated")

// SignInSSO records a single sign-on, in one transaction, and returns the
// account's username. The account is the one bound to (issuer, subject);
// failing that, the account named username is adopted only when nothing is
// bound to it and it has no password or came from an mlflow-oidc-auth
// import (which matched users by name too), else ErrConflict; failing
// that, a new account. Its display name and stored groups follow the
// identity provider, and so does its admin flag, both ways, except that
// the last active administrator is never demoted (the demotion is skipped
// and logged); memberships of groups SCIM keeps stay SCIM's. The time is
// recorded as the account's last SSO sign-in (SSO_REVALIDATE_DAYS). A
// deactivated account is ErrDeactivated.
func (s *Store) SignInSSO(ctx context.Context, issuer, subject, username, displayName string, groups []string, admin bool) (string, error) {
	if issuer == "" || subject == "" {
		return "", invalid("a sign-in needs an issuer and a subject")
	}
	var out string
	err := s.write(ctx, func(t *tx) error {
		var bound string
		err := t.GetContext(ctx, &bound, t.q("SELECT u.username FROM identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = ? AND i.subject = ?"), issuer, subject)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			name, err := normalizeUsername(username)
			if err != nil {
				return err
			}
			u, err := getUser(ctx, t, name)
			switch {
			case errors.Is(err, ErrNotFound):
				if err := insertUser(ctx, t, name, User{DisplayName: displayName, Admin: admin}); err != nil {
					return err
				}
			case err != nil:
				return err
			default:
				var n int
				if err := t.GetContext(ctx, &n, t.q("SELECT COUNT(*) FROM identities WHERE user_id = ?"), u.ID); err != nil {
					return err
				}
				if n > 0 || (u.PasswordHash != "" && u.Origin != OriginMLflowOIDCAuth) {
					return fmt.Errorf("%w: an account named %q exists and is not this sign-in's; an administrator can bind it", ErrConflict, name)
				}
			}
			u, err = getUser(ctx, t, name)
			if err != nil {
				return err
			}
			if err := insertIdentity(ctx, t, issuer, subject, u.ID); err != nil {
				return err
			}
			out = name
		case err != nil:
			return err
		default:
			out = bound
		}
		u, err := getUser(ctx, t, out)
		if err != nil {
			return err
		}
		if u.Deactivated {
			return fmt.Errorf("%w: %s", ErrDeactivated, out)
		}
		if u.Admin && !admin {
			switch err := keepAnAdmin(ctx, t, u.ID); {
			case errors.Is(err, ErrLastAdmin):
				s.log.WarnContext(ctx, "store: the last active administrator left the admin group; kept as administrator", "user", out)
				admin = true
			case err != nil:
				return err
			}
		}
		if displayName == "" {
			displayName = u.DisplayName
		}
		ts := now()
		if _, err := t.ExecContext(ctx, t.q("UPDATE users SET display_name = ?, is_admin = ?, last_sso_at = ?, updated_at = ? WHERE id = ?"), displayName, admin, ts, ts, u.ID); err != nil {
			return err
		}
		if err := setGroups(ctx, t, out, groups); err != nil {
			return err
		}
		after, err := getUser(ctx, t, out)
		if err != nil {
			return err
		}
		t.emit(Event{Op: OpUserPut, User: after.permissionUser()})
		return nil
	})
	return out, err
}

// RestoreAdmin makes username an active administrator: the way back in
// when no administrator can sign in (the admin group renamed at the
// identity provider, the last admin deactivated). It is for an operator's
// command line, never for a request.
func (s *Store) RestoreAdmin(ctx context.Context, username string) error {
	yes := true
	_, err := s.UpdateUser(ctx, username, UserChange{Admin: &yes, Active: &yes})
	return err
}
